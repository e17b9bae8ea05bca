"""Blocking twins of async methods: one helper, never a second body.

A sync call made from an anyio worker thread (a sync ``@task`` or a sync
entrypoint run by the runtime) hops back to the event loop that started the
thread; a sync call from plain sync code with no loop runs its own
``anyio.run``. A sync call from inside a running event loop would deadlock,
so it fails with a clear error instead.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anyio
import anyio.from_thread
import sniffio

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

P = ParamSpec("P")
T = TypeVar("T")


def run_sync(
    fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run the coroutine function ``fn`` to completion from synchronous code.

    Blocks the calling thread. Raises RuntimeError when called on an event
    loop thread (use the ``a``-prefixed async method there).
    """
    call = functools.partial(fn, *args, **kwargs)
    try:
        return anyio.from_thread.run(call)
    except anyio.NoEventLoopError:
        pass
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return anyio.run(call)
    raise RuntimeError(
        f"{getattr(fn, '__qualname__', fn)!s} was called synchronously inside a running "
        "event loop; await its async twin (the 'a'-prefixed method) instead"
    )


def run_sync_in_loop(
    fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Like ``run_sync``, but on an event loop thread run ``fn`` on a loop of its own.

    Only for objects that hold nothing bound to a loop (``InMemoryStore``):
    the calling loop is blocked until ``fn`` finishes, as a sync call in a
    coroutine blocks it in LangGraph.
    """
    try:
        sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return run_sync(fn, *args, **kwargs)
    call = functools.partial(fn, *args, **kwargs)
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, anyio.run(call)))
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller below
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name="actorgraph-sync-in-loop")
    worker.start()
    worker.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
