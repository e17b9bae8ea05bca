"""One run of an entrypoint, executed as a thread actor's turn.

``RunTurn`` decides whether the request starts a fresh run or continues the
pending one (after an interrupt, an error or a crash), runs the entrypoint
body with the recorded task results replayed, records each task as it
finishes, and commits the result. ``RunState`` is what tasks and
``interrupt()`` reach through the context while the run executes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Awaitable, Callable
from contextvars import Context, copy_context
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import anyio.to_thread

from actors import RunCancelledError, Telemetry
from stores import BaseStore, TaskRecord

from . import _telemetry
from ._context import RUN_VAR, SCOPE_VAR, CallScope, current_run
from ._errors import ReplayDivergedError
from ._inline import drive
from ._serde import dumps, loads
from ._spawned import Spawned
from ._stream import Emitter
from ._task import TaskFunction, TaskFuture
from ._types import Interrupt

if TYPE_CHECKING:
    from actors import Journal

T = TypeVar("T")

Durability = Literal["sync", "async", "exit"]
DURABILITIES: tuple[Durability, ...] = ("sync", "async", "exit")


def check_durability(durability: object) -> Durability:
    """``durability``, or the default "async" for None; ValueError for anything else."""
    if durability is None:
        return "async"
    if durability not in DURABILITIES:
        raise ValueError(
            f"durability must be one of {', '.join(map(repr, DURABILITIES))} (or None "
            f"for 'async'), got {durability!r}"
        )
    return durability  # pyright: ignore[reportReturnType] -- checked just above


class GraphInterrupt(BaseException):
    """Raised by ``interrupt()`` to stop the run; a BaseException so ``except Exception`` can't swallow it."""

    def __init__(self, interrupt: Interrupt, key: str) -> None:
        super().__init__(interrupt)
        self.interrupt = interrupt
        self.key = key


def interrupt_id(run_id: str, key: str) -> str:
    """A stable id for the interrupt at ``key`` of run ``run_id``."""
    return hashlib.blake2b(f"{run_id}:{key}".encode(), digest_size=16).hexdigest()


