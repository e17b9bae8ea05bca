"""The trace-context hook pair: inject the current context into a carrier, extract it back.

The forwarding layer calls these around a request that crosses processes;
here the "remote" side is a second Runtime with tracing on, fed only the
carrier dict, as a forwarded request would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from runtime import (
    Runtime,
    entrypoint,
    extract_trace_context,
    inject_trace_context,
    trace_context,
)
from tests.otel_support import Otel

_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def otel() -> Iterator[Otel]:
    found = Otel()
    yield found
    found.close()


def test_inject_is_a_no_op_while_no_runtime_traces(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("caller"):
        assert inject_trace_context() == {}
        carrier = {"x": "y"}
        assert inject_trace_context(carrier) is carrier
        assert carrier == {"x": "y"}


def test_extract_is_a_no_op_while_no_runtime_traces() -> None:
    assert extract_trace_context({"traceparent": _PARENT}) is None
    before = trace.get_current_span()
    with trace_context({"traceparent": _PARENT}):
        assert trace.get_current_span() is before


async def test_inject_writes_the_current_span_as_traceparent(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    async with Runtime(tracing=otel.tracing()):
        assert inject_trace_context() == {}  # no span current: nothing to carry
        with tracer.start_as_current_span("caller") as span:
            carrier = inject_trace_context({"keep": "me"})
    ctx = span.get_span_context()
    assert carrier["keep"] == "me"
    want = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    assert carrier["traceparent"] == want


async def test_extract_returns_the_carried_span_context(otel: Otel) -> None:
    async with Runtime(tracing=otel.tracing()):
        found = extract_trace_context({"traceparent": _PARENT})
        assert found is not None
        remote = trace.get_current_span(found).get_span_context()
        assert remote.is_remote
        assert remote.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
        assert remote.span_id == 0xB7AD6B7169203331
        assert extract_trace_context({}) is None
        assert extract_trace_context(None) is None
        assert extract_trace_context({"traceparent": "garbage"}) is None


async def test_a_run_made_inside_trace_context_is_the_remote_callers_child(
    otel: Otel,
) -> None:
    """Caller side injects; the other side makes the run inside ``trace_context``."""
    caller, owner = Otel(), otel
    try:
        tracer = caller.tracer_provider.get_tracer("test")
        async with Runtime(tracing=caller.tracing()):
            with tracer.start_as_current_span("caller") as span:
                carrier = inject_trace_context()

        @entrypoint()
        async def remote(x: int) -> int:
            return x + 1

        async with Runtime(tracing=owner.tracing()):
            before = trace.get_current_span()
            with trace_context(carrier):
                assert await remote.ainvoke(1) == 2
            assert trace.get_current_span() is before  # detached on leaving
        run = owner.one("invoke_workflow remote")
        assert run.parent is not None
        assert run.parent.is_remote
        assert run.parent.span_id == span.get_span_context().span_id
        assert run.context is not None
        assert run.context.trace_id == span.get_span_context().trace_id
    finally:
        caller.close()


async def test_the_hook_is_a_zero_argument_carrier_function(otel: Otel) -> None:
    """Usable where a forwarding layer wants ``() -> Mapping[str, str]``."""
    hook: Any = inject_trace_context
    tracer = otel.tracer_provider.get_tracer("test")
    async with Runtime(tracing=otel.tracing()):
        with tracer.start_as_current_span("caller"):
            first, second = hook(), hook()
    assert first == second
    assert first is not second  # a fresh dict per request
    assert set(first) >= {"traceparent"}
