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

Counts are plain integers read by observable instruments when the reader
collects: a turn pays an addition, not an SDK measurement. Histograms are
recorded as they happen (turn and commit latency once per turn, store batch
size and latency once per batch).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

import anyio
from opentelemetry import context as otel_context, metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
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

NAME = "actorgraph"
SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
SECONDS += (2.5, 5.0, 10.0, 30.0, 60.0)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
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


class Metrics:
    """The instruments of one meter provider, shared by the Runtimes that use it.

    The observable ones are read by the metric reader, perhaps from its own
    thread: callbacks copy a dict or set in one C-level step before reading it.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.turns: dict[tuple[str, str], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.activations = self.passivations = self.conflicts = 0
        self.threads: set[Any] = set()  # warm thread actors (they have a mailbox)
        self.stores: set[Any] = set()  # running store actors
        self.turn_duration = _histogram(meter, "turn.duration", "s", "a run's turn")
        self.commit_duration = _histogram(
            meter, "checkpoint.commit.duration", "s", "a checkpoint commit"
        )
        self.load_duration = _histogram(
            meter, "checkpoint.load.duration", "s", "an activation's thread load"
        )
        self.batch_duration = _histogram(
            meter, "store.batch.duration", "s", "a store batch at the backing store"
        )
        self.batch_size = meter.create_histogram(
            f"{NAME}.store.batch.size",
            "{operation}",
            "Operations per store batch.",
            explicit_bucket_boundaries_advisory=_SIZES,
        )
        self._observe(meter)

    def _observe(self, meter: metrics.Meter) -> None:
        counter, updown = (
            meter.create_observable_counter,
            meter.create_observable_up_down_counter,
        )
        counter(f"{NAME}.turns", [self._turns], "{turn}", "Runs' turns, by outcome.")
        counter(f"{NAME}.thread.activations", [self._activations], "{activation}")
        counter(f"{NAME}.thread.passivations", [self._passivations], "{passivation}")
        counter(f"{NAME}.checkpoint.conflicts", [self._conflicts], "{conflict}")
        counter(f"{NAME}.chat.tokens", [self._tokens], "{token}", "Chat-model tokens.")
        updown(f"{NAME}.threads.active", [self._active], "{thread}", "Warm threads.")
        meter.create_observable_gauge(
            f"{NAME}.mailbox.depth",
            [self._depth],
            "{message}",
            "Requests waiting in mailboxes, summed over the actors of a kind.",
        )

    def _turns(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(
                n, {"gen_ai.workflow.name": name, "actorgraph.run.outcome": how}
            )
            for (name, how), n in list(self.turns.items())
        ]

    def _tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(
                n,
                {
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": model,
                    "gen_ai.token.type": kind,
                },
            )
            for (provider, model, kind), n in list(self.tokens.items())
        ]

    def _activations(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.activations)]

    def _passivations(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.passivations)]

    def _conflicts(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.conflicts)]

    def _active(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(len(self.threads))]

    def _depth(self, options: CallbackOptions) -> Iterable[Observation]:
        threads, stores = list(self.threads), list(self.stores)
        return [
            Observation(
                sum(len(a.mailbox) for a in threads), {"actorgraph.actor": "thread"}
            ),
            Observation(
                sum(len(a.mailbox) for a in stores), {"actorgraph.actor": "store"}
            ),
        ]


def _histogram(meter: metrics.Meter, name: str, unit: str, what: str) -> Any:
    return meter.create_histogram(
        f"{NAME}.{name}",
        unit,
        f"Duration of {what}.",
        explicit_bucket_boundaries_advisory=SECONDS,
    )


_METRICS: weakref.WeakKeyDictionary[Any, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(provider: metrics.MeterProvider) -> Metrics:
    """The one ``Metrics`` of ``provider`` (an instrument is created once per name)."""
    found = _METRICS.get(provider)
    if found is None:
        found = _METRICS[provider] = Metrics(provider.get_meter(NAME, _version()))
    return found


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("actorgraph")
    except PackageNotFoundError:
        return "0"


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

    def __init__(
        self,
        tracer_provider: trace.TracerProvider,
        meter_provider: metrics.MeterProvider,
        *,
        content: bool = False,
    ) -> None:
        self.tracer = tracer_provider.get_tracer(NAME, _version())
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
