"""Trace context across processes: the hook pair a forwarding layer calls.

A request forwarded to another process (a cluster member that owns the
thread) carries its caller's trace context in a ``dict[str, str]`` carrier,
W3C ``traceparent``/``tracestate`` by default (whatever the process's
OpenTelemetry propagator writes: ``OTEL_PROPAGATORS``). The caller's side
calls ``inject_trace_context()`` and sends the dict; the receiving side
makes the run's turn inside ``with trace_context(carrier):``, so the run's
``invoke_workflow`` span is the remote caller's child, as a local call's
would be. Both are no-ops while no Runtime in the process has tracing on:
``inject_trace_context`` returns the carrier untouched (a new empty dict
by default), ``extract_trace_context`` returns None, ``trace_context``
changes nothing. None of them blocks or raises for a malformed carrier
(a bad ``traceparent`` is ignored, as the propagator does). The propagator
module (it loads ``OTEL_PROPAGATORS`` through package entry points) is
imported by the first call that has a context to carry.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context, trace

from . import _telemetry


def inject_trace_context(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """Write the current span's context into ``carrier`` (a new dict if None) and return it.

    Nothing is written when tracing is off in this process or no valid span
    is current. Usable as a zero-argument hook returning the carrier.
    """
    out: dict[str, str] = {} if carrier is None else carrier
    if _telemetry.active and trace.get_current_span().get_span_context().is_valid:
        from opentelemetry import propagate  # (here: it reads OTEL_PROPAGATORS)

        propagate.inject(out)
    return out


def extract_trace_context(
    carrier: Mapping[str, str] | None,
) -> otel_context.Context | None:
    """The OpenTelemetry context ``carrier`` holds, to parent a run on; None if none.

    None when tracing is off in this process, for an empty or missing
    carrier, and for one without a valid span context.
    """
    if not _telemetry.active or not carrier:
        return None
    from opentelemetry import propagate

    found = propagate.extract(carrier, context=otel_context.Context())
    if not trace.get_current_span(found).get_span_context().is_valid:
        return None
    return found


@contextmanager
def trace_context(carrier: Mapping[str, str] | None) -> Generator[None]:
    """Within the block, the context ``carrier`` holds is current (a run made here is its child).

    With nothing to extract (see ``extract_trace_context``) the current
    context stays as it is.
    """
    found = extract_trace_context(carrier)
    if found is None:
        yield
        return
    token = otel_context.attach(found)
    try:
        yield
    finally:
        otel_context.detach(token)
