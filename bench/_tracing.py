"""``--tracing off|on|content``: what tracing costs our runtime, with the real SDK.

With the option, our side calls its fake model as a chat model (a
``BaseChatModel`` over the same ``FakeModel``, so every turn makes a chat
span when tracing is on), whatever the mode: the three modes differ only in
``Runtime(tracing=...)``. Spans go through the SDK's ``BatchSpanProcessor`` to
an exporter that serialises them: by default OTLP/protobuf encoding (the
encoder of ``runtime._tracing_otlp``, or with ``BENCH_TRACING_EXPORTER=otlp-sdk``
the SDK's own) into a null sink, or (``=memory``) the SDK's in-memory exporter (the
processor's thread's CPU is the process's, so it counts); metrics go to an
``InMemoryMetricReader``, read after the run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runtime import AIMessage, Tracing
from runtime.models._base import BaseChatModel

if TYPE_CHECKING:
    from bench.workload import FakeModel

MODES = ("off", "on", "content")
EXPORTERS = ("otlp", "otlp-sdk", "memory")
"""``BENCH_TRACING_EXPORTER``: OTLP encoding by ours (default) or the SDK's, or in memory."""


class OtlpNullExporter:
    """A span exporter that encodes each batch as an OTLP/protobuf request and drops the bytes.

    The work of a real OTLP exporter short of the HTTP post: the SDK's own
    ``encode_spans`` and protobuf serialisation, on the processor's thread.
    """

    def __init__(self, sdk: bool = False) -> None:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
            encode_spans,
        )

        from runtime._tracing_otlp import encode_spans as ours

        self._encode: Any = (
            (lambda spans: encode_spans(spans).SerializeToString()) if sdk else ours
        )
        self.spans = self.bytes = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        size = len(self._encode(spans))
        with self._lock:
            self.spans += len(spans)
            self.bytes += size
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class BenchTracing:
    """The providers of one run, and the span count so far."""

    def __init__(self, mode: str, exporter: str | None = None) -> None:
        exporter = exporter or os.environ.get("BENCH_TRACING_EXPORTER", "otlp")
        if mode not in MODES:
            raise ValueError(f"--tracing must be one of {MODES}, got {mode!r}")
        if exporter not in EXPORTERS:
            raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.mode = mode
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        self.exporter: Any = (
            OtlpNullExporter(sdk=exporter == "otlp-sdk")
            if exporter != "memory"
            else InMemorySpanExporter()
        )
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(self.exporter, max_queue_size=1 << 16)
        )
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def option(self) -> Tracing | bool:
        """The ``Runtime(tracing=...)`` of this mode."""
        if self.mode == "off":
            return False
        return Tracing(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            content=self.mode == "content",
        )

    def spans(self) -> int:
        """Spans exported so far (after flushing the processor's queue)."""
        self.tracer_provider.force_flush()
        if isinstance(self.exporter, OtlpNullExporter):
            return self.exporter.spans
        return len(self.exporter.get_finished_spans())


class FakeChatModel(BaseChatModel):
    """The workload's ``FakeModel`` behind the chat-model interface.

    The first message is a system message holding the memories as JSON; the
    rest is the history. Token counts are word counts.
    """

    provider = "fake"

    def __init__(self, fake: FakeModel) -> None:
        super().__init__(
            model="fake-chat",
            max_tokens=None,
            temperature=None,
            timeout=None,
            max_retries=0,
            api_key=None,
            base_url=None,
            model_kwargs=None,
        )
        self._fake = fake

    async def _agenerate(self, messages: list[Any], options: Any) -> AIMessage:
        from bench.ours import pairs

        memories: list[str] = json.loads(messages[0].content)
        history = pairs(messages[1:])
        reply = await self._fake.areply(history, memories)
        n_in = sum(len(text.split()) for _, text in history) + len(memories)
        n_out = len(reply.split())
        return AIMessage(
            content=reply,
            usage_metadata={
                "input_tokens": n_in,
                "output_tokens": n_out,
                "total_tokens": n_in + n_out,
            },
            response_metadata={"model_name": "fake-chat", "finish_reason": "stop"},
        )
