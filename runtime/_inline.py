"""``run_in_context``: await a coroutine in place, in a context of its own.

A task awaited by the code that called it runs right there, without a task
of its own (see ``RunState._schedule``), yet must not share that code's
context: a context variable it sets stays its own, as in a task of its own.
Every step of the coroutine runs inside ``ctx``; whatever it waits on is
passed up to the event loop unchanged, and what comes back (a value or a
cancellation) is passed down.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from contextvars import Context
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def run_in_context(
    ctx: Context, coro: Coroutine[Any, Any, T]
) -> Generator[Any, Any, T]:
    """Drive ``coro`` to its end, each step inside ``ctx``; its result is the result."""
    send, throw = coro.send, coro.throw
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                waited = ctx.run(send, value)
            else:
                waited, error = ctx.run(throw, error), None
        except StopIteration as stop:
            return stop.value
        try:
            value = yield waited
        except GeneratorExit:
            ctx.run(coro.close)
            raise
        except BaseException as exc:  # noqa: BLE001 -- a cancellation or error for the coroutine
            value, error = None, exc
