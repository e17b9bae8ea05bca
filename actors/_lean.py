"""``LeanSpan`` and ``LeanTracer``: the SDK's span pipeline without its per-span machinery.

The OpenTelemetry SDK's ``Tracer.start_span`` builds a ``_Span`` with a lock,
bounded attribute, event and link containers, and validates every attribute
value; at ``end()`` it copies the span into a ``ReadableSpan`` for the
processors (bench/NOTES.md, "Tracing"). For a tracer provider that is the
SDK's own, ``actors._spans.lean_tracer`` returns a ``LeanTracer`` making
``LeanSpan``s instead: the provider's sampler, id generator, resource,
instrumentation scope and span processors decide and receive exactly as
they do for the SDK's spans (``on_start`` with the span, ``on_end`` with a
``ReadableSpan``: the span itself), so exporters see the same data. Left
out: span limits (our spans carry a handful of attributes), the SDK's
opt-in self-metrics, and values other than str, bool, int, float and
sequences of them (dropped, as the SDK drops them after a warning).

The per-span path is short when it can be (``LeanTracer.start``):

- the sampler is the SDK's ``ALWAYS_ON`` or ``ParentBased(ALWAYS_ON)`` (the
  default): decided here as they decide, without ``should_sample``;
- the id generator is the SDK's ``RandomIdGenerator``: ids are
  ``random.getrandbits``, as it makes them;
- the span context is built as ``SpanContext`` builds it, less its checks;
- the provider's processors are unrolled once per processor set: a
  processor whose ``on_start``/``_on_ending`` is the SDK's no-op is not
  called, and a ``BatchSpanProcessor`` gets a sampled span straight into its
  queue (``emit``, what its ``on_end`` calls after checking the flag).

This module imports the SDK; ``actors._spans`` imports it only for an SDK
provider. None of this blocks; nothing raises for a bad attribute.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanProcessor,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceFlags
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from ._lean_tracer import LeanTracer

_PRIMITIVE = (str, bool, int, float)
_UNSET = Status(StatusCode.UNSET)
_FLAGS = {  # (sampled, random trace id) -> the span's flags
    (s, r): TraceFlags((TraceFlags.SAMPLED if s else 0) | (TraceFlags.RANDOM_TRACE_ID if r else 0))
    for s in (False, True)
    for r in (False, True)
}  # fmt: skip
_new_context: Callable[..., SpanContext] = tuple.__new__  # type: ignore[assignment]
_NOOP_STARTS = {SpanProcessor.on_start, BatchSpanProcessor.on_start, SimpleSpanProcessor.on_start}  # fmt: skip
_NOOP_ENDINGS = {
    SpanProcessor._on_ending,  # pyright: ignore[reportPrivateUsage]
    BatchSpanProcessor._on_ending,  # pyright: ignore[reportPrivateUsage]
    SimpleSpanProcessor._on_ending,  # pyright: ignore[reportPrivateUsage]
}


def _layout_holds() -> bool:
    """True if ``SpanContext`` is the tuple this module indexes (else: the slow path)."""
    found = SpanContext(1, 2, False, _FLAGS[True, True], DEFAULT_TRACE_STATE)
    return isinstance(found, tuple) and tuple(found) == (  # pyright: ignore[reportUnnecessaryIsInstance]
        1, 2, False, _FLAGS[True, True], DEFAULT_TRACE_STATE, True,
    )  # fmt: skip


_TUPLE_CONTEXT = _layout_holds()


def _clean(value: object) -> AttributeValue | None:
    """``value`` as an attribute value, or None to drop it."""
    if isinstance(value, _PRIMITIVE):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        if all(isinstance(v, _PRIMITIVE) for v in items):
            return tuple(items)
    return None


def cleaned(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    """The valid attribute values of ``attributes``, sequences as tuples."""
    found: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if type(value) in _PRIMITIVE:
            found[key] = value  # type: ignore[assignment]  # checked just above
        else:
            clean = _clean(value)
            if clean is not None:
                found[key] = clean
    return found


class LeanSpan(trace.Span, ReadableSpan):
    """A recording span that is its own ``ReadableSpan`` once ended."""

    _instrumentation_info = None
    _end_time: int | None = None
    _events: Sequence[Any] = ()
    _links: Sequence[Link] = ()
    _status = _UNSET
    otlp_in_place = True  # runtime/_otlp_native.c reads otlp_fields() from __dict__

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        start_time: int,
    ) -> None:
        # ReadableSpan's fields, set directly (its __init__ would build a Resource).
        self._name = name
        self._context = context
        self._kind = kind
        self._parent = parent
        self._start_time = start_time
        self._attributes = attributes
        self._tracer = tracer
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.scope

    def get_span_context(self) -> SpanContext:
        return self._context

    def otlp_fields(self) -> tuple[Any, ...]:
        """What an encoder reads, without the properties' copies: context, parent,
        name, kind, start and end time, attributes, events, links, the status
        (None if never set: unset), the resource and the instrumentation scope."""
        return (
            self._context,
            self._parent,
            self._name,
            self._kind,
            self._start_time,
            self._end_time,
            self._attributes,
            self._events,
            self._links,
            self.__dict__.get("_status"),
            self._resource,
            self._instrumentation_scope,
        )

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is None:
            found = self._attributes
            for key, value in attributes.items():
                if type(value) in _PRIMITIVE:
                    found[key] = value
                elif (clean := _clean(value)) is not None:
                    found[key] = clean

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time is None:
            clean = value if type(value) in _PRIMITIVE else _clean(value)
            if clean is not None:
                self._attributes[key] = clean

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
    ) -> None:
        if self._end_time is None:
            event = Event(name, cleaned(attributes or {}), timestamp or time.time_ns())
            self._events = [*self._events, event]

    def add_link(
        self, context: SpanContext, attributes: Mapping[str, Any] | None = None
    ) -> None:
        if self._end_time is None and context.is_valid:
            self._links = (*self._links, Link(context, cleaned(attributes or {})))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(
        self, status: Status | StatusCode, description: str | None = None
    ) -> None:
        if self._end_time is not None:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if self._status.status_code is StatusCode.OK:
            return  # final, as in the SDK
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        cls = type(exception)
        module = cls.__module__
        event: dict[str, Any] = {
            "exception.type": (
                f"{module}.{cls.__qualname__}"
                if module and module != "builtins"
                else cls.__qualname__
            ),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        self.add_event("exception", {**event, **(attributes or {})}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is None:
            self._end_time = time.time_ns() if end_time is None else end_time
            self._tracer.ended(self)
