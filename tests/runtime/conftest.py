"""Fixtures for runtime tests: in-memory checkpointer and store, thread configs."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import pytest

from runtime import entrypoint, task
from stores import HashingEmbeddings, InMemoryStore, MemorySaver

_ids = itertools.count()


@pytest.fixture
def saver() -> MemorySaver:
    return MemorySaver()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore(index={"dims": 64, "embed": HashingEmbeddings(dims=64)})


def thread(name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A config for a fresh thread id (or the given one)."""
    thread_id = name if name is not None else f"t{next(_ids)}"
    return {"configurable": {"thread_id": thread_id}, **extra}


def blocking_workflow(
    saver: MemorySaver,
) -> tuple[Any, anyio.Event, anyio.Event, list[str]]:
    """An entrypoint whose "slow" input blocks until released; the tasks it ran."""
    started, release = anyio.Event(), anyio.Event()
    ran: list[str] = []

    @task
    async def step(x: str) -> str:
        ran.append(x)
        return x

    @entrypoint(checkpointer=saver)
    async def wf(x: str, *, previous: Any = None) -> Any:
        done = await step(x)
        if x == "slow":
            started.set()
            await release.wait()
        return [done, previous]

    return wf, started, release, ran
