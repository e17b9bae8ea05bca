"""``lean_tracer``: the tracer a Telemetry starts its spans with.

For the SDK's own ``TracerProvider`` it is a ``LeanTracer``
(``actors._lean_tracer``: the provider's sampler, ids, resource and
processors, spans that are their own ``ReadableSpan``, a short per-span
path); for any other provider (the API's no-op, a vendor's) an
``ApiTracer`` over ``provider.get_tracer``. Both have ``start``, the
runtime's entry: attributes the caller gives away, every value already
valid (str, bool, int, float or a tuple of them), and the parent's context
(None: the current one). Only the API is imported here; the SDK's modules
are imported when an SDK provider is met (so the SDK is loaded already).

Nothing here blocks or raises for a span's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import AttributeValue

_SDK_PROVIDER = ("opentelemetry.sdk.trace", "TracerProvider")


class SpanStarter(Protocol):
    """What the runtime starts spans with (``LeanTracer`` or ``ApiTracer``)."""

    def start(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        start_time: int | None = None,
        links: Sequence[Link] = (),
    ) -> Span:
        """A started span, a child of the span ``context`` holds (None: the current one)."""
        ...


class ApiTracer:
    """``start`` over any API tracer: its ``start_span``."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        start_time: int | None = None,
        links: Sequence[Link] = (),
    ) -> Span:
        return self.tracer.start_span(
            name, context, kind, attributes, links, start_time
        )


def lean_tracer(provider: trace.TracerProvider, name: str, version: str) -> SpanStarter:
    """A ``LeanTracer`` for the SDK's ``TracerProvider``, else an ``ApiTracer``."""
    tracer = provider.get_tracer(name, version)
    kind = type(provider)
    if (kind.__module__, kind.__name__) != _SDK_PROVIDER:
        return ApiTracer(tracer)
    from opentelemetry.sdk.trace import Tracer as SdkTracer

    from ._lean_tracer import LeanTracer, fits

    if type(tracer) is not SdkTracer or not fits(tracer):
        return ApiTracer(tracer)  # an SDK this module was not written against
    return LeanTracer(tracer)
