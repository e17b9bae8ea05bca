"""An SDK tracer and meter provider that keep what they get, for the telemetry tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from actors import Telemetry
from runtime import Tracing


class Otel:
    """An SDK tracer and meter provider that keep what they get, for one test."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def tracing(self, *, content: bool | None = False) -> Tracing:
        return Tracing(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            content=content,
        )

    def telemetry(self) -> Telemetry:
        return Telemetry(self.tracer_provider, self.meter_provider)

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span

    def parent_of(self, span: ReadableSpan) -> str | None:
        """The name of ``span``'s parent among the exported spans (None for a root)."""
        if span.parent is None:
            return None
        ids = {s.context.span_id: s.name for s in self.spans() if s.context}
        return ids.get(span.parent.span_id, "<not exported>")

    def metrics(self) -> dict[str, list[Any]]:
        """Each metric's data points: (attributes, value) for sums, the point for histograms."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = [
                        (dict(p.attributes or {}), getattr(p, "value", p))
                        for p in metric.data.data_points
                    ]
        return found

    def total(self, name: str, **attributes: str) -> float:
        points = self.metrics().get(name, [])
        return sum(v for a, v in points if attributes.items() <= a.items())


class OtlpReceiver:
    """An OTLP/HTTP collector on 127.0.0.1 that keeps each export request it gets.

    ``with OtlpReceiver() as collector:`` then point ``OTEL_EXPORTER_OTLP_ENDPOINT``
    at ``collector.url``; ``span_names()`` decodes the trace exports received.
    """

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, str], bytes]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def span_names(self) -> list[str]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        names: list[str] = []
        for path, _, body in self.received:
            if path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        names += [span.name for span in scope.spans]
        return names

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def exported_tree(bodies: list[bytes], hidden: frozenset[str] = frozenset()) -> str:
    """The spans of OTLP/protobuf trace requests ``bodies`` as an indented tree.

    One line per span: its name, kind and attributes (``key=value`` in the
    order exported; a key in ``hidden`` shows ``…``, for values that differ
    per run); a span's children under it in order of start time; a root's
    links as ``-> name``. Decoded with ``opentelemetry-proto``'s classes.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    spans: list[Any] = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans += scope.spans
    names = {bytes(s.span_id): s.name for s in spans}
    children: dict[bytes, list[Any]] = {}
    for span in spans:
        children.setdefault(bytes(span.parent_span_id), []).append(span)

    def value(v: Any) -> str:
        which = v.WhichOneof("value")
        if which == "array_value":
            return "[" + ", ".join(value(x) for x in v.array_value.values) + "]"
        return str(getattr(v, which))

    lines: list[str] = []

    def show(span: Any, depth: int) -> None:
        kind = Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_").lower()
        shown = [
            f"{a.key}={'…' if a.key in hidden else value(a.value)}"
            for a in span.attributes
        ]
        links = [f"-> {names.get(bytes(x.span_id), '?')}" for x in span.links]
        lines.append("  " * depth + " ".join([span.name, f"({kind})", *shown, *links]))
        for child in sorted(children.get(bytes(span.span_id), []), key=_start):
            show(child, depth + 1)

    for root in sorted(children.get(b"", []), key=_start):
        show(root, 0)
    return "\n".join(lines)


def _start(span: Any) -> int:
    return span.start_time_unix_nano