async def durably(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Await ``fn(*args)`` shielded from cancellation.

    A checkpoint write must land or fail, never be abandoned half-way by a
    cancelled run; the stores' own socket timeouts bound how long it takes.
    """
    with anyio.CancelScope(shield=True):
        return await fn(*args)
    raise AssertionError("unreachable: a shielded scope is never cancelled")


def interrupt(value: Any) -> Any:
    """Pause the run and surface ``value`` to the caller; returns the answer on resume.

    The caller gets ``{"__interrupt__": [Interrupt(value=..., id=...)]}`` and
    resumes with ``Command(resume=answer)`` on the same thread. Raises
    RuntimeError outside a run.
    """
    run, scope = current_run("interrupt()")
    key = scope.next_interrupt_key()
    if key in run.resumes:
        return run.resumes[key]
    raise GraphInterrupt(Interrupt(value=value, id=interrupt_id(run.run_id, key)), key)


class RunState:
    """The live state of one run, shared by its body and its tasks."""

    def __init__(
        self,
        *,
        name: str,
        thread_id: str,
        run_id: str,
        config: dict[str, Any],
        store: BaseStore | None,
        emitter: Emitter,
        journal: Journal,
        limiter: anyio.CapacityLimiter,
        tasks: Spawned,
        durability: Durability = "async",
        telemetry: Telemetry | None = None,
    ) -> None:
        self.name = name
        self.thread_id = thread_id
        self.run_id = run_id
        self.config = config
        self.store = store
        self.emitter = emitter
        self.journal = journal
        self.limiter = limiter
        self.durability: Durability = durability
        self.telemetry = telemetry
        self.body_done = False
        self.write_error: Exception | None = None
        self.results: dict[str, TaskRecord] = {}
        self.resumes: dict[str, Any] = {}
        self.interrupts: dict[str, Interrupt] = {}
        self.tasks = tasks
        self.body_scope: anyio.CancelScope | None = None
        self.pending = False
        """Set while tasks wait to start or a record waits to be written behind:
        the run's code tells ``before_yield`` when it next yields (``drive``)."""
        self._behind = False
        self._loop_thread = threading.get_ident()
        self._unstarted: list[
            tuple[Context, TaskFunction[Any, Any], Any, Any, TaskFuture[Any]]
        ] = []
        for record in journal.state.records:
            self._absorb(record)

    @property
    def writer(self) -> Callable[[Any], None]:
        """``writer(chunk)`` emits ``chunk`` in stream mode "custom"."""
        return partial(self.emitter.emit, "custom")

    def _absorb(self, record: TaskRecord) -> None:
        if record.kind == "result":
            self.results[record.task_id] = record
        elif record.kind == "resume":
            self.resumes[record.name] = loads(record.payload)
        elif record.kind == "interrupt":
            self.interrupts[record.name] = loads(record.payload)

    def pending_interrupts(self) -> list[Interrupt]:
        """Interrupts raised and not yet answered, in the order they were recorded."""
        return [i for key, i in self.interrupts.items() if key not in self.resumes]

    async def record(self, record: TaskRecord) -> None:
        """Durably record ``record`` (shielded, so a cancelled run still keeps it)."""
        await durably(self.journal.record, record)
        self._absorb(record)

    def call_task(
        self, task: TaskFunction[Any, Any], scope: CallScope, args: Any, kwargs: Any
    ) -> TaskFuture[Any]:
        """Schedule ``task`` (or replay its recorded result); callable from worker threads.

        On the loop, the task starts when the caller first awaits it (in
        place) or next yields, whichever comes first; from a worker thread
        (a sync body or task) it starts at once.
        """
        if threading.get_ident() != self._loop_thread:
            # Run on the loop by anyio (which tells sniffio); nobody on the loop
            # would see this caller yield, so the task starts at once.
            import anyio.from_thread  # (here: only sync bodies in threads need it)

            return anyio.from_thread.run_sync(
                self._schedule, task, scope, args, kwargs, True
            )
        return self._schedule(task, scope, args, kwargs)

    def _schedule(
        self,
        task: TaskFunction[Any, Any],
        scope: CallScope,
        args: Any,
        kwargs: Any,
        start: bool = False,
    ) -> TaskFuture[Any]:
        task_id = scope.next_call_id()
        future: TaskFuture[Any] = TaskFuture(task.name, task_id)
        recorded = self.results.get(task_id)
        if recorded is not None:
            if recorded.name != task.name:
                raise ReplayDivergedError(
                    f"call #{task_id} was task {recorded.name!r} when the run was recorded "
                    f"and is {task.name!r} now; task calls must not depend on "
                    "nondeterministic input (time, randomness, I/O outside tasks)"
                )
            future.set_result(loads(recorded.payload))
            if self.telemetry is not None:
                _telemetry.replayed(self.telemetry, task.name, task_id)
            return future
        if start:
            self._spawn(task, future, args, kwargs)
            return future
        # The first ``await`` of the future runs the task in place (no task,
        # no wake-ups); whatever is still unclaimed when the run's code next
        # yields starts then, as a task of its own (``before_yield``).
        # Either way the task runs in a copy of the context as of this call,
        # as it would in a task of its own.
        ctx = copy_context()
        future._start = partial(  # pyright: ignore[reportPrivateUsage]
            self._in_place, ctx, task, args, kwargs, future
        )
        self._unstarted.append((ctx, task, args, kwargs, future))
        self.pending = True
        return future

    def _in_place(
        self,
        ctx: Context,
        task: TaskFunction[Any, Any],
        args: Any,
        kwargs: Any,
        future: TaskFuture[Any],
    ) -> Awaitable[None]:
        coro = self._execute(task, future.task_id, args, kwargs, future, in_place=True)
        return drive(coro, ctx)

    def before_yield(self) -> None:
        """The run's code is about to yield: start unclaimed tasks, write records behind.

        Called by ``drive`` inside the yielding task's step, so anyio may be
        used here (never from a bare loop callback).
        """
        self.pending = False
        self.start_unstarted()
        if self._behind:
            self._behind = False
            # The body ran on until it yielded: if it has finished, its
            # commit carries the record; else the record is written now.
            if not self.body_done:
                self.tasks.start_soon(self._write_remembered)

    def start_unstarted(self) -> None:
        """Start every scheduled task nobody has awaited yet, each as a task of its own."""
        unstarted, self._unstarted = self._unstarted, []
        for ctx, task, args, kwargs, future in unstarted:
            if future.claim() is not None:  # the new task copies the context
                ctx.run(self._spawn, task, future, args, kwargs)

    def _spawn(
        self,
        task: TaskFunction[Any, Any],
        future: TaskFuture[Any],
        args: Any,
        kwargs: Any,
    ) -> None:
        self.tasks.start_soon(
            self._execute, task, future.task_id, args, kwargs, future, name=task.name
        )

    async def _execute(
        self,
        task: TaskFunction[Any, Any],
        task_id: str,
        args: Any,
        kwargs: Any,
        future: TaskFuture[Any],
        *,
        in_place: bool = False,
    ) -> None:
        self.emitter.task(task_id, task.name, args)
        try:
            if (tel := self.telemetry) is not None:  # one span over all the attempts
                calls = self._attempts(task, task_id, args, kwargs)
                value = await _telemetry.traced_task(tel, task.name, task_id, calls)
            elif task.retry is None:  # one attempt: no retry loop to go through
                value = await self.call_in_scope(
                    CallScope(task_id, task.name), task.fn, task.is_async, args, kwargs
                )
            else:
                value = await self._attempts(task, task_id, args, kwargs)
            record = TaskRecord(
                task_id=task_id, name=task.name, kind="result", payload=dumps(value)
            )
            if self.durability == "sync":
                await self.record(record)
            else:
                self.journal.remember(record)
                self._absorb(record)
        except GraphInterrupt as exc:
            await self.record_interrupt(exc)
            future.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 -- task boundary: the error goes to whoever awaits the future
            self.emitter.debug(
                "task_result", {"id": task_id, "name": task.name, "error": repr(exc)}
            )
            future.set_exception(exc)
        else:
            self.emitter.task_result(task_id, task.name, value)
            future.set_result(value)
            if self.durability == "async":
                if in_place:  # the caller goes on: decide when the run next yields
                    self._behind = self.pending = True
                else:
                    await self._write_behind()
        finally:
            if not future.done():
                future.set_exception(
                    RunCancelledError(f"task {task.name!r} was cancelled")
                )

    async def _write_behind(self) -> None:
        # Let the body run first: one that finishes now commits the remembered
        # records with its checkpoint, and nothing is written here. Two steps:
        # trio may run this task before the woken body within one.
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        if not self.body_done:
            await self._write_remembered()

    async def _write_remembered(self) -> None:
        try:
            await durably(self.journal.write_behind)
        except Exception as exc:  # noqa: BLE001 -- the run stops and raises it (RunTurn)
            if self.write_error is None:
                self.write_error = exc
            self.tasks.cancel()
            if self.body_scope is not None:
                self.body_scope.cancel()

    async def _attempts(
        self, task: TaskFunction[Any, Any], task_id: str, args: Any, kwargs: Any
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.call_in_scope(
                    CallScope(task_id, task.name), task.fn, task.is_async, args, kwargs
                )
            except GraphInterrupt:
                raise
            except Exception as exc:
                policy = task.retry_for(exc)  # the first whose retry_on matches
                if policy is None or attempt >= policy.max_attempts:
                    raise
                self.emitter.debug(
                    "task_retry",
                    {"id": task_id, "attempt": attempt, "error": repr(exc)},
                )
                if self.telemetry is not None:
                    _telemetry.retrying(attempt + 1, exc)
                await anyio.sleep(policy.delay(attempt))

    async def call_in_scope(
        self,
        scope: CallScope,
        fn: Callable[..., Any],
        is_async: bool,
        args: Any,
        kwargs: Any,
        *,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> Any:
        """Call ``fn`` with this run and ``scope`` as the context.

        A sync ``fn`` runs in a worker thread from ``limiter`` (default: the
        tasks' pool).
        """
        # A task's context is a copy of its caller's: the run is set already.
        run_token = None if RUN_VAR.get() is self else RUN_VAR.set(self)
        scope_token = SCOPE_VAR.set(scope)
        try:
            if is_async:
                return await drive(fn(*args, **kwargs), None, self)
            return await anyio.to_thread.run_sync(
                lambda: fn(*args, **kwargs), limiter=limiter or self.limiter
            )
        finally:
            SCOPE_VAR.reset(scope_token)
            if run_token is not None:
                RUN_VAR.reset(run_token)

    async def record_interrupt(self, exc: GraphInterrupt) -> None:
        """Record a raised interrupt so a later resume can answer it by id."""
        if exc.key not in self.interrupts:
            await self.record(
                TaskRecord(
                    task_id=f"interrupt:{exc.key}",
                    name=exc.key,
                    kind="interrupt",
                    payload=dumps(exc.interrupt),
                )
            )
