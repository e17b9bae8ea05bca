"""``drive``: await a coroutine in place, step by step, with a hook at each yield.

Two things need a say at every point where a run's code yields to the event
loop, and both without a task of their own:

- a task awaited by the code that called it runs right there (see
  ``RunState._schedule``), yet must not share that code's context: a
  context variable it sets stays its own, as in a task of its own. With a
  ``ctx``, every step of the coroutine runs inside it;
- tasks that were called but not awaited start "as soon as the caller
  yields", and a record written behind is sent then. The ``hook`` (the
  run's state) is told before each yield, while the awaiting task is still
  the current one, so it may call anyio: this is a task step, never a bare
  loop callback (where sniffio cannot tell which library runs).

Whatever the coroutine waits on is passed up to the event loop unchanged,
and what comes back (a value or a cancellation) is passed down, so this
works on every backend alike.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from contextvars import Context
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class YieldHook(Protocol):
    """What ``drive`` tells before each yield: ``pending`` is a cheap flag."""

    pending: bool

    def before_yield(self) -> None:
        """Called in the awaiting task, before it yields, when ``pending`` is set."""
        ...


@types.coroutine
def drive(
    coro: Coroutine[Any, Any, T],
    ctx: Context | None = None,
    hook: YieldHook | None = None,
) -> Generator[Any, Any, T]:
    """Drive ``coro`` to its end (each step inside ``ctx``, if given); its result is the result."""
    send, throw = coro.send, coro.throw
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if ctx is None:
                waited = send(value) if error is None else throw(error)
            elif error is None:
                waited = ctx.run(send, value)
            else:
                waited = ctx.run(throw, error)
            error = None
        except StopIteration as stop:
            return stop.value
        if hook is not None and hook.pending:
            hook.before_yield()
        try:
            value = yield waited
        except GeneratorExit:
            if ctx is None:
                coro.close()
            else:
                ctx.run(coro.close)
            raise
        except BaseException as exc:  # noqa: BLE001 -- a cancellation or error for the coroutine
            value, error = None, exc
