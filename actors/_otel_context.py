"""The OpenTelemetry context, read and set without the API's layers (tracing on).

``opentelemetry.context.attach(trace.set_span_in_context(span))`` goes
through four Python calls (``set_span_in_context``, ``set_value``,
``attach``, the runtime context's ``attach``) to set one ``ContextVar``.
With the API's default runtime context (``ContextVarsRuntimeContext``,
which ``OTEL_PYTHON_CONTEXT`` can replace) these helpers read and set that
variable directly; with another they call the API. Same values either way:
a ``Context`` whose span key holds the span.

- ``current()``: the current ``Context``;
- ``attach(context)`` -> token, ``detach(token)``: make it current, undo
  (in the same task, as every caller here does; a mismatched token raises
  ValueError from the variable, where the API would log it);
- ``with_span(span, context)``: ``context`` (or the current one) with
  ``span`` as its span, as ``trace.set_span_in_context`` makes it;
- ``span_in(context)``: the span a context holds, or None.

None of them blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, cast

from opentelemetry import context as otel_context
from opentelemetry.context.context import Context
from opentelemetry.trace import Span
from opentelemetry.trace.propagation import (
    _SPAN_KEY as SPAN_KEY,  # pyright: ignore[reportPrivateUsage]
)

__all__ = ["SPAN_KEY", "attach", "current", "detach", "span_in", "with_span"]

_runtime: Any = otel_context._RUNTIME_CONTEXT  # pyright: ignore[reportPrivateUsage]
_var: ContextVar[Context] | None = (
    _runtime._current_context
    if type(_runtime).__name__ == "ContextVarsRuntimeContext"
    and isinstance(getattr(_runtime, "_current_context", None), ContextVar)
    else None
)

_set = cast(
    "Callable[[dict[str, object], str, object], None]",
    dict.__setitem__,  # pyright: ignore[reportUnknownMemberType]
)
current: Callable[[], Context]
attach: Callable[[Context], Token[Context]]
detach: Callable[[Token[Context]], None]
if _var is not None:
    current, attach, detach = _var.get, _var.set, _var.reset
else:  # pragma: no cover -- another runtime context (OTEL_PYTHON_CONTEXT)
    current = otel_context.get_current
    attach, detach = otel_context.attach, otel_context.detach


def with_span(span: Span, context: Context | None = None) -> Context:
    """``context`` (None: the current one) with ``span`` as its current span."""
    found = Context(current() if context is None else context)
    _set(found, SPAN_KEY, span)  # (a Context refuses item assignment: it is new here)
    return found


def span_in(context: Context) -> Span | None:
    """The span ``context`` holds, None if it holds none (or something else)."""
    found = context.get(SPAN_KEY)
    return found if isinstance(found, Span) else None
