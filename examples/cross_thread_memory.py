"""Cross-thread memory: the seed walkthrough on the actor runtime.

User 1 tells thread 1 "Hi! Remember: my name is Bob"; on thread 2 the same
user asks "what is my name?" and the answer comes from the memory stored by
thread 1; user 2 on thread 3 has no memory. Then the stored memories are
listed.

Runs on Redis (the embedded one, or REDIS_URL) by default, ``--memory`` for
in-process stores. Uses Claude when ANTHROPIC_API_KEY is set, OpenAI
embeddings when OPENAI_API_KEY is set, and an offline scripted model and
HashingEmbeddings otherwise. With ACTORGRAPH_REDIS_DATA_DIR set (``make demo``
sets it), a second run finds the threads and memories of the first.

    python examples/cross_thread_memory.py [--memory]
"""

from __future__ import annotations

import argparse
import os
import re
import uuid
from collections.abc import Sequence
from typing import Any

import anyio

from runtime import (
    AIMessage,
    BaseMessage,
    Runtime,
    SystemMessage,
    add_messages,
    entrypoint,
    task,
)
from stores import BaseStore, HashingEmbeddings, InMemoryStore, MemorySaver

EMBED_DIMS = 256


class ScriptedChatModel:
    """An offline stand-in for a chat model: answers from the memories in its system prompt."""

    name = "scripted offline model"

    async def ainvoke(self, messages: Sequence[BaseMessage]) -> AIMessage:
        system = next((m.text for m in messages if isinstance(m, SystemMessage)), "")
        question = messages[-1].text
        known = re.search(r"User name is (\w+)", system)
        told = re.search(r"my name is (\w+)", question, re.IGNORECASE)
        if told:
            reply = f"Nice to meet you, {told.group(1)}! I'll remember that."
        elif "name" in question.lower():
            reply = (
                f"Your name is {known.group(1)}."
                if known
                else "I don't know your name yet."
            )
        else:
            reply = "Tell me something about yourself."
        return AIMessage(content=reply)


def choose_model() -> Any:
    if os.environ.get("ANTHROPIC_API_KEY"):
        from runtime.models import ChatAnthropic

        model = ChatAnthropic(
            model=os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")
        )
        model.name = f"Claude ({model.model})"  # type: ignore[attr-defined]
        return model
    return ScriptedChatModel()


def choose_embeddings() -> tuple[Any, str]:
    if os.environ.get("OPENAI_API_KEY"):
        from stores import OpenAIEmbeddings

        return OpenAIEmbeddings(dimensions=EMBED_DIMS), "OpenAI text-embedding-3-small"
    return HashingEmbeddings(dims=EMBED_DIMS), "HashingEmbeddings (offline)"


def build(checkpointer: Any, store: BaseStore, model: Any) -> Any:
    @task
    async def call_model(
        messages: list[BaseMessage], memory_store: BaseStore, user_id: str
    ) -> AIMessage:
        namespace = ("memories", user_id)
        last = messages[-1].text
        memories = await memory_store.asearch(namespace, query=last, limit=5)
        info = "\n".join(m.value["data"] for m in memories)
        system = SystemMessage(
            content=f"You are a helpful assistant talking to the user. User info: {info}"
        )
        if "remember" in last.lower():
            name = re.search(r"my name is (\w+)", last, re.IGNORECASE)
            memory = f"User name is {name.group(1)}" if name else last
            key = str(
                uuid.uuid5(uuid.NAMESPACE_URL, memory)
            )  # the same memory twice is one item
            await memory_store.aput(namespace, key, {"data": memory})
        return await model.ainvoke([system, *messages])

    @entrypoint(checkpointer=checkpointer, store=store, name="workflow")
    async def workflow(inputs: Any, *, previous: Any = None, config: Any) -> Any:
        messages = add_messages(previous or [], inputs)
        response = await call_model(
            messages, config["store"], config["configurable"]["user_id"]
        )
        return entrypoint.final(value=response, save=add_messages(messages, response))

    return workflow


async def converse(workflow: Any, thread_id: str, user_id: str, text: str) -> None:
    config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
    before = await workflow.aget_state(config)
    earlier = 2 * before.metadata.get(
        "version", 0
    )  # one user and one assistant message per run
    print(
        f"\n--- {thread_id} (user {user_id}){f', {earlier} earlier messages' if earlier else ''}"
    )
    print(f"user: {text}")
    response = await workflow.ainvoke([{"role": "user", "content": text}], config)
    print(f"assistant: {response.text}")


async def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    model = choose_model()
    embed, embed_name = choose_embeddings()
    index = {"dims": EMBED_DIMS, "embed": embed, "fields": ["data"]}
    if args.memory:
        checkpointer, store, where = (
            MemorySaver(),
            InMemoryStore(index=index),
            "in-process memory",
        )
    else:
        from stores import RedisSaver, RedisStore

        checkpointer, store = RedisSaver(), RedisStore(index=index)
        where = "Redis at " + (os.environ.get("REDIS_URL") or "the embedded server")
    print(
        f"chat model: {getattr(model, 'name', type(model).__name__)}; embeddings: {embed_name}; storage: {where}"
    )
    async with checkpointer, store, Runtime():
        workflow = build(checkpointer, store, model)
        await converse(workflow, "thread-1", "1", "Hi! Remember: my name is Bob")
        await converse(workflow, "thread-2", "1", "what is my name?")
        await converse(workflow, "thread-3", "2", "what is my name?")
        print("\n--- memories")
        for user_id in ("1", "2"):
            items = await store.asearch(("memories", user_id))
            shown = ", ".join(repr(i.value["data"]) for i in items) or "(none)"
            print(f"user {user_id}: {shown}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="use MemorySaver and InMemoryStore instead of Redis",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main)
