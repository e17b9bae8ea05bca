"""Our OTLP/protobuf encoding is the SDK's, message for message; the exporter posts it.

Every test runs with the C encoder for lean spans (``runtime/_otlp_native``)
and with the Python one alone."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as sdk_encode,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

import runtime
from actors._spans import lean_tracer
from runtime._tracing_otlp import encode_spans
from tests.otel_support import OtlpReceiver


@pytest.fixture(params=["native", "python"], autouse=True)
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which encoder writes lean spans: the C one, or Python's alone."""
    import runtime._tracing_otlp as otlp

    assert otlp._native is not None, "runtime/_otlp_native was not built"
    if request.param == "python":
        monkeypatch.setattr(otlp, "_native", None)
    return request.param


def _spans() -> tuple[ReadableSpan, ...]:
    """SDK spans and lean spans of every field kind, two resources, two scopes."""
    exporter = InMemorySpanExporter()
    for resource in (Resource.create({"service.name": "a", "n": 3}), Resource({})):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        remote = SpanContext(7, 9, is_remote=True, trace_flags=TraceFlags(1))
        for tracer in (
            provider.get_tracer("sdk", "1.0"),
            lean_tracer(provider, "actorgraph", "0.1"),
        ):
            attributes = {"s": "é", "b": False, "i": -5, "f": 1.5, "z": 0, "e": ""}
            with tracer.start_as_current_span(
                "run",
                set_span_in_context(NonRecordingSpan(remote)),
                attributes={**attributes, "l": [1, 2], "t": ("x", "y")},
            ) as root:
                span = tracer.start_span(
                    "child",
                    kind=SpanKind.CLIENT,
                    links=[Link(root.get_span_context(), {"k": "v"}), Link(remote)],
                )
                span.add_event("retry", {"n": 1 << 40})
                span.set_status(Status(StatusCode.ERROR, "boom"))
                try:
                    raise ValueError("bad")
                except ValueError as exc:
                    span.record_exception(exc)
                span.end()
                tracer.start_span("ok").end()
    return exporter.get_finished_spans()


def test_our_encoding_decodes_to_the_sdks_message() -> None:
    spans = _spans()
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode(spans)
    assert len(ours.resource_spans) == 2
    assert [len(r.scope_spans) for r in ours.resource_spans] == [2, 2]


def test_repeated_long_and_lookalike_values_decode_to_the_sdks_message() -> None:
    """Values met again (from the encoder's caches), values too long for the short
    form, spans over 127 bytes, ``True`` and ``1`` and ``"1"`` under one key."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = lean_tracer(provider, "actorgraph", "0.1")
    values: list[object] = [True, 1, "1", False, 0, "", "x" * 200, 1 << 62, -1,
                            ("a", "b"), (1, 0), (True, False), 1.0, 0.0]  # fmt: skip
    for round_ in range(3):
        for i, value in enumerate(values):
            with tracer.start_as_current_span(f"s{i % 3}") as root:
                root.set_attributes(
                    {"v": value, "k": f"n{i}", "pad": "p" * (40 * round_)}
                )
                tracer.start_span("child", attributes={"v": value}).end()
    spans = exporter.get_finished_spans()
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode(spans)
    assert len(ours.resource_spans[0].scope_spans[0].spans) == 2 * 3 * len(values)


def test_lean_spans_read_by_name_when_span_contexts_are_not_tuples(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The path an SDK whose ``SpanContext`` has another layout would take."""
    import runtime._tracing_otlp as otlp

    monkeypatch.setattr(otlp, "_TUPLE", False)
    spans = _spans()
    assert ExportTraceServiceRequest.FromString(encode_spans(spans)) == sdk_encode(
        spans
    )


def test_an_empty_batch_is_an_empty_request() -> None:
    assert encode_spans([]) == b""


def test_the_exporter_posts_our_encoding() -> None:
    spans = _spans()
    with OtlpReceiver() as collector:
        exporter = runtime.OtlpSpanExporter(endpoint=f"{collector.url}/v1/traces")
        assert exporter.export(spans).name == "SUCCESS"
        exporter.shutdown()
    [(path, _, body)] = collector.received
    assert path == "/v1/traces"
    assert ExportTraceServiceRequest.FromString(body) == sdk_encode(spans)
