"""Envelopes, replies and ``ActorRef``: how callers talk to an actor.

Callers hold an ``ActorRef``, never the actor: the actor's state is touched
only from the actor's own tasks. An ``ask`` puts an envelope with a reply slot
in the mailbox and waits for the slot to be filled with a value or an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from stores._shared import SignalLike, new_signal

from ._errors import ActorDeadError, MailboxFullError
from ._mailbox import MailboxLike, MailboxStats

M = TypeVar("M")


class Reply:
    """A one-shot slot an actor fills with a value or an exception."""

    __slots__ = ("_callbacks", "_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = new_signal()
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], object]] = []

    def on_done(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` (synchronously) once the reply is delivered."""
        if self._done.is_set():
            callback()
        else:
            self._callbacks.append(callback)

    def _finish(self) -> None:
        self._done.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @property
    def done(self) -> bool:
        """True once a value or error was set."""
        return self._done.is_set()

    def set_result(self, value: Any) -> None:
        """Deliver ``value``; later deliveries are ignored."""
        if not self._done.is_set():
            self._value = value
            self._finish()

    def set_error(self, error: BaseException) -> None:
        """Deliver ``error``, raised in the asker; later deliveries are ignored."""
        if not self._done.is_set():
            self._error = error
            self._finish()

    @property
    def error(self) -> BaseException | None:
        """The error delivered (None: a value, or nothing yet)."""
        return self._error

    @property
    def value(self) -> Any:
        """The value delivered (None until then, or with an error)."""
        return self._value

    async def wait(self) -> Any:
        """Wait for the reply; return the value or raise the error."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class Envelope(Generic[M]):
    """A message plus the reply slot of an ``ask`` (None for ``tell``)."""

    __slots__ = ("msg", "reply")

    def __init__(self, msg: M, reply: Reply | None) -> None:
        self.msg = msg
        self.reply = reply

    @property
    def reply_done(self) -> bool:
        """True if nobody waits for a reply or it was already given."""
        return self.reply is None or self.reply.done

    def fail(self, error: BaseException) -> None:
        """Fail the asker, if any, with ``error``."""
        if self.reply is not None:
            self.reply.set_error(error)

    def succeed(self, value: Any) -> None:
        """Answer the asker, if any, with ``value``."""
        if self.reply is not None:
            self.reply.set_result(value)


def fail_all(envelopes: list[Envelope[Any]], reason: str, *, retriable: bool) -> None:
    """Fail every envelope's asker with ActorDeadError (close, drain, fail)."""
    for env in envelopes:
        env.fail(ActorDeadError(reason, retriable=retriable))


class ActorRef(Generic[M]):
    """The handle callers use to reach an actor."""

    __slots__ = ("_mailbox", "_stopped", "name")

    def __init__(
        self, name: str, mailbox: MailboxLike[Envelope[M]], stopped: SignalLike
    ) -> None:
        self.name = name
        self._mailbox = mailbox
        self._stopped = stopped

    async def tell(self, msg: M) -> None:
        """Send without waiting for a reply; waits while the mailbox is full.

        Raises ActorDeadError if the actor has stopped.
        """
        await self._mailbox.send(Envelope(msg, None))

    def tell_nowait(self, msg: M) -> None:
        """Send without waiting at all; raises MailboxFullError or ActorDeadError."""
        self._mailbox.send_nowait(Envelope(msg, None))

    async def ask(self, msg: M) -> Any:
        """Send and wait for the reply; re-raises the handler's error here.

        Cancelling the asker does not cancel the request once it is queued.
        Raises ActorDeadError if the actor stops first.
        """
        reply = await self.send(msg)
        return await reply.wait()

    async def send(self, msg: M) -> Reply:
        """Queue ``msg`` (waiting while the mailbox is full) and return its reply slot.

        Raises ActorDeadError(retriable=True) if the mailbox is closed.
        """
        reply = Reply()
        await self._mailbox.send(Envelope(msg, reply))
        return reply

    def send_nowait(self, msg: M) -> Reply | None:
        """Queue ``msg`` without waiting; its reply slot, or None if the mailbox is full or closed."""
        reply = Reply()
        try:
            self._mailbox.send_nowait(Envelope(msg, reply))
        except (MailboxFullError, ActorDeadError):
            return None
        return reply

    def stop(self) -> None:
        """Ask the actor to stop: its mailbox refuses new messages (never blocks)."""
        self._mailbox.close()

    @property
    def stopped(self) -> bool:
        """True once the actor's task has ended."""
        return self._stopped.is_set()

    async def wait_stopped(self) -> None:
        """Wait until the actor's task has ended."""
        await self._stopped.wait()

    def mailbox_statistics(self) -> MailboxStats:
        """A snapshot of the mailbox (never blocks)."""
        return self._mailbox.statistics()

    def __repr__(self) -> str:
        return f"<ActorRef {self.name}>"
