"""``RoutedMailbox``: a bounded mailbox that files each message as it is sent.

The stream-based ``Mailbox`` needs a task blocked in ``receive()`` to see a
message. A thread actor must also react to messages *while* it runs a turn
(reject, interrupt, rollback), which would take a second task per actor.
Here the owner's ``route`` callback files each message into the buffer the
moment it is sent (at the back, at the front, or not at all), on the event
loop thread and without awaiting, so the actor needs just one task: the one
that takes messages from the buffer and runs them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio

from stores._shared import SignalLike, new_signal

from ._errors import ActorDeadError, MailboxFullError
from ._mailbox import MailboxStats

T = TypeVar("T")


class RoutedMailbox(Generic[T]):
    """A bounded buffer filled by ``route(item, buffer)`` at send time.

    Senders wait while the buffer is full (backpressure). ``close()`` refuses
    new messages; the owner drains and fails what is left.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_ready",
        "_retriable",
        "_room",
        "_route",
        "_size",
        "_waiting",
    )

    def __init__(self, size: int, route: Callable[[T, deque[T]], None]) -> None:
        if size < 1:
            raise ValueError(f"mailbox size must be at least 1, got {size}")
        self._size = size
        self._route = route
        self._buffer: deque[T] = deque()
        self._closed = False
        self._retriable = True
        self._ready = new_signal()
        self._room: SignalLike | None = None
        self._waiting = 0

    async def send(self, item: T) -> None:
        """File ``item``, waiting while the buffer is full; ActorDeadError once closed."""
        while len(self._buffer) >= self._size and not self._closed:
            if self._room is None:
                self._room = new_signal()
            self._waiting += 1
            try:
                await self._room.wait()
            finally:
                self._waiting -= 1
        self._put(item)

    def send_nowait(self, item: T) -> None:
        """File ``item`` now; MailboxFullError when full, ActorDeadError once closed."""
        if len(self._buffer) >= self._size and not self._closed:
            raise MailboxFullError(
                f"mailbox full ({self._size} messages); use the waiting send or a larger mailbox_size"
            )
        self._put(item)

    def _put(self, item: T) -> None:
        if self._closed:
            raise ActorDeadError("actor has stopped", retriable=self._retriable)
        self._route(item, self._buffer)
        self._ready.set()

    async def receive(self) -> T:
        """The next filed message (owner only); anyio.EndOfStream once closed."""
        while not self._buffer or self._closed:
            if self._closed:
                raise anyio.EndOfStream
            self._ready = new_signal()
            await (
                self._ready.wait()
            )  # cancelling this loses nothing: items stay in the buffer
        item = self._buffer.popleft()
        self._wake_senders()
        return item

    def receive_nowait(self) -> T:
        """The next filed message without waiting; anyio.WouldBlock or anyio.EndOfStream."""
        if self._closed:
            raise anyio.EndOfStream
        if not self._buffer:
            raise anyio.WouldBlock
        item = self._buffer.popleft()
        self._wake_senders()
        return item

    def _wake_senders(self) -> None:
        if self._room is not None:
            self._room.set()
            self._room = None

    def close(self, *, retriable: bool = True) -> None:
        """Refuse new messages; filed ones stay for ``drain``."""
        if not self._closed:
            self._retriable = retriable
        self._closed = True
        self._ready.set()
        self._wake_senders()

    def drain(self) -> list[T]:
        """Close and return every filed message."""
        self.close()
        items = list(self._buffer)
        self._buffer.clear()
        return items

    def __len__(self) -> int:
        return len(self._buffer)

    def statistics(self) -> MailboxStats:
        """Buffer depth, capacity, waiting senders and closed flag (never blocks)."""
        return MailboxStats(
            depth=len(self._buffer),
            capacity=self._size,
            waiting_senders=self._waiting,
            closed=self._closed,
        )
