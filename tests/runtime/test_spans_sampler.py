"""The lean tracer's sampler fast path decides as the SDK's samplers decide."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from actors._lean_tracer import LeanTracer
from actors._spans import lean_tracer

_STATE = TraceState([("k", "v")])


def _parents() -> list[Context | None]:
    contexts: list[Context | None] = [None]
    for remote in (False, True):
        for flags in (TraceFlags.SAMPLED, TraceFlags.DEFAULT):
            ctx = SpanContext(
                0xABC, 0xDEF, is_remote=remote, trace_flags=TraceFlags(flags),
                trace_state=_STATE,
            )  # fmt: skip
            contexts.append(trace.set_span_in_context(NonRecordingSpan(ctx)))
    return contexts


@pytest.mark.parametrize(
    ("sampler", "fast"),
    [
        (ALWAYS_ON, "on"),
        (ParentBased(ALWAYS_ON), "parent"),
        (ParentBased(ALWAYS_OFF), None),
        (ParentBased(ALWAYS_ON, local_parent_not_sampled=ALWAYS_ON), None),
        (TraceIdRatioBased(0.5), None),
    ],
)
def test_fast_path_decides_as_the_sdk(sampler: object, fast: str | None) -> None:
    provider = TracerProvider(sampler=sampler)  # type: ignore[arg-type]
    lean = lean_tracer(provider, "t", "1")
    sdk = provider.get_tracer("t", "1")
    assert isinstance(lean, LeanTracer)
    assert lean.fast == fast
    for parent in _parents():
        ours = lean.start_span("s", parent, attributes={"a": 1})
        theirs = sdk.start_span("s", parent, attributes={"a": 1})
        a, b = ours.get_span_context(), theirs.get_span_context()
        if fast is not None:  # (a ratio sampler's decision depends on the trace id)
            assert a.trace_flags.sampled == b.trace_flags.sampled
            assert ours.is_recording() == theirs.is_recording()
            assert a.trace_state == b.trace_state
            if ours.is_recording():
                assert dict(ours.attributes or {}) == {"a": 1}  # type: ignore[attr-defined]
        ours.end()
        theirs.end()
