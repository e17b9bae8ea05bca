"""``Telemetry``: the OpenTelemetry spans and metrics of a Runtime with tracing on.

The runtime builds one when tracing is on and hands it to each thread actor,
journal and store actor it makes; with tracing off they hold None, and all a
hot path pays is that check. Only the OpenTelemetry API is imported: the SDK
(or whatever the application configured) is behind the providers passed in.

Spans made in this layer:

- ``checkpoint load``: a thread actor's activation reading its thread;
- ``checkpoint commit``: a run's commit (a conflict is an error, and counted);
- ``store <op>``: one per store operation, in the caller's trace;
- ``store batch``: one per batch the store actor sends, the root of a trace of
  its own (a batch serves many traces) that links the operations it carried.

The instruments are in ``_metrics.py``, one set per meter provider.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Any

import anyio
from opentelemetry import context as otel_context, metrics, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from stores import (
    CheckpointConflictError,
    GetOp,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    ThreadState,
)

from ._actor import Envelope
from ._metrics import NAME, metrics_for, version

_ROOT = otel_context.Context()  # a store batch starts a trace of its own
NO_EXEMPLAR = _ROOT
"""The context histograms are recorded in: no span, so no exemplar. An exemplar
costs a third more per measurement, and an actor task's own context holds
whatever span was current where the actor was spawned."""


def fail(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``; a cancellation is noted, not an error.

    Call it from async code (it asks anyio for the cancellation class).
    """
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        span.set_attribute("actorgraph.cancelled", True)
        return
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, str(exc) or type(exc).__name__))
    span.record_exception(exc)


class TracedOps(list[Op]):
    """A store request's operations, the caller's context and when it asked.

    The operations' spans are made by the store actor when their batch is
    done (all of a batch's at once, then the batch's span that links them),
    with the caller's context as their parent: the caller only takes note.
    """

    __slots__ = ("context", "start")

    def __init__(self, ops: list[Op]) -> None:
        super().__init__(ops)
        self.context = otel_context.get_current()
        self.start = time.time_ns()


_OP_NAMES = {GetOp: "get", SearchOp: "search", ListNamespacesOp: "list_namespaces"}


def _op_attributes(op: Op, result: Result | None) -> tuple[str, dict[str, Any]]:
    if isinstance(op, PutOp):
        what = "put" if op.value is not None else "delete"
        return what, {
            "db.operation.name": what,
            "actorgraph.store.namespace": ".".join(op.namespace),
            "actorgraph.store.key": op.key,
        }
    what = _OP_NAMES[type(op)]
    attributes: dict[str, Any] = {"db.operation.name": what}
    if isinstance(op, GetOp):
        attributes["actorgraph.store.namespace"] = ".".join(op.namespace)
        attributes["actorgraph.store.key"] = op.key
    elif isinstance(op, SearchOp):
        attributes["actorgraph.store.namespace"] = ".".join(op.namespace_prefix)
        if isinstance(result, list):
            attributes["actorgraph.store.results"] = len(result)
    return what, attributes


