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

import math
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

import anyio
import msgspec

from stores import CheckpointSaver, ThreadState

from ._actor import Envelope
from ._errors import RunCancelledError, ThreadBusyError
from ._journal import Journal
from ._routed import RoutedMailbox
from ._system import Actor
from ._telemetry import Telemetry

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
    """Serializes runs on one thread and keeps its state warm between them.

    One task per warm thread: it takes requests from a ``RoutedMailbox``
    (which applies the multitask strategy the moment a request arrives)
    and runs them. Once it has been idle for ``idle_timeout`` seconds, the
    actor system's sweeper calls ``expire``: it calls ``on_release`` and stops.
    (A sweep, not a timer per wait: at a thousand warm threads, arming and
    cancelling a timer per turn was a measurable share of the loop's time.)
    """

    def __init__(
        self,
        thread_id: str,
        saver: CheckpointSaver,
        *,
        mailbox_size: int,
        idle_timeout: float,
        on_release: Callable[[], None],
        telemetry: Telemetry | None = None,
    ) -> None:
        super().__init__(
            f"thread:{thread_id}",
            mailbox_size=mailbox_size,
            mailbox=RoutedMailbox(mailbox_size, self._route),
        )
        self.thread_id = thread_id
        self._saver = saver
        self.idle_timeout = idle_timeout
        self._idle_since = math.inf  # set once loaded: not expired before it ran
        self._on_release = on_release
        self._state = ThreadState()
        self._active: _Active | None = None
        self._turns = 0
        self._telemetry = telemetry

    async def on_start(self) -> None:
        loading = self._saver.aload(self.thread_id)
        tel = self._telemetry
        self._state = await (
            loading if tel is None else tel.load(self, loading, self.thread_id)
        )
        self._idle_since = anyio.current_time()

    @property
    def idle(self) -> bool:
        return self._active is None and len(self.mailbox) == 0

    def statistics(self) -> ThreadStats:
        """Busy flag, queue depth, turn count and checkpoint version (never blocks)."""
        queued = len(self.mailbox)
        return ThreadStats(
            thread_id=self.thread_id,
            busy=self._active is not None,
            queued=queued,
            mailbox=queued,
            turns=self._turns,
            version=self._state.version,
        )

    def expire(self, now: float) -> None:
        # Synchronous, so no request can be filed between the check and the
        # close: a sender that comes later is refused as retriable and goes
        # to a fresh activation.
        if self.idle and now - self._idle_since >= self.idle_timeout:
            self._on_release()
            self.mailbox.close(retriable=True)

    async def main(self) -> None:
        if self._telemetry is not None:
            self._telemetry.forget_spawner()
        try:
            await self._serve()
        finally:
            if self._telemetry is not None:
                self._telemetry.passivated(self)

    async def _serve(self) -> None:
        while True:
            try:
                env = await self.mailbox.receive()
            except anyio.EndOfStream:
                return  # closed: stopped, or expired (run() fails what is left)
            active = self._active = _Active(
                env, Journal(self._saver, self.thread_id, self._state, self._telemetry)
            )
            await self._run_turn(active)
            del env, active  # an idle actor keeps its state, not its last request

    def _route(self, env: Envelope[Submit], buffer: deque[Envelope[Submit]]) -> None:
        # Called in the sender's task the moment a request arrives, even
        # while a turn runs: this is where the multitask strategy applies.
        active = self._active
        strategy = env.msg.strategy
        if (active is None and not buffer) or strategy == "enqueue":
            buffer.append(env)
        elif strategy == "reject":
            env.fail(
                ThreadBusyError(
                    f"thread {self.thread_id!r} is busy with another run and "
                    "multitask_strategy is 'reject'; retry later or use 'enqueue'"
                )
            )
        else:
            buffer.appendleft(env)
            if active is not None and active.cancel_reason is None:
                active.cancel_reason = strategy
                active.scope.cancel()

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
            self._idle_since = anyio.current_time()

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
