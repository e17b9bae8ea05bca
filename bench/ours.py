"""The workload on our runtime, through the public API only (DESIGN.md).

``ours-redis``: ``RedisSaver`` + ``RedisStore`` (``url=None`` means REDIS_URL,
else the embedded Redis); ``ours-memory``: ``MemorySaver`` + ``InMemoryStore``.
Every turn runs inside one ``Runtime`` that hosts all the thread actors.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from bench.workload import PROBE, Side, memory_key
from runtime import (
    AIMessage,
    HumanMessage,
    Runtime,
    SystemMessage,
    add_messages,
    entrypoint,
    get_store,
    task,
)
from stores import InMemoryStore, MemorySaver

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from bench.workload import FakeModel, HashEmbedder, Spec


def _role(message: Any) -> str:
    if isinstance(message, HumanMessage):
        return "human"
    if isinstance(message, AIMessage):
        return "ai"
    return type(message).__name__


def pairs(messages: list[Any]) -> list[tuple[str, str]]:
    """(role, text) of each message, as the fake model reads a history."""
    return [(_role(m), str(m.content)) for m in messages]


def build(
    checkpointer: Any, store: Any, model: FakeModel, chat_model: Any = None
) -> Any:
    """The seed's cross-thread memory workflow, ported by changing the imports.

    With ``chat_model`` (``--tracing``), the model is called as a chat model:
    the memories in a system message, then the history.
    """

    async def reply_to(messages: list[Any], memories: list[str]) -> str:
        if chat_model is None:
            return await model.areply(pairs(messages), memories)
        prompt = [SystemMessage(content=json.dumps(memories)), *messages]
        return str((await chat_model.ainvoke(prompt)).content)

    @task
    async def call_model(messages: list[Any], user_id: str) -> Any:
        memory_store = get_store()
        namespace = ("memories", user_id)
        last = str(messages[-1].content)
        found = await memory_store.asearch(namespace, query=last, limit=10)
        if "remember" in last.lower():
            await memory_store.aput(namespace, memory_key(last), {"data": last})
        reply = await reply_to(messages, [m.value["data"] for m in found])
        return AIMessage(content=reply)

    @entrypoint(checkpointer=checkpointer, store=store)
    async def chat(text: str, *, previous: Any = None, config: Any = None) -> Any:
        history: list[Any] = previous or []
        if text == PROBE:
            return entrypoint.final(value=history, save=history)
        messages = add_messages(history, [HumanMessage(content=text)])
        response = await call_model(messages, config["configurable"]["user_id"])
        return entrypoint.final(value=response, save=add_messages(messages, [response]))

    return chat


@asynccontextmanager
async def open_side(
    system: str,
    spec: Spec,
    model: FakeModel,
    embedder: HashEmbedder,
    *,
    redis_url: str | None,
    pool_size: int,
    tune_gc: Any = "aligned",
    tracing: str | None = None,
) -> AsyncGenerator[Side]:
    """Open ``ours-redis`` or ``ours-memory`` inside a Runtime; close everything on exit.

    ``tracing`` is the ``--tracing`` mode (see bench/_tracing.py), or None.
    """
    del pool_size  # our Redis connection handling is the library's own business
    index = {"dims": spec.dims, "embed": embedder, "fields": ["data"]}
    async with AsyncExitStack() as stack:
        if system == "ours-memory":
            saver: Any = MemorySaver()
            store: Any = await stack.enter_async_context(InMemoryStore(index=index))
        else:
            from stores import RedisSaver, RedisStore

            saver = await stack.enter_async_context(RedisSaver(url=redis_url))
            store = await stack.enter_async_context(
                RedisStore(url=redis_url, index=index)
            )
        traced, option, chat_model = None, None, None
        if tracing is not None:  # (imported here: the SDK loads only for --tracing)
            from bench._tracing import BenchTracing, FakeChatModel

            traced = BenchTracing(tracing)
            option, chat_model = traced.option(), FakeChatModel(model)
        await stack.enter_async_context(Runtime(tune_gc=tune_gc, tracing=option))
        yield Side(build(saver, store, model, chat_model), store, pairs, traced)


def versions() -> dict[str, str]:
    """The project's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {"actorgraph": version("actorgraph")}
    except PackageNotFoundError:
        return {"actorgraph": "-"}
