"""The workload on LangGraph's functional API (``--compare langgraph``).

Redis: ``AsyncRedisSaver`` + ``AsyncRedisStore`` from langgraph-checkpoint-redis,
sharing one ``redis.asyncio.BlockingConnectionPool`` (its default handling
runs out of connections at ~40 concurrent conversations), with redisvl pinned
to 0.27.2 (0.28 breaks its store: "SearchIndex requires a sync Redis client").
Memory: LangGraph's ``InMemorySaver`` + ``InMemoryStore``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.config import get_store
from langgraph.func import entrypoint, task
from langgraph.graph.message import add_messages

from bench.workload import PROBE, Side, memory_key

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_core.runnables import RunnableConfig
    from langgraph.store.base import BaseStore

    from bench.workload import FakeModel, HashEmbedder, Spec


def _pairs(messages: list[BaseMessage]) -> list[tuple[str, str]]:
    return [(m.type, str(m.content)) for m in messages]


def build(checkpointer: Any, store: BaseStore, model: FakeModel) -> Any:
    """The seed's cross-thread memory workflow, as LangGraph users write it."""

    @task
    async def call_model(messages: list[BaseMessage], user_id: str) -> AIMessage:
        memory_store = get_store()
        namespace = ("memories", user_id)
        last = str(messages[-1].content)
        found = await memory_store.asearch(namespace, query=last, limit=10)
        if "remember" in last.lower():
            await memory_store.aput(namespace, memory_key(last), {"data": last})
        reply = await model.areply(_pairs(messages), [m.value["data"] for m in found])
        return AIMessage(content=reply)

    @entrypoint(checkpointer=checkpointer, store=store)
    async def chat(text: str, *, previous: Any = None, config: RunnableConfig) -> Any:
        # LangGraph injects ``config`` only when annotated exactly "RunnableConfig".
        history: list[BaseMessage] = previous or []
        if text == PROBE:
            return entrypoint.final(value=history, save=history)
        messages = add_messages(history, [HumanMessage(content=text)])
        response = await call_model(messages, config["configurable"]["user_id"])
        return entrypoint.final(value=response, save=add_messages(messages, [response]))

    return chat


def _index(spec: Spec, embedder: HashEmbedder) -> Any:
    # The bound async method: LangGraph then awaits it instead of using a thread.
    return {"dims": spec.dims, "embed": embedder.aembed_documents, "fields": ["data"]}


@asynccontextmanager
async def open_side(
    system: str,
    spec: Spec,
    model: FakeModel,
    embedder: HashEmbedder,
    *,
    redis_url: str | None,
    pool_size: int,
) -> AsyncGenerator[Side]:
    """Open ``langgraph`` (Redis) or ``langgraph-memory``; close everything on exit."""
    if system == "langgraph-memory":
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.store.memory import InMemoryStore

        store = InMemoryStore(index=_index(spec, embedder))
        yield Side(build(InMemorySaver(), store, model), store, _pairs)
        return
    if redis_url is None:
        raise ValueError("the langgraph system needs a Redis url")
    from langgraph.checkpoint.redis import AsyncRedisSaver
    from langgraph.store.redis import AsyncRedisStore
    from redis.asyncio import BlockingConnectionPool, Redis

    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=pool_size, timeout=None
    )
    client = Redis(connection_pool=pool)
    try:
        async with (
            AsyncRedisSaver(redis_client=client) as saver,
            AsyncRedisStore(redis_client=client, index=_index(spec, embedder)) as store,
        ):
            await saver.asetup()
            await store.setup()
            yield Side(build(saver, store, model), store, _pairs)
    finally:
        await client.aclose()
        await pool.disconnect()


def versions() -> dict[str, str]:
    """Installed versions of the packages that matter for the comparison."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for dist in ("langgraph", "langgraph-checkpoint-redis", "redisvl", "redis"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "-"
    return out
