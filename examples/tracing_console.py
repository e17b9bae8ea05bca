"""The cross-thread memory walkthrough with OpenTelemetry spans and metrics on the console.

Offline by default: in-process stores and the scripted model. Each span is
printed as it ends (children before their parents), one line each: its
name, trace and span ids, parent, and attributes; the metrics are printed
once, at exit. ``--json`` prints the SDK's full JSON instead, ``--content``
records the chat messages too, ``--redis`` uses Redis (the embedded one, or
REDIS_URL). With ANTHROPIC_API_KEY set, the chat model is Claude and its
calls get ``chat <model>`` spans (the scripted model is no chat-model
adapter, so it gets none).

Needs the SDK: ``pip install 'actorgraph[otel]'``.

    python examples/tracing_console.py [--json] [--content] [--redis]
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
from cross_thread_memory import EMBED_DIMS, build, choose_model, converse
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from runtime import Runtime, Tracing
from stores import HashingEmbeddings, InMemoryStore, MemorySaver


def one_line(span: ReadableSpan) -> str:
    """``name  trace/span  <- parent  {attributes}``: one span, one line."""
    context = span.get_span_context()
    assert context is not None
    parent = f"{span.parent.span_id:016x}" if span.parent else "(root)"
    links = f"  links={len(span.links)}" if span.links else ""
    attributes = ", ".join(f"{k}={v!r}" for k, v in (span.attributes or {}).items())
    line = (
        f"{span.name:<28} trace={context.trace_id:032x} span={context.span_id:016x} "
        f"parent={parent}{links}\n"
    )
    return line + (f"    {attributes}\n" if attributes else "")


def metric_lines(data: MetricsData) -> str:
    """Each metric data point on a line: name, attributes, value (or count and sum)."""
    lines = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is None:
                        value = f"count={point.count} sum={point.sum:.6g}"  # type: ignore[union-attr]
                    shown = dict(point.attributes or {})
                    lines.append(f"{metric.name} {shown or ''} {value}")
    return "\n".join(lines) + "\n"


def providers(args: argparse.Namespace) -> tuple[TracerProvider, MeterProvider]:
    tracer_provider = TracerProvider()
    spans = (
        ConsoleSpanExporter() if args.json else ConsoleSpanExporter(formatter=one_line)
    )
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = (
        ConsoleMetricExporter()
        if args.json
        else ConsoleMetricExporter(formatter=metric_lines)
    )
    reader = PeriodicExportingMetricReader(metrics, export_interval_millis=3_600_000)
    return tracer_provider, MeterProvider(metric_readers=[reader])


async def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    tracer_provider, meter_provider = providers(args)
    index = {
        "dims": EMBED_DIMS,
        "embed": HashingEmbeddings(dims=EMBED_DIMS),
        "fields": ["data"],
    }
    store: Any
    if args.redis:
        from stores import RedisSaver, RedisStore

        checkpointer: Any = RedisSaver()
        store = RedisStore(index=index)
    else:
        checkpointer, store = MemorySaver(), InMemoryStore(index=index)
    tracing = Tracing(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        content=args.content,
    )
    async with checkpointer, store, Runtime(tracing=tracing):
        workflow = build(checkpointer, store, choose_model())
        tracer = tracer_provider.get_tracer("example")
        # The caller's current span is the run's parent: one trace per request.
        with tracer.start_as_current_span("request thread-1"):
            await converse(workflow, "thread-1", "1", "Hi! Remember: my name is Bob")
        with tracer.start_as_current_span("request thread-2"):
            await converse(workflow, "thread-2", "1", "what is my name?")
    print("\n--- metrics")
    meter_provider.shutdown()  # exports once, now
    tracer_provider.shutdown()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--json", action="store_true", help="the SDK's full JSON per span"
    )
    parser.add_argument("--content", action="store_true", help="record chat messages")
    parser.add_argument(
        "--redis", action="store_true", help="RedisSaver and RedisStore"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main)
