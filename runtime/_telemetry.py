"""Run and task spans, and the switch chat models look at first.

- ``invoke_workflow <entrypoint>``: one span per run (``TracedTurn`` wraps
  the turn), a child of the span that was current where the caller invoked
  the entrypoint (the run itself executes in the thread actor's task). ``gen_ai.conversation.id`` is the
  thread id; the run id, multitask strategy, outcome and the thread's
  checkpoint version after the run are ``actorgraph.*`` attributes.
- ``task <name>``: one span per task call, over all its attempts, current
  while the task runs (its store and chat spans are its children); a task
  replayed from the checkpoint gets a span of no duration.

Nothing here runs with tracing off: the callers check for a Telemetry first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from actors import Telemetry, otel_context as ctx

from ._context import HOST_VAR, RUN_VAR

fail, NO_EXEMPLAR = Telemetry.fail, Telemetry.NO_EXEMPLAR
_INTERNAL = SpanKind.INTERNAL

if TYPE_CHECKING:
    from actors import Journal

    from ._turns import RunTurn

T = TypeVar("T")

active = 0
"""Runtimes with tracing on in this process: chat models read this, then ``current()``."""

_TURN_ATTRIBUTES: dict[tuple[str, str], dict[str, str]] = {}


def current() -> Telemetry | None:
    """The Telemetry of the run executing here, else of the Runtime hosting this context."""
    run = RUN_VAR.get()
    if run is not None:
        return run.telemetry
    host = HOST_VAR.get()
    return host.telemetry if host is not None else None


class TracedTurn:
    """A run's turn in its ``invoke_workflow`` span, counted and timed (tracing on)."""

    __slots__ = ("parent", "strategy", "telemetry", "turn")

    def __init__(self, turn: RunTurn, telemetry: Telemetry, strategy: str) -> None:
        self.turn = turn
        self.telemetry = telemetry
        self.strategy = strategy
        self.parent = ctx.current()  # the caller's: the span's parent

    async def __call__(self, journal: Journal) -> Any:
        tel, turn = self.telemetry, self.turn
        name = turn.spec.name
        span = tel.start(
            f"invoke_workflow {name}",
            self.parent,
            _INTERNAL,
            {
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.workflow.name": name,
                "gen_ai.conversation.id": journal.thread_id,
                "actorgraph.run.multitask_strategy": self.strategy,
            },
        )
        token = ctx.attach(ctx.with_span(span, self.parent))
        start = time.perf_counter()
        outcome = "failed"
        try:
            result = await turn(journal)
            outcome = "completed" if journal.run is None else "interrupted"
            return result
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                outcome = "cancelled"
            fail(span, exc)
            raise
        finally:
            ctx.detach(token)
            ended: dict[str, Any] = {
                "actorgraph.run.outcome": outcome,
                "actorgraph.checkpoint.version": journal.state.version,
            }
            if turn.run_id is not None:
                ended["actorgraph.run.id"] = turn.run_id
            span.set_attributes(ended)
            span.end()
            _count_turn(tel, name, outcome, time.perf_counter() - start)


def _count_turn(tel: Telemetry, name: str, outcome: str, seconds: float) -> None:
    key = (name, outcome)
    found = tel.metrics
    found.turns[key] = found.turns.get(key, 0) + 1
    attributes = _TURN_ATTRIBUTES.get(key)
    if attributes is None:
        attributes = _TURN_ATTRIBUTES.setdefault(
            key, {"gen_ai.workflow.name": name, "actorgraph.run.outcome": outcome}
        )
    found.turn_duration.record(seconds, attributes, context=NO_EXEMPLAR)


async def traced_task(tel: Telemetry, name: str, task_id: str, call: Awaitable[T]) -> T:
    """Await ``call`` (the task's attempts) in its ``task`` span, current meanwhile."""
    here = ctx.current()
    span = tel.start(
        f"task {name}",
        here,
        _INTERNAL,
        {
            "actorgraph.task.name": name,
            "actorgraph.task.id": task_id,
            "actorgraph.task.attempt": 1,
            "actorgraph.task.replayed": False,
        },
    )
    token = ctx.attach(ctx.with_span(span, here))
    try:
        return await call
    except BaseException as exc:
        from ._run_state import GraphInterrupt  # (a cycle at import time)

        if isinstance(exc, GraphInterrupt):
            span.set_attribute("actorgraph.task.interrupted", True)
        else:
            fail(span, exc)
        raise
    finally:
        ctx.detach(token)
        span.end()


def replayed(tel: Telemetry, name: str, task_id: str) -> None:
    """A ``task`` span of no duration for a task whose recorded result was replayed."""
    tel.start(
        f"task {name}",
        None,
        _INTERNAL,
        {
            "actorgraph.task.name": name,
            "actorgraph.task.id": task_id,
            "actorgraph.task.replayed": True,
        },
    ).end()


def retrying(attempt: int, exc: Exception) -> None:
    """Note on the current task span that attempt number ``attempt`` follows ``exc``."""
    span = trace.get_current_span()
    span.set_attribute("actorgraph.task.attempt", attempt)
    span.add_event(
        "retry",
        {"actorgraph.task.attempt": attempt, "error.type": type(exc).__qualname__},
    )
