"""The bounded mailbox every actor reads from."""

from __future__ import annotations

import math
from typing import Generic, Protocol, TypeVar

import anyio
import msgspec

from ._errors import ActorDeadError, MailboxFullError

T = TypeVar("T")


class MailboxStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a mailbox: queued messages, capacity, whether it is closed."""

    depth: int
    capacity: float
    waiting_senders: int
    closed: bool


class MailboxLike(Protocol[T]):
    """What refs and the actor base need from a mailbox."""

    async def send(self, item: T) -> None: ...
    def send_nowait(self, item: T) -> None: ...
    async def receive(self) -> T: ...
    def receive_nowait(self) -> T: ...
    def close(self, *, retriable: bool = True) -> None: ...
    def drain(self) -> list[T]: ...
    def __len__(self) -> int: ...
    def statistics(self) -> MailboxStats: ...


class Mailbox(Generic[T]):
    """A bounded FIFO: senders wait when it is full (backpressure).

    ``close()`` stops new sends; the owner then drains what is left and fails
    it, so nothing is dropped silently.
    """

    __slots__ = ("_closed", "_drained", "_recv", "_retriable", "_send")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"mailbox size must be at least 1, got {size}")
        buffer = math.inf if size == math.inf else size
        self._send, self._recv = anyio.create_memory_object_stream[T](buffer)
        self._closed = False
        self._drained = False
        self._retriable = True

    async def send(self, item: T) -> None:
        """Enqueue ``item``, waiting while the mailbox is full.

        With room to spare it returns without a scheduling step, as
        ``RoutedMailbox.send`` does: an ``ask`` waits for its reply anyway.
        Raises ActorDeadError(retriable=True) if the mailbox is closed.
        """
        try:
            try:
                self._send.send_nowait(item)
            except anyio.WouldBlock:
                await self._send.send(item)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ActorDeadError(
                "actor has stopped", retriable=self._retriable
            ) from None

    def send_nowait(self, item: T) -> None:
        """Enqueue ``item`` without waiting.

        Raises MailboxFullError when full, ActorDeadError when closed.
        """
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            raise MailboxFullError(
                f"mailbox full ({self._send.statistics().max_buffer_size:g} messages); "
                "use the waiting send or a larger mailbox_size"
            ) from None
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ActorDeadError(
                "actor has stopped", retriable=self._retriable
            ) from None

    async def receive(self) -> T:
        """The next message; raises anyio.EndOfStream once closed and empty."""
        return await self._recv.receive()

    def receive_nowait(self) -> T:
        """The next message without waiting; raises anyio.WouldBlock or anyio.EndOfStream."""
        return self._recv.receive_nowait()

    def close(self, *, retriable: bool = True) -> None:
        """Refuse new messages; queued ones stay for the owner to drain.

        ``retriable=False`` (the owner crashed) tells refused senders that
        sending again to a fresh activation is not safe to do blindly.
        """
        if not self._closed:
            self._retriable = retriable
        self._closed = True
        self._send.close()

    def drain(self) -> list[T]:
        """Close and return every queued message (including those of waiting senders)."""
        self.close()
        items: list[T] = []
        if self._drained:
            return items
        self._drained = True
        while True:
            try:
                items.append(self._recv.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        self._recv.close()
        return items

    def __len__(self) -> int:
        return self._recv.statistics().current_buffer_used

    def statistics(self) -> MailboxStats:
        """Queue depth, capacity, waiting senders and closed flag (never blocks)."""
        s = self._recv.statistics()
        return MailboxStats(
            depth=s.current_buffer_used,
            capacity=s.max_buffer_size,
            waiting_senders=s.tasks_waiting_send,
            closed=self._closed,
        )
