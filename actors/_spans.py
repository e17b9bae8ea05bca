"""``LeanTracer``: the SDK's span pipeline without the SDK's per-span machinery.

The OpenTelemetry SDK's ``Tracer.start_span`` builds a ``_Span`` with a lock,
bounded attribute, event and link containers, and validates every attribute
value; at ``end()`` it copies the span into a ``ReadableSpan`` for the
processors. That is most of what a recorded span costs (about 20 µs of the
27 µs this machine spends per span with a batch processor; bench/NOTES.md).
For a tracer provider that is the SDK's own, ``lean_tracer`` returns a
tracer making ``LeanSpan``s instead: the provider's sampler, id generator,
resource, instrumentation scope and span processors decide and receive
exactly as they do for the SDK's spans (``on_start`` with the span, its
``on_end`` with a ``ReadableSpan`` -- the span itself), so the exporters see
the same data. What it leaves out: span limits (our spans carry a handful of
attributes), the SDK's opt-in self-metrics, and the validation of values
other than str, bool, int, float and sequences of them (others are dropped,
as the SDK drops them after a warning). Any other provider (the API's
no-op, a vendor's) gets its own tracer: ``provider.get_tracer``.

None of this blocks; nothing raises for a bad attribute (it is dropped).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context, trace
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags
from opentelemetry.util.types import AttributeValue

try:  # the SDK is the otel extra: without it every provider is somebody else's
    from opentelemetry.sdk.trace import (
        Event,
        ReadableSpan,
        Tracer as SdkTracer,
        TracerProvider as SdkTracerProvider,
    )
except ImportError:  # pragma: no cover -- the test suite installs the extra
    SdkTracerProvider = None
    ReadableSpan = object
    SdkTracer = Event = None

_PRIMITIVE = (str, bool, int, float)
_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def _clean(value: object) -> AttributeValue | None:
    """``value`` as an attribute value, or None to drop it."""
    if isinstance(value, _PRIMITIVE):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        if all(isinstance(v, _PRIMITIVE) for v in items):
            return tuple(items)
    return None


def _cleaned(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    found: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if type(value) in _PRIMITIVE:
            found[key] = value  # type: ignore[assignment]  # checked just above
        else:
            clean = _clean(value)
            if clean is not None:
                found[key] = clean
    return found


class LeanSpan(trace.Span, ReadableSpan):  # type: ignore[misc]  # ReadableSpan is object without the SDK
    """A recording span that is its own ``ReadableSpan`` once ended."""

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        links: Sequence[Link],
        start_time: int,
    ) -> None:
        # ReadableSpan's fields, set directly (its __init__ would build a Resource).
        self._name = name
        self._context = context
        self._kind = kind
        self._instrumentation_info = None
        self._instrumentation_scope = tracer.scope
        self._parent = parent
        self._start_time = start_time
        self._end_time: int | None = None
        self._attributes = attributes
        self._events: list[Any] = []
        self._links = tuple(links)
        self._resource = tracer.resource
        self._status = _UNSET
        self._processor = tracer.processor

    def get_span_context(self) -> SpanContext:
        return self._context

    def fields(self) -> tuple[Any, ...]:
        """What an encoder reads, without the properties' copies: context, parent,
        name, kind, start and end time, attributes, events, links, status."""
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
            self._status,
        )

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is None:
            self._attributes.update(_cleaned(attributes))

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
        if self._end_time is None and Event is not None:
            self._events.append(
                Event(name, _cleaned(attributes or {}), timestamp or time.time_ns())
            )

    def add_link(
        self, context: SpanContext, attributes: Mapping[str, Any] | None = None
    ) -> None:
        if self._end_time is None and context.is_valid:
            self._links += (Link(context, _cleaned(attributes or {})),)

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
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time.time_ns()
        ending = getattr(self._processor, "_on_ending", None)
        if ending is not None:
            ending(self)
        self._processor.on_end(self)


class LeanTracer(trace.Tracer):
    """``start_span`` as the SDK's tracer does it, making ``LeanSpan``s."""

    def __init__(self, sdk: Any) -> None:
        self._sdk = sdk
        self.sampler = sdk.sampler
        self.resource = sdk.resource
        self.processor = sdk.span_processor
        self.ids = sdk.id_generator
        self.scope = sdk._instrumentation_scope  # pyright: ignore[reportPrivateUsage]
        self.random_ids: bool = self.ids.is_trace_id_random()
        self.fast = _fast_sampler(self.sampler)

    def start_span(
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if not self._sdk._is_enabled():  # pyright: ignore[reportPrivateUsage]
            return trace.NonRecordingSpan(parent)
        links = links or ()
        if parent.is_valid:
            trace_id, random_ids = parent.trace_id, parent.trace_flags.random_trace_id
        else:
            parent = None
            trace_id, random_ids = self.ids.generate_trace_id(), self.random_ids
        fast = self.fast
        if fast is None:
            found = self.sampler.should_sample(
                context, trace_id, name, kind, attributes, links
            )
            sampled, recording = (
                found.decision.is_sampled(),
                found.decision.is_recording(),
            )
            state, extra = found.trace_state, found.attributes
        else:  # ALWAYS_ON, or ParentBased(ALWAYS_ON): decided as they decide
            sampled = recording = (
                fast == "on" or parent is None or parent.trace_flags.sampled
            )
            state = parent.trace_state if parent is not None else None
            extra = attributes if sampled else None
        flags = _SAMPLED if sampled else _NOT_SAMPLED
        if random_ids:
            flags = TraceFlags(flags | TraceFlags.RANDOM_TRACE_ID)
        span_context = SpanContext(
            trace_id,
            self.ids.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=state,
        )
        if not recording:
            return trace.NonRecordingSpan(span_context)
        kept = _cleaned(extra) if extra else {}
        span = LeanSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            kept,
            links,
            start_time if start_time is not None else time.time_ns(),
        )
        self.processor.on_start(span, parent_context=context)
        return span

    @contextmanager
    def start_as_current_span(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        name: str,
        context: otel_context.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Generator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


def _fast_sampler(sampler: Any) -> str | None:
    """ "on" for the SDK's ``ALWAYS_ON``, "parent" for ``ParentBased(ALWAYS_ON)``
    with its default delegates, else None: the sampler is called per span."""
    try:
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
    except ImportError:  # pragma: no cover -- the test suite installs the extra
        return None
    if sampler is ALWAYS_ON:
        return "on"
    delegates = (
        "_root",
        "_remote_parent_sampled",
        "_local_parent_sampled",
        "_remote_parent_not_sampled",
        "_local_parent_not_sampled",
    )
    if type(sampler) is not ParentBased:
        return None
    wanted = (ALWAYS_ON,) * 3 + (ALWAYS_OFF,) * 2
    if all(
        getattr(sampler, f, None) is w for f, w in zip(delegates, wanted, strict=True)
    ):
        return "parent"
    return None


def lean_tracer(
    provider: trace.TracerProvider, name: str, version: str
) -> trace.Tracer:
    """A ``LeanTracer`` over the SDK's tracer for ``provider``, else ``provider.get_tracer``."""
    tracer = provider.get_tracer(name, version)
    if SdkTracerProvider is None or type(provider) is not SdkTracerProvider:
        return tracer
    if type(tracer) is not SdkTracer or not all(
        hasattr(tracer, field)
        for field in (
            "sampler",
            "resource",
            "span_processor",
            "id_generator",
            "_instrumentation_scope",
            "_is_enabled",
        )
    ):
        return tracer  # an SDK this module was not written against
    return LeanTracer(tracer)
