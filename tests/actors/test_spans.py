"""LeanTracer: the SDK provider's sampler, ids and processors decide and receive."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from actors._lean import LeanSpan
from actors._lean_tracer import LeanTracer
from actors._spans import lean_tracer


class Started(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[Any] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span)

    def on_end(self, span: ReadableSpan) -> None:
        pass


def provider(**kwargs: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    found = TracerProvider(**kwargs)
    exporter = InMemorySpanExporter()
    found.add_span_processor(SimpleSpanProcessor(exporter))
    return found, exporter


def test_spans_reach_the_processors_as_the_sdk_would_export_them() -> None:
    tp, exporter = provider()
    started = Started()
    tp.add_span_processor(started)
    tracer = lean_tracer(tp, "t", "1")
    assert isinstance(tracer, LeanTracer)
    parent = tracer.start_span("parent", attributes={"a": 1, "bad": object()})
    child = tracer.start_span("child", trace.set_span_in_context(parent))
    child.set_attribute("tags", ["x", "y"])
    child.record_exception(ValueError("boom"))
    child.set_status(StatusCode.ERROR, "boom")
    child.end()
    parent.end()
    parent.set_attribute("late", 1)  # after end: ignored
    assert started.started == [parent, child]
    done, first = exporter.get_finished_spans()
    assert (done.name, first.name) == ("child", "parent")
    assert dict(first.attributes or {}) == {"a": 1}  # an invalid value is dropped
    assert done.attributes == {"tags": ("x", "y")}
    assert done.parent is not None and first.context is not None
    assert done.parent.span_id == first.context.span_id
    assert done.status.status_code is StatusCode.ERROR
    assert [e.name for e in done.events] == ["exception"]
    assert done.resource is tp.resource
    assert first.instrumentation_scope is not None
    assert first.instrumentation_scope.name == "t"
    assert not parent.is_recording()


def test_the_sampler_decides() -> None:
    tp, exporter = provider(sampler=ALWAYS_OFF)
    tracer = lean_tracer(tp, "t", "1")
    assert isinstance(tracer, LeanTracer)
    span = tracer.start_span("dropped")
    assert not isinstance(span, LeanSpan)
    assert not span.is_recording()
    assert span.get_span_context().is_valid
    span.end()
    assert exporter.get_finished_spans() == ()


def test_another_provider_keeps_its_own_tracer() -> None:
    class Vendor(TracerProvider):
        pass

    assert not isinstance(lean_tracer(Vendor(), "t", "1"), LeanTracer)
    noop = trace.NoOpTracerProvider()
    assert not isinstance(lean_tracer(noop, "t", "1"), LeanTracer)
