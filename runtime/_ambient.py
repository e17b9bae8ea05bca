"""The Runtime of a call made outside any Runtime.

Such a call runs in a short-lived Runtime of its own. Two of them on the
same thread at once would be two actors racing to commit one checkpoint
(the later one fails with CheckpointConflictError), which is not what
"the same semantics as inside a Runtime" promises. So calls on one event
loop that name the same checkpointer and thread meet here:

- under "enqueue" (the default) they take turns: each waits, first come
  first served, until the previous one has left its Runtime, then runs in
  its own (it reloads the thread, so it sees the previous run's commit);
- under "reject", "interrupt" and "rollback" a call joins the Runtime of
  the call in progress, so the thread's one actor applies the strategy;
  that Runtime stays open until its joiners are answered.

Sync twins from plain threads all run on the process's shared loop, so
they meet here too. Calls without a checkpointer (nothing persists) or
without a valid thread id (an error, raised later) need no meeting.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, final

import anyio
import anyio.lowlevel

from ._context import current_host
from ._host import Runtime
from ._run_options import prepare_config

if TYPE_CHECKING:
    from actors import Strategy
    from stores import CheckpointSaver

_Key = tuple[object, int, str]


@final
class _Slot:
    """The calls outside a Runtime that are using or waiting for one thread."""

    __slots__ = ("host", "joiners", "left", "lock", "users")

    def __init__(self) -> None:
        self.lock = anyio.Lock()  # held by the call whose Runtime hosts the thread
        self.host: Runtime | None = None
        self.users = 0  # the holder and every waiter or joiner
        self.joiners = 0
        self.left = anyio.Event()  # set when the last joiner leaves


_SLOTS: dict[_Key, _Slot] = {}


@asynccontextmanager
async def call_host(
    checkpointer: CheckpointSaver | None, config: Mapping[str, Any] | None
) -> AsyncGenerator[Runtime]:
    """The Runtime to run a call on: the current one, else a short-lived one.

    Blocks, under "enqueue", while another call outside a Runtime on this
    loop runs on the same thread. Cancellation while waiting leaves the
    queue cleanly.
    """
    host = current_host()
    if host is not None:
        yield host
        return
    key, strategy = _meeting(checkpointer, config)
    if key is None:
        async with Runtime(serve_loop=False) as host:
            yield host
        return
    slot = _SLOTS.get(key)
    if slot is None:
        slot = _SLOTS[key] = _Slot()
    slot.users += 1
    try:
        holder = slot.host
        if holder is not None and strategy != "enqueue":
            async with _joined(slot):
                yield holder
            return
        async with slot.lock, Runtime(serve_loop=False) as host:
            slot.host = host
            try:
                yield host
            finally:
                while slot.joiners:  # they run on this Runtime's actor
                    await slot.left.wait()
                slot.host = None
    finally:
        slot.users -= 1
        if not slot.users:
            del _SLOTS[key]


@asynccontextmanager
async def _joined(slot: _Slot) -> AsyncGenerator[None]:
    if not slot.joiners:
        slot.left = anyio.Event()
    slot.joiners += 1
    try:
        yield
    finally:
        slot.joiners -= 1
        if not slot.joiners:
            slot.left.set()


def _meeting(
    checkpointer: CheckpointSaver | None, config: Mapping[str, Any] | None
) -> tuple[_Key | None, Strategy]:
    """Where calls on the thread of ``config`` meet (None: no need), and the call's strategy."""
    try:
        thread_id, strategy, _ = prepare_config("", checkpointer, None, config)
    except (TypeError, ValueError):
        return None, "enqueue"  # the call raises it, naming its entrypoint
    if checkpointer is None or thread_id is None:
        return None, strategy
    loop = anyio.lowlevel.current_token().native_token
    return (loop, id(checkpointer), thread_id), strategy
