"""The C encoder of lean spans is built, writes the Python encoder's bytes, and
leaves to it (its buffer untouched) each span it does not handle."""

from __future__ import annotations

import importlib.machinery

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as sdk_encode,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

import runtime._tracing_otlp as otlp
from actors._spans import lean_tracer


def _tracer() -> tuple[InMemorySpanExporter, object]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, lean_tracer(provider, "actorgraph", "0.1")


def _handled_spans() -> tuple[ReadableSpan, ...]:
    """Lean spans of every field the C encoder writes itself."""
    exporter, tracer = _tracer()
    remote = trace.SpanContext(1 << 127 | 5, (1 << 64) - 1, is_remote=True)
    values: list[object] = ["é", "", "x" * 300, True, False, 0, -1, (1 << 63) - 1,
                            -(1 << 63), 1.5, -0.0, (), ("a", "ü" * 200)]  # fmt: skip
    for kind in trace.SpanKind:
        for i, value in enumerate(values):
            with tracer.start_as_current_span(  # type: ignore[attr-defined]
                f"s{i}",
                trace.set_span_in_context(trace.NonRecordingSpan(remote))
                if i % 2
                else None,
                kind=kind,
                attributes={"v": value, "k" * (i * 20): f"n{i}"},
            ) as span:
                if i % 3 == 1:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, "boom" * i))
                elif i % 3 == 2:
                    span.set_status(trace.StatusCode.OK)
    return exporter.get_finished_spans()


def _written_natively(span: ReadableSpan) -> bytearray | None:
    assert otlp._native is not None
    buf = bytearray(b"head")
    fields = span.otlp_fields()  # type: ignore[attr-defined]
    if otlp._native.put_lean(buf, fields, otlp._KIND_ORDER):
        return buf
    assert buf == b"head"
    return None


def test_the_native_module_is_built_and_used() -> None:
    """CI must not run on the Python encoder alone without noticing."""
    import runtime._otlp_native as native

    assert native.__file__ is not None
    assert native.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    assert otlp._native is native


def test_native_bytes_are_the_python_encoders_and_the_sdks_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spans = _handled_spans()
    for span in spans:
        native = _written_natively(span)
        assert native is not None, span.name
        python = bytearray(b"head")
        otlp._put_lean(python, span, span.otlp_fields())  # type: ignore[attr-defined]
        assert native == python, span.name
    ours = otlp.encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(ours) == sdk_encode(spans)
    monkeypatch.setattr(otlp, "_native", None)
    assert otlp.encode_spans(spans) == ours


@pytest.mark.parametrize(
    "case",
    ["int_tuple", "big_int", "bytes_key", "event", "trace_state", "status_text"],
)
def test_a_span_the_native_code_does_not_handle_is_written_in_python(
    case: str,
) -> None:
    exporter, tracer = _tracer()
    parent = None
    if case == "trace_state":
        state = trace.TraceState([("k", "v")])
        parent = trace.set_span_in_context(
            trace.NonRecordingSpan(
                trace.SpanContext(3, 4, True, trace.TraceFlags(1), trace_state=state)
            )
        )
    span = tracer.start_span("s", parent)  # type: ignore[attr-defined]
    if case == "int_tuple":
        span.set_attribute("v", (1, 2))
    elif case == "big_int":
        span.set_attribute("v", 1 << 63)
    elif case == "bytes_key":
        span._attributes[b"k"] = "v"  # no public path sets a key that is not a str
    elif case == "event":
        span.add_event("e", {"n": 1})
    elif case == "status_text":
        span.set_status(trace.Status(trace.StatusCode.ERROR, "\ud800"))
    span.end()
    [finished] = exporter.get_finished_spans()
    assert _written_natively(finished) is None
    # The SDK's encoder refuses a key not a str and a lone surrogate, and drops
    # an int over int64 (the Python encoder writes its low 64 bits).
    if case not in ("bytes_key", "status_text", "big_int"):
        encoded = otlp.encode_spans([finished])
        assert ExportTraceServiceRequest.FromString(encoded) == sdk_encode([finished])


def test_bad_arguments_are_a_type_error() -> None:
    assert otlp._native is not None
    with pytest.raises(TypeError, match="bytearray"):
        otlp._native.put_lean(b"", (None,) * 10, otlp._KIND_ORDER)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of 10"):
        otlp._native.put_lean(bytearray(), (None,) * 3, otlp._KIND_ORDER)


