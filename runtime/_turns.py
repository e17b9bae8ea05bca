"""The turns the runtime hands to thread actors: a run, or a state update."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import anyio

from actors import Telemetry
from stores import BaseCache, BaseStore, Checkpoint, PendingRun, TaskRecord

from ._context import INJECTED_VAR, CallScope
from ._errors import NothingToResumeError
from ._injected import ExecutionInfo, InjectedRuntime
from ._langchain_stream import langchain_config
from ._run_state import Durability, GraphInterrupt, RunState, durably
from ._serde import dumps, loads
from ._spawned import Spawned, StartSoon
from ._stream import Emitter, task_event
from ._types import Command, EntrypointFinal, Interrupt
from ._views import checkpoint_event

if TYPE_CHECKING:
    from actors import Journal

INJECTABLE = ("previous", "store", "config", "writer", "runtime")


class EntrySpec:
    """What a run needs to know about the decorated entrypoint function."""

    __slots__ = ("fn", "inject", "is_async", "name")

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        self.is_async = inspect.iscoroutinefunction(fn)
        params = inspect.signature(fn).parameters
        positional = [
            p
            for p in params.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not positional or positional[0].name in INJECTABLE:
            raise TypeError(
                f"entrypoint {name!r} must take the input as its first positional parameter, "
                "e.g. def workflow(inputs, *, previous=None)"
            )
        self.inject = tuple(n for n in INJECTABLE if n in params)


class RunTurn:
    """Start or continue a run of ``spec`` on one thread."""

    trace: Mapping[str, str] = MappingProxyType({})
    """A forwarded request's tracing carrier (``Request.trace``); empty for a local call."""

    def __init__(
        self,
        spec: EntrySpec,
        input: Any,
        *,
        config: dict[str, Any],
        store: BaseStore | None,
        emitter: Emitter,
        limiter: anyio.CapacityLimiter,
        body_limiter: anyio.CapacityLimiter,
        start_soon: StartSoon,
        durability: Durability = "async",
        context: Any = None,
        fork: Checkpoint | None = None,
        metadata: dict[str, Any] | None = None,
        checkpoint_ns: str = "",
        cache: BaseCache | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.cache = cache
        self.spec = spec
        self.context = context
        self.fork = fork
        """The older checkpoint this run starts from (time travel), or None: the latest."""
        self.metadata = metadata or {}
        """What the checkpoint's metadata records besides source and run id (tags, run_name, ...)."""
        self.checkpoint_ns = checkpoint_ns
        self.start_soon = start_soon
        self.durability: Durability = durability
        self.input = input
        self.config = config
        self.store = store
        self.emitter = emitter
        self.limiter = limiter
        self.body_limiter = body_limiter
        self.telemetry = telemetry  # (its run span: runtime/_telemetry.TracedTurn)
        self.run_id: str | None = None
        if not isinstance(input, Command) and input is not None:
            self._input_bytes = dumps(
                input
            )  # fail on bad input before the thread is touched

    async def __call__(self, journal: Journal) -> Any:
        try:
            rs, input_value, previous = self._start(journal)
            if isinstance(self.input, Command):
                await _apply_resume(rs, self.input.resume)
            return await self._execute(rs, input_value, previous)
        finally:
            self.emitter.close()

    def _start(self, journal: Journal) -> tuple[RunState, Any, Any]:
        """The run's state, its input and ``previous``: a fresh run, or the pending one."""
        state = journal.state
        self._check_fork(journal)
        resume = isinstance(self.input, Command)
        if resume and state.run is None:
            raise NothingToResumeError(
                f"thread {journal.thread_id!r} has no interrupted run to resume; "
                "send a normal input instead of Command(resume=...)"
            )
        if resume or (self.input is None and state.run is not None):
            assert state.run is not None
            input_value = loads(state.run.input)
            self._resume_fork(journal.thread_id, state.run)
        else:
            fork = self.fork  # kept with the run, so its resume forks too
            meta = None if fork is None else {"fork_id": fork.checkpoint_id, "fork_value": fork.value}  # fmt: skip
            journal.start_run(
                dumps(self.input) if self.input is None else self._input_bytes, meta
            )
            input_value = self.input
        assert journal.run is not None
        self.run_id = journal.run.run_id
        rs = RunState(
            name=self.spec.name,
            thread_id=journal.thread_id,
            run_id=journal.run.run_id,
            config=self.config,
            store=self.store,
            emitter=self.emitter,
            journal=journal,
            limiter=self.limiter,
            tasks=Spawned(self.start_soon),
            durability=self.durability,
            telemetry=self.telemetry,
        )
        if self.fork is not None:  # a fork's save is its value (see _check_fork)
            previous = loads(self.fork.value)
        else:
            previous = loads(state.latest.save) if state.latest is not None else None
        return rs, input_value, previous

    def _resume_fork(self, thread_id: str, run: PendingRun) -> None:
        """A resumed run that forked from an older checkpoint forks from it again."""
        fork_id, value = run.metadata.get("fork_id"), run.metadata.get("fork_value")
        if isinstance(fork_id, str) and isinstance(value, bytes):
            self.fork = Checkpoint(
                thread_id=thread_id,
                version=0,  # only its id (the commit's parent) and value are read
                checkpoint_id=fork_id,
                created_at=0.0,
                value=value,
                save=b"",
            )

    def _check_fork(self, journal: Journal) -> None:
        """Drop a fork from the latest checkpoint (a plain run); ValueError for one we cannot make."""
        fork, latest = self.fork, journal.state.latest
        if fork is None:
            return
        if latest is not None and fork.checkpoint_id == latest.checkpoint_id:
            self.fork = None
            return
        if self.input is None or isinstance(self.input, Command):
            raise ValueError(
                f"checkpoint {fork.checkpoint_id!r} is not the thread's latest: resuming "
                "or replaying from an older checkpoint is not supported; invoke with a "
                "new input to fork the thread from it"
            )
        if fork.metadata.get("save_differs"):
            raise ValueError(
                f"checkpoint {fork.checkpoint_id!r} kept entrypoint.final(save=...) apart "
                "from its value, and a save is stored only while its checkpoint is the "
                "latest: the thread cannot fork from it"
            )

    async def _execute(self, rs: RunState, input_value: Any, previous: Any) -> Any:
        token = INJECTED_VAR.set(self._runtime(rs, previous))
        try:
            callbacks = self.config.get("callbacks")
            async with langchain_config(rs, callbacks, input_value) as outcome:
                outcome.value = await self._run_body(rs, input_value, previous)
            return outcome.value
        finally:
            INJECTED_VAR.reset(token)

    async def _run_body(self, rs: RunState, input_value: Any, previous: Any) -> Any:
        kwargs = self._injected(rs, previous)
        error: Exception | None = None
        interrupted = False
        value: Any = None
        if rs.emitter.modes:  # (ainvoke streams nothing: no events to build)
            rs.emitter.debug(
                "run",
                {"run_id": rs.run_id, "name": self.spec.name, "input": input_value},
            )
            rs.emitter.emit(  # the body is a task of its own in LangGraph's "tasks" mode
                "tasks",
                task_event(
                    "task",
                    {"id": rs.run_id, "name": self.spec.name, "input": input_value},
                ),
            )
        tasks = rs.tasks
        try:
            with anyio.CancelScope() as rs.body_scope:  # a failed write behind stops it
                try:
                    value = await rs.call_in_scope(
                        CallScope("", self.spec.name),
                        self.spec.fn,
                        self.spec.is_async,
                        (input_value,),
                        kwargs,
                        limiter=self.body_limiter,  # own pool: bodies waiting on tasks cannot starve them
                    )
                except GraphInterrupt as exc:
                    rs.body_done = True
                    await rs.record_interrupt(exc)
                    interrupted = True
                except Exception as exc:  # noqa: BLE001 -- stop the run's tasks, keep progress, then re-raise below
                    error = exc
                    tasks.cancel()
                finally:
                    rs.body_done = True
                    rs.start_unstarted()  # tasks called and never awaited still run
            await tasks.join()
        except (
            BaseException
        ):  # the run was cancelled: so are its tasks, which end first
            tasks.cancel()
            with anyio.CancelScope(shield=True):
                await tasks.join()
            raise
        if rs.write_error is not None:  # a written-behind record failed: the run stops
            raise rs.write_error
        if error is not None or interrupted:
            await durably(rs.journal.flush)
            if error is not None:
                raise error
            return self._interrupted(rs)
        return await self._commit(rs, value)

    def _injected(self, rs: RunState, previous: Any) -> dict[str, Any]:
        available = {
            "previous": previous,
            "store": self.store,
            "config": self.config,
            "writer": rs.writer,
            "runtime": INJECTED_VAR.get(),
        }
        return {name: available[name] for name in self.spec.inject}

    def _runtime(self, rs: RunState, previous: Any) -> InjectedRuntime[Any]:
        latest = rs.journal.state.latest
        info = ExecutionInfo(
            checkpoint_id=latest.checkpoint_id if latest is not None else None,
            checkpoint_ns=self.checkpoint_ns,
            task_id=rs.run_id,
            thread_id=rs.thread_id,
            run_id=rs.run_id,
        )
        return InjectedRuntime(
            context=self.context,
            store=self.store,
            stream_writer=rs.writer,
            previous=previous,
            execution_info=info,
            cache=self.cache,
        )

    def _interrupted(self, rs: RunState) -> dict[str, list[Interrupt]]:
        pending = rs.pending_interrupts()
        rs.emitter.emit("updates", {"__interrupt__": tuple(pending)})
        rs.emitter.emit("values", {"__interrupt__": tuple(pending)})
        return {"__interrupt__": pending}

    async def _commit(self, rs: RunState, result: Any) -> Any:
        if isinstance(result, EntrypointFinal):
            final = cast("EntrypointFinal[Any, Any]", result)
            value, save = final.value, final.save
        else:
            value = save = result
        value_bytes = dumps(value)
        save_bytes = value_bytes if save is value else dumps(save)
        metadata: dict[str, Any] = {
            **self.metadata,
            "source": "loop",
            "step": rs.journal.state.version,
            "parents": {},
            "run_id": rs.run_id,
        }
        if save_bytes != value_bytes:
            metadata["save_differs"] = True  # time travel cannot fork from it later
        checkpoint = await durably(
            rs.journal.commit, value_bytes, save_bytes, metadata, self.fork
        )
        if rs.emitter.modes:  # (ainvoke streams nothing: no events to build)
            self._emit_commit(rs, value, checkpoint)
        return value

    def _emit_commit(self, rs: RunState, value: Any, checkpoint: Checkpoint) -> None:
        emitter = rs.emitter
        emitter.emit(
            "tasks",
            task_event(
                "task_result",
                {"id": rs.run_id, "name": self.spec.name, "result": value},
            ),
        )
        emitter.emit("updates", {self.spec.name: value})
        emitter.emit("values", value)
        if emitter.wants("checkpoints"):  # (decodes the value again)
            emitter.emit("checkpoints", checkpoint_event(self.spec.name, checkpoint))
        emitter.debug("checkpoint", _checkpoint_payload(checkpoint))


async def _apply_resume(rs: RunState, resume: Any) -> None:
    pending = [(key, i) for key, i in rs.interrupts.items() if key not in rs.resumes]
    if not pending:
        raise NothingToResumeError(
            f"thread {rs.thread_id!r} has no pending interrupt; invoke with None to resume a failed run"
        )
    by_id = {i.id: key for key, i in pending}
    answers: dict[str, Any]
    asked = cast("dict[str, Any]", resume) if isinstance(resume, dict) else None
    if asked and all(k in by_id for k in asked):
        answers = {by_id[k]: v for k, v in asked.items()}
    elif len(pending) == 1:
        answers = {pending[0][0]: resume}
    else:
        ids = ", ".join(i.id for _, i in pending)
        raise ValueError(
            f"{len(pending)} interrupts are pending ({ids}); resume with "
            "Command(resume={interrupt_id: answer, ...})"
        )
    for key, answer in answers.items():
        await rs.record(
            TaskRecord(
                task_id=f"resume:{key}", name=key, kind="resume", payload=dumps(answer)
            )
        )


def _checkpoint_payload(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "checkpoint_id": checkpoint.checkpoint_id,
        "version": checkpoint.version,
        "metadata": checkpoint.metadata,
    }


class UpdateTurn:
    """``update_state``: commit ``values`` as the thread's state and next ``previous``."""

    request_id: str | None = None

    def __init__(self, values: Any, as_node: str | None, entry_name: str = "") -> None:
        self.values_bytes = dumps(values)
        self.as_node = as_node
        self.entry_name = entry_name

    async def __call__(self, journal: Journal) -> Checkpoint:
        metadata: dict[str, Any] = {"source": "update", "as_node": self.as_node}
        if self.request_id is not None:
            metadata["request_id"] = self.request_id
        data = self.values_bytes
        return await durably(journal.commit, data, data, metadata)
