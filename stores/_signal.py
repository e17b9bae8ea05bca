"""``new_signal()``: anyio.Event's contract, at a fifth of its cost on asyncio.

Every turn sets and waits several one-shot events (a reply, a task's result,
a mailbox wake-up, a group commit's reply). It lives in ``stores``, the
bottom layer, so the Redis group writer can use it too; ``actors``
re-exports it. On asyncio, ``anyio.Event`` wraps an ``asyncio.Event``
that wraps futures; a ``Signal`` is a flag and the waiters' futures. On any
other backend ``new_signal()`` returns an ``anyio.Event``.

One difference from ``anyio.Event``: waiting on a signal that is already set
returns at once, without a scheduling step.

``asyncio`` is not imported here: no asyncio loop runs before something
imported it, so until then every call finds none without asking it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

import anyio

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop, Future  # noqa: TID251 -- types only


def _first_running_loop() -> AbstractEventLoop:
    """``asyncio.get_running_loop``, once asyncio is imported (RuntimeError: no loop)."""
    global _running_loop
    if "asyncio" not in sys.modules:
        raise RuntimeError("no running event loop")
    from asyncio import get_running_loop  # noqa: TID251 -- the asyncio fast path

    _running_loop = get_running_loop
    return get_running_loop()


_running_loop: Callable[[], AbstractEventLoop] = _first_running_loop


class SignalLike(Protocol):
    """What ``new_signal()`` returns: ``set``, ``is_set`` and an awaitable ``wait``."""

    def set(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self) -> Awaitable[Any]: ...


class _Done:
    """An awaitable that is already complete (no coroutine object, no step)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


_DONE = _Done()


class Signal:
    """A one-shot event for asyncio: ``set()`` wakes every waiter, once."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[Future[None]] | None = None

    def is_set(self) -> bool:
        """True once ``set()`` was called."""
        return self._set

    def set(self) -> None:
        """Wake every waiter (later calls do nothing)."""
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for future in waiters or ():
            if not future.done():  # a cancelled waiter's future is done
                future.set_result(None)

    def wait(self) -> Awaitable[Any]:
        """An awaitable that completes once the signal is set (cancellable)."""
        if self._set:
            return _DONE
        future: Future[None] = _running_loop().create_future()
        if self._waiters is None:
            self._waiters = [future]
        else:
            self._waiters.append(future)
        return future


def new_signal() -> SignalLike:
    """A ``Signal`` under asyncio, an ``anyio.Event`` elsewhere."""
    try:
        _running_loop()
    except RuntimeError:  # trio (or no loop): anyio's own
        return anyio.Event()
    return Signal()