def test_a_run_stops_at_a_span_of_another_scope_or_not_handled() -> None:
    assert otlp._native is not None
    exporter, tracer = _tracer()
    _, other = _tracer()
    tracer.start_span("a").end()  # type: ignore[attr-defined]
    tracer.start_span("b").end()  # type: ignore[attr-defined]
    with tracer.start_span("c") as span:  # type: ignore[attr-defined]
        span.add_event("e")
    tracer.start_span("d").end()  # type: ignore[attr-defined]
    other.start_span("e").end()  # type: ignore[attr-defined]
    spans = list(exporter.get_finished_spans())
    resource, scope = spans[0].otlp_fields()[10:12]  # type: ignore[attr-defined]
    buf, kinds = bytearray(), otlp._KIND_ORDER
    assert otlp._native.put_run(buf, spans, 0, resource, scope, kinds) == 2
    one = bytearray()
    assert otlp._native.put_lean(one, spans[0].otlp_fields(), kinds)  # type: ignore[attr-defined]
    assert otlp._native.put_lean(one, spans[1].otlp_fields(), kinds)  # type: ignore[attr-defined]
    assert buf == one
    assert otlp._native.put_run(bytearray(), spans, 3, resource, scope, kinds) == 4
    assert otlp._native.put_run(bytearray(), spans, 5, resource, scope, kinds) == 5
    assert (
        otlp._native.put_run(bytearray(), (*spans, 1), 5, resource, scope, kinds) == 5
    )
    assert ExportTraceServiceRequest.FromString(otlp.encode_spans(spans)) == sdk_encode(
        spans
    )


def test_a_run_reads_lean_spans_in_place_as_otlp_fields_would() -> None:
    """Given LeanSpan, put_run reads each span's dict (class defaults, an unset
    status) and writes what it writes from the spans' otlp_fields()."""
    from actors._lean import LeanSpan

    assert otlp._native is not None
    spans = list(_handled_spans())
    assert all(type(span) is LeanSpan for span in spans)
    resource, scope = spans[0].otlp_fields()[10:12]  # type: ignore[attr-defined]
    kinds = otlp._KIND_ORDER
    called, direct = bytearray(), bytearray()
    count = len(spans)
    assert otlp._native.put_run(called, spans, 0, resource, scope, kinds) == count
    assert (
        otlp._native.put_run(direct, spans, 0, resource, scope, kinds, LeanSpan)
        == count
    )
    assert direct == called
    with pytest.raises(TypeError, match="lean: type"):
        otlp._native.put_run(bytearray(), spans, 0, resource, scope, kinds, 1)  # type: ignore[arg-type]
    assert (
        otlp._native.put_run(bytearray(), spans, 0, None, scope, kinds, LeanSpan) == 0
    )


@pytest.mark.parametrize(
    "bits", [1, 29, 30, 31, 59, 60, 61, 63, 64, 89, 90, 119, 120, 127, 128]
)
def test_ints_of_every_digit_count_are_read_as_the_python_encoder_reads_them(
    bits: int,
) -> None:
    """Ids and times are read from the int's digits in place (CPython 3.11):
    each size up to 128 bits (trace id) and 64 bits (span ids, times)."""
    exporter, tracer = _tracer()
    trace_id, small = (1 << bits) - 1, (1 << min(bits, 64)) - 1
    parent = trace.SpanContext(trace_id, small, True, trace.TraceFlags(1))
    context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    tracer.start_span("s", context, start_time=small).end(small)  # type: ignore[attr-defined]
    [span] = exporter.get_finished_spans()
    native = _written_natively(span)
    python = bytearray(b"head")
    otlp._put_lean(python, span, span.otlp_fields())  # type: ignore[attr-defined]
    assert native == python


@pytest.mark.parametrize("end", [1 << 64, 1 << 90, -1])
def test_a_time_out_of_range_is_not_written_natively(end: int) -> None:
    exporter, tracer = _tracer()
    tracer.start_span("s").end(end)  # type: ignore[attr-defined]
    [span] = exporter.get_finished_spans()
    assert _written_natively(span) is None
