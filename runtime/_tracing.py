"""``Tracing``: whether a Runtime emits OpenTelemetry spans and metrics, and where.

``Runtime(tracing=...)`` takes:

- ``None`` (the default): on when the standard ``OTEL_*`` environment asks
  for it (``OTEL_TRACES_EXPORTER`` or ``OTEL_METRICS_EXPORTER`` other than
  ``none``, or an ``OTEL_EXPORTER_OTLP_ENDPOINT``), off otherwise and when
  ``OTEL_SDK_DISABLED=true``;
- ``False``: off, whatever the environment says; ``True``: on;
- ``Tracing(tracer_provider=..., meter_provider=..., content=...)``: on, with
  these providers and this content switch.

The providers are, in order: the ones given; the application's global ones
(``trace.set_tracer_provider``/``metrics.set_meter_provider``) if it set
either; else one SDK pair per process built from the ``OTEL_*`` environment
(exporters, endpoint, headers, service name), which needs the SDK: the
``otel`` extra. Only ``opentelemetry-api`` is imported until then.

Message content (``gen_ai.input.messages``/``gen_ai.output.messages``) is
recorded only when asked: ``content=True``, or the GenAI instrumentations'
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, final

from opentelemetry import metrics, trace
from opentelemetry.metrics._internal import (  # the API's "nothing set yet" provider
    _ProxyMeterProvider,  # pyright: ignore[reportPrivateUsage]
)

from actors import Telemetry

log = logging.getLogger("runtime")
_CONTENT_ON = frozenset({"true", "1", "span_only", "span_and_event"})
_SDK_HINT = "install the OpenTelemetry SDK with pip install 'actorgraph[otel]'"
_from_env: tuple[Any, Any] | None = None


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Tracing:
    """Tracing options for ``Runtime(tracing=Tracing(...))``; tracing is then on.

    ``tracer_provider`` and ``meter_provider``: where spans and metrics go
    (None: the global ones, else the ``OTEL_*`` environment's). ``content``:
    record chat messages on chat spans (None: as
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says, else off).
    """

    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    content: bool | None = None


def telemetry_for(tracing: bool | Tracing | None) -> Telemetry | None:
    """The Telemetry a Runtime with option ``tracing`` uses; None when tracing is off.

    Raises TypeError for an option of another type, RuntimeError when
    tracing is asked for (True or a Tracing without both providers) and no
    provider is set and the SDK is not installed, ValueError for an
    ``OTEL_*_EXPORTER`` naming an exporter that is not installed.
    """
    asked = tracing is not None  # else the environment asked
    if tracing is None or tracing is True:
        if _sdk_disabled() or (tracing is None and not environment_asks()):
            return None
        tracing = Tracing()
    elif tracing is False:
        return None
    elif not isinstance(tracing, Tracing):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(
            f"tracing must be None, True, False or Tracing(...), got {tracing!r}"
        )
    tracer_provider, meter_provider = tracing.tracer_provider, tracing.meter_provider
    if tracer_provider is None or meter_provider is None:
        found = _default_providers()
        if found is None and tracer_provider is None and meter_provider is None:
            if asked:
                raise RuntimeError(f"tracing is on but no provider is set: {_SDK_HINT}")
            log.warning("OTEL_* asks for tracing, which stays off: %s", _SDK_HINT)
            return None
        if found is None:  # the API's own: they forward once the application sets one
            found = (trace.get_tracer_provider(), metrics.get_meter_provider())
        tracer_provider = tracer_provider or found[0]
        meter_provider = meter_provider or found[1]
    content = tracing.content
    if content is None:
        wanted = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
        content = (wanted or "").strip().lower() in _CONTENT_ON
    return Telemetry(tracer_provider, meter_provider, content=content)


def environment_asks() -> bool:
    """True when the ``OTEL_*`` environment names an exporter or an OTLP endpoint."""
    env = os.environ
    for var in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"):
        if env.get(var, "").strip().lower() not in ("", "none"):
            return True
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _default_providers() -> tuple[Any, Any] | None:
    """The global providers if the application set either, else the environment's."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    if not isinstance(tracer_provider, trace.ProxyTracerProvider) or not isinstance(
        meter_provider, _ProxyMeterProvider
    ):
        return tracer_provider, meter_provider
    return _environment_providers()


def _environment_providers() -> tuple[Any, Any] | None:
    """One SDK (tracer, meter) provider pair per process, as ``OTEL_*`` configures it.

    None without the SDK. The SDK flushes and shuts them down at exit.
    """
    global _from_env
    if _from_env is not None:
        return _from_env
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return None
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    tracer_provider = TracerProvider(resource=resource)
    for exporter in _exporters("traces"):
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    readers = [PeriodicExportingMetricReader(e) for e in _exporters("metrics")]
    _from_env = (
        tracer_provider,
        MeterProvider(resource=resource, metric_readers=readers),
    )
    return _from_env


def _exporters(signal: str) -> Iterator[Any]:
    """The exporters ``OTEL_<SIGNAL>_EXPORTER`` names (default otlp), as the SDK finds them."""
    from importlib.metadata import entry_points

    upper = signal.upper()
    for raw in os.environ.get(f"OTEL_{upper}_EXPORTER", "otlp").split(","):
        name = raw.strip().lower()
        if name in ("", "none"):
            continue
        if name == "otlp":
            protocol = os.environ.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL") or (
                os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            )
            name = "otlp_proto_grpc" if protocol == "grpc" else "otlp_proto_http"
        found = entry_points(group=f"opentelemetry_{signal}_exporter", name=name)
        if not found:
            raise ValueError(
                f"OTEL_{upper}_EXPORTER names {raw.strip()!r}, which no installed "
                f"package provides; {_SDK_HINT} (otlp over http/protobuf, console)"
            )
        yield next(iter(found)).load()()
