"""``ThreadActor``: one conversation thread, one run at a time.

On activation it loads the thread (latest checkpoint, pending run, recorded
task results) and only then reports ready. Each ``Submit`` carries a
``Turn`` (the runtime's run logic); the actor runs turns one at a time and
applies the multitask strategy of a request that arrives while it is busy:

- ``enqueue``: run after the current one (FIFO);
- ``reject``: fail at once with ThreadBusyError;
- ``interrupt``: cancel the current run, keep its recorded progress, run this;
- ``rollback``: cancel the current run, discard its progress, run this.

Whatever a turn made durable is written before the asker gets its reply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

import anyio
import msgspec

from stores import CheckpointSaver, ThreadState

from ._actor import Envelope, fail_all
from ._errors import RunCancelledError, ThreadBusyError
from ._journal import Journal
from ._system import Actor

Strategy = Literal["enqueue", "reject", "interrupt", "rollback"]
STRATEGIES: tuple[Strategy, ...] = ("enqueue", "reject", "interrupt", "rollback")
_CLEANUP_SECONDS = 10.0


class Turn(Protocol):
    """One request's work on a thread, implemented by the runtime."""

    async def __call__(self, journal: Journal) -> Any:
        """Run, using ``journal`` to make progress durable; the return value is the reply."""
        ...


class Submit(msgspec.Struct, frozen=True):
    """Run ``turn`` on the thread under ``strategy`` if the thread is busy."""

    turn: Turn
    strategy: Strategy = "enqueue"


class ThreadStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a thread actor."""

    thread_id: str
    busy: bool
    queued: int
    mailbox: int
    turns: int
    version: int


class _Active:
    __slots__ = ("cancel_reason", "env", "journal", "scope")

    def __init__(self, env: Envelope[Submit], journal: Journal) -> None:
        self.env = env
        self.journal = journal
        self.scope = anyio.CancelScope()
        self.cancel_reason: Strategy | None = None


class ThreadActor(Actor[Submit]):
    """Serializes runs on one thread and keeps its state warm between them."""

    def __init__(
        self,
        thread_id: str,
        saver: CheckpointSaver,
        *,
        mailbox_size: int,
        idle_timeout: float,
        on_release: Callable[[], None],
    ) -> None:
        super().__init__(f"thread:{thread_id}", mailbox_size=mailbox_size)
        self.thread_id = thread_id
        self._saver = saver
        self._idle_timeout = idle_timeout
        self._on_release = on_release
        self._state = ThreadState()
        self._queue: deque[Envelope[Submit]] = deque()
        self._queue_max = mailbox_size
        self._room = anyio.Event()
        self._active: _Active | None = None
        self._turns = 0
        self._last_activity = 0.0
        self._tg: anyio.abc.TaskGroup | None = None
        self._wake = anyio.Event()
        self._receiving = True

    async def on_start(self) -> None:
        self._state = await self._saver.aload(self.thread_id)
        self._last_activity = anyio.current_time()

    @property
    def idle(self) -> bool:
        return self._active is None and not self._queue and len(self.mailbox) == 0

    def statistics(self) -> ThreadStats:
        """Busy flag, queue depths, turn count and checkpoint version (never blocks)."""
        return ThreadStats(
            thread_id=self.thread_id,
            busy=self._active is not None,
            queued=len(self._queue),
            mailbox=len(self.mailbox),
            turns=self._turns,
            version=self._state.version,
        )

    async def main(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                await self._serve()
        finally:
            reason = f"thread {self.thread_id!r} stopped before the request started"
            fail_all(list(self._queue), reason, retriable=False)
            self._queue.clear()

    async def _serve(self) -> None:
        assert self._tg is not None
        watch = anyio.CancelScope()
        self._tg.start_soon(self._watch_idle, watch)
        self._tg.start_soon(
            self._run_turns
        )  # one runner per activation, not a task per turn
        try:
            await self._receive_loop()
        finally:
            watch.cancel()
            self._receiving = False
            self._wake.set()  # the runner finishes its turn, then stops

    async def _receive_loop(self) -> None:
        while True:
            while len(self._queue) >= self._queue_max:
                self._room = anyio.Event()
                await self._room.wait()
            try:
                env = await self.mailbox.receive()
            except anyio.EndOfStream:
                return
            if self.mailbox.statistics().closed:
                # passivating: a fresh activation will take it (it never started)
                fail_all(
                    [env], f"thread {self.thread_id!r} is stopping", retriable=True
                )
                continue
            self._last_activity = anyio.current_time()
            self._dispatch(env)

    async def _watch_idle(self, watch: anyio.CancelScope) -> None:
        # A timer beside the receive loop, never a timeout around receive():
        # cancelling a receive at the wrong moment can lose a delivered message.
        with watch:
            while True:
                idle_for = anyio.current_time() - self._last_activity
                if self.idle and idle_for >= self._idle_timeout:
                    self._on_release()
                    self.mailbox.close()  # later messages fail as retriable
                    return
                await anyio.sleep(
                    max(self._idle_timeout - idle_for, self._idle_timeout / 10)
                )

    def _dispatch(self, env: Envelope[Submit]) -> None:
        active = self._active
        strategy = env.msg.strategy
        if (active is None and not self._queue) or strategy == "enqueue":
            self._queue.append(env)
            self._wake.set()
        elif strategy == "reject":
            env.fail(
                ThreadBusyError(
                    f"thread {self.thread_id!r} is busy with another run and "
                    "multitask_strategy is 'reject'; retry later or use 'enqueue'"
                )
            )
        else:
            self._queue.appendleft(env)
            self._wake.set()
            if active is not None and active.cancel_reason is None:
                active.cancel_reason = strategy
                active.scope.cancel()

    async def _run_turns(self) -> None:
        while True:
            if self._queue and self.mailbox.statistics().closed:
                reason = f"thread {self.thread_id!r} stopped before the request started"
                fail_all(list(self._queue), reason, retriable=True)
                self._queue.clear()
            if not self._queue:
                if not self._receiving:
                    return
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            env = self._queue.popleft()
            self._room.set()
            self._active = _Active(
                env, Journal(self._saver, self.thread_id, self._state)
            )
            await self._run_turn(self._active)

    async def _run_turn(self, active: _Active) -> None:
        env = active.env
        try:
            with active.scope:
                try:
                    result = await env.msg.turn(active.journal)
                except Exception as exc:  # noqa: BLE001 -- per-message boundary: the error goes to the asker
                    env.fail(exc)
                else:
                    env.succeed(result)
            if active.cancel_reason is not None and not env.reply_done:
                await self._after_cancel(active)
        finally:
            if not env.reply_done:
                env.fail(
                    RunCancelledError(f"run on thread {self.thread_id!r} was cancelled")
                )
            self._state = active.journal.state
            self._turns += 1
            self._active = None
            self._last_activity = anyio.current_time()

    async def _after_cancel(self, active: _Active) -> None:
        if active.cancel_reason == "rollback":
            what = "its progress was discarded (multitask_strategy='rollback')"
        else:
            what = (
                "its finished tasks are kept (multitask_strategy='interrupt'); "
                "invoke with input None to resume it"
            )
        with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
            if active.cancel_reason == "rollback":
                await active.journal.discard()
            else:
                await active.journal.flush()
        active.env.fail(
            RunCancelledError(
                f"run on thread {self.thread_id!r} was stopped by a newer request: {what}"
            )
        )