class Telemetry:
    """The tracer, the instruments and the content switch of a traced Runtime.

    ``content``: record message content on chat spans (``gen_ai.input.messages``
    and ``gen_ai.output.messages``), a separate opt-in.
    """

    __slots__ = ("content", "metrics", "tracer")

    NO_EXEMPLAR = NO_EXEMPLAR
    fail = staticmethod(fail)

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        *,
        content: bool = False,
    ) -> None:
        from ._spans import lean_tracer  # (here: it imports the SDK)

        self.tracer = lean_tracer(tracer_provider, NAME, version())
        self.metrics = metrics_for(meter_provider)
        self.content = content

    async def load(
        self, actor: Any, loading: Awaitable[ThreadState], thread_id: str
    ) -> ThreadState:
        """Await an activation's ``loading`` in a ``checkpoint load`` span; count it.

        Raises what ``loading`` raises (the activation then fails, uncounted).
        """
        span = self.tracer.start_span(
            "checkpoint load",
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.conversation.id": thread_id},
        )
        start = time.perf_counter()
        try:
            state = await loading
        except BaseException as exc:
            fail(span, exc)
            span.end()
            raise
        span.set_attributes(
            {
                "actorgraph.checkpoint.version": state.version,
                "actorgraph.checkpoint.records": len(state.records),
            }
        )
        span.end()
        found = self.metrics
        found.load_duration.record(time.perf_counter() - start)
        found.activations += 1
        found.threads.add(actor)
        return state

    @staticmethod
    def forget_spawner() -> None:
        """Make the current (actor's) task's context hold no span from here on.

        An actor's task inherits the context of whoever spawned it: the
        caller whose request activated it. Its own spans say their parents
        explicitly; anything else would wrongly be that caller's child.
        """
        otel_context.attach(_ROOT)  # the task's own copy: never detached

    def passivated(self, actor: Any) -> None:
        """Count ``actor``'s passivation (its state leaves memory); never blocks."""
        found = self.metrics
        if actor in found.threads:
            found.threads.discard(actor)
            found.passivations += 1

    async def commit(self, committing: Awaitable[None], version: int) -> None:
        """Await ``committing`` in a ``checkpoint commit`` span; time it, count conflicts."""
        span = self.tracer.start_span(
            "checkpoint commit",
            kind=SpanKind.CLIENT,
            attributes={"actorgraph.checkpoint.version": version},
        )
        start = time.perf_counter()
        try:
            await committing
        except CheckpointConflictError as exc:
            self.metrics.conflicts += 1
            fail(span, exc)
            raise
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            span.end()
            self.metrics.commit_duration.record(
                time.perf_counter() - start, context=NO_EXEMPLAR
            )

    async def batch(
        self,
        serving: Awaitable[list[Result]],
        requests: Sequence[Envelope[list[Op]]],
        size: int,
        backend: str,
    ) -> list[Result]:
        """Await ``serving``, then make its operations' spans and the ``store batch`` span.

        A failed batch of several requests makes no operation spans: the
        store actor serves each request again on its own, and those batches do.
        """
        start = time.time_ns()
        error: BaseException | None = None
        results: list[Result] | None = None
        try:
            results = await serving
            return results
        except BaseException as exc:
            error = exc
            raise
        finally:
            end = time.time_ns()
            links = (
                self._op_spans(requests, results, end, error)
                if results is not None or len(requests) == 1
                else []
            )
            span = self.tracer.start_span(
                "store batch",
                context=_ROOT,
                kind=SpanKind.CLIENT,
                links=links,
                attributes={
                    "db.operation.batch.size": size,
                    "actorgraph.store.requests": len(requests),
                    "actorgraph.store.backend": backend,
                },
                start_time=start,
            )
            if error is not None:
                fail(span, error)
            span.end(end)
            found = self.metrics
            found.batch_duration.record((end - start) / 1e9, context=NO_EXEMPLAR)
            found.batch_size.record(size, context=NO_EXEMPLAR)

    def _op_spans(
        self,
        requests: Sequence[Envelope[list[Op]]],
        results: list[Result] | None,
        end: int,
        error: BaseException | None,
    ) -> list[Link]:
        """A span per operation, from its request to ``end``, in its caller's trace."""
        links: list[Link] = []
        at = 0
        for env in requests:
            ops = env.msg
            if not isinstance(ops, TracedOps):  # sent by a caller without tracing
                at += len(ops)
                continue
            for op in ops:
                result = results[at] if results is not None else None
                what, attributes = _op_attributes(op, result)
                at += 1
                span = self.tracer.start_span(
                    f"store {what}",
                    context=ops.context,
                    kind=SpanKind.CLIENT,
                    attributes=attributes,
                    start_time=ops.start,
                )
                if error is not None:
                    fail(span, error)
                span.end(end)
                context = span.get_span_context()
                if context.trace_flags.sampled:  # a sampled-out span links nowhere
                    links.append(Link(context))
        return links
