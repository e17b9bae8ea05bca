"""The service's conversation workflow: the walkthrough's graph with a real chat-model adapter.

One entrypoint run per user message: the thread's earlier messages arrive as
``previous`` (from the checkpointer). Two tasks run in parallel: ``recall``
searches the user's memories under ``("memories", user_id)`` in the store
(semantic search, so any thread of the same user finds them) and
``memorize`` stores a new one when the user says "remember". Then
``call_model`` asks the chat model, with the memories in the system prompt.
Each task's result is checkpointed as it finishes. The reply is returned
and the conversation, with the reply appended, is saved for the next run.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from runtime import (
    AIMessage,
    BaseMessage,
    SystemMessage,
    add_messages,
    entrypoint,
    get_store,
    task,
)
from runtime.models import ChatAnthropic, ChatModel, ChatOpenAI
from stores import BaseStore, CheckpointSaver

from . import scripted_llm


def memory_namespace(user_id: str) -> tuple[str, str]:
    """Where a user's memories live: every thread of the user searches here."""
    return ("memories", user_id)


def build(checkpointer: CheckpointSaver, store: BaseStore, model: ChatModel) -> Any:
    """The entrypoint, bound to ``checkpointer``, ``store`` and ``model``.

    Call it with ``[{"role": "user", "content": text}]`` and a config naming
    ``thread_id`` and ``user_id``; it returns the reply (an AIMessage).
    """

    @task
    async def recall(user_id: str, query: str) -> list[str]:
        found = await get_store().asearch(
            memory_namespace(user_id), query=query, limit=5
        )
        return [m.value["data"] for m in found]

    @task
    async def memorize(user_id: str, text: str) -> str | None:
        if "remember" not in text.lower():
            return None
        name = re.search(r"my name is (\w+)", text, re.IGNORECASE)
        memory = f"User name is {name.group(1)}" if name else text
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, memory))  # told twice: one item
        await get_store().aput(memory_namespace(user_id), key, {"data": memory})
        return memory

    @task
    async def call_model(messages: list[BaseMessage], memories: list[str]) -> AIMessage:
        info = "\n".join(memories)
        system = SystemMessage(
            content=f"You are a helpful assistant talking to the user. User info: {info}"
        )
        return await model.ainvoke([system, *messages])

    @entrypoint(checkpointer=checkpointer, store=store, name="conversation")
    async def conversation(inputs: Any, *, previous: Any = None, config: Any) -> Any:
        messages = add_messages(previous or [], inputs)
        user_id, last = config["configurable"]["user_id"], messages[-1].text
        found, stored = recall(user_id, last), memorize(user_id, last)  # in parallel
        memories = await found
        await stored
        reply = await call_model(messages, memories)
        return entrypoint.final(value=reply, save=add_messages(messages, reply))

    return conversation


@asynccontextmanager
async def chat_model() -> AsyncIterator[tuple[ChatModel, str]]:
    """The chat model and a name for it, for as long as the block runs.

    ANTHROPIC_API_KEY: Claude (ANTHROPIC_MODEL); OPENAI_API_KEY or
    OPENAI_BASE_URL: an OpenAI-compatible server (OPENAI_MODEL); otherwise
    the offline scripted model, served on a free loopback port for the
    block. Closes the model's connections on exit.
    """
    if os.environ.get("ANTHROPIC_API_KEY"):
        claude = ChatAnthropic(
            model=os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")
        )
        async with _closing(claude):
            yield claude, f"Claude ({claude.model})"
        return
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        gpt = ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
        async with _closing(gpt):
            yield gpt, f"OpenAI-compatible ({gpt.model})"
        return
    async with scripted_llm.serving() as url:
        scripted = ChatOpenAI(model=scripted_llm.MODEL, base_url=url, api_key="offline")
        async with _closing(scripted):
            yield scripted, f"scripted offline model at {url}"


@asynccontextmanager
async def _closing(model: ChatAnthropic | ChatOpenAI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await model.aclose()
