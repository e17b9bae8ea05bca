"""``OtlpSpanExporter``: the SDK's OTLP/HTTP protobuf span exporter, with our encoding.

It is ``opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter``
(same arguments, the ``OTEL_EXPORTER_OTLP_*`` environment, retries, TLS,
compression, request size limit, its opt-in self-metrics), except that a
batch is serialised by ``runtime._tracing_otlp.encode_spans`` -- the same
``ExportTraceServiceRequest``, a quarter of the CPU. Needs the ``otel``
extra; ``from runtime import OtlpSpanExporter`` imports it on first use.
``export`` blocks for the HTTP post (call it from a span processor's thread,
as ``BatchSpanProcessor`` does) and never raises: a failure is its result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as _SdkExporter,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from ._tracing_otlp import encode_spans

log = logging.getLogger("runtime")
_FIELDS = ("_shutdown", "_metrics", "_client", "_max_request_size")


class OtlpSpanExporter(_SdkExporter):
    """OTLP over HTTP/protobuf, as the SDK's exporter sends it, encoded by us."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode ``spans`` and post them to the endpoint (blocks; never raises)."""
        if not all(hasattr(self, field) for field in _FIELDS):
            return super().export(spans)  # an SDK this was not written against
        found: Any = self
        if found._shutdown:
            log.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with found._metrics.export_operation(len(spans)) as result:
            try:
                data = encode_spans(spans)
            except (TypeError, AttributeError, ValueError) as exc:  # not a ReadableSpan
                log.error("Failed to encode span batch: %s", exc)
                result.error = exc
                return SpanExportResult.FAILURE
            limit = found._max_request_size
            if limit > 0 and len(data) > limit:
                log.warning(
                    "Dropping span batch: serialized size %d bytes exceeds "
                    "max_request_size %d bytes.",
                    len(data),
                    limit,
                )
                result.error = ValueError(f"span batch of {len(data)} bytes > {limit}")
                return SpanExportResult.FAILURE
            sent = found._client.export(data)
            if not sent.success:
                result.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
