"""The one send path: every command of the Redis saver and store goes out through ``send``.

``send`` is one round trip on one pooled connection: the commands packed
into one write, every reply read back in order, an error reply kept in its
place. It is also the one place that handles a missing script (NOSCRIPT,
after a restarted or flushed server): the scripts are loaded and the
refused commands sent again in the same round trip, so a script costs
one round trip more once, never a second copy of a write. And it fences:
a command given the server epoch it relies on (``epochs``) is
refused unsent, as ``Reconnected``, if the epoch moved since (a connection
opened after a break, or to another server: see ``Counters``).

``GroupWriter`` (the saver) batches the single commands of concurrent
callers into one ``send``: when a thousand conversations each record a
task or commit a run at about the same time, each would otherwise pay a
round trip and a checkout. The first caller to find nobody sending leads:
it waits one scheduling step so concurrent callers can join (only under
load), sends what is queued, and hands the turn to lead to the next
queued caller; the others wait for their own reply (a caller that finds
the writer idle sends its command at once, with no queue entry). No background task,
so nothing outlives the callers. A batch holds at most 64 commands: larger
ones cost no less per command, and they release their callers together,
which keeps a burst of turns in lockstep (each waits for the whole burst's
CPU) instead of letting them spread out. While a batch is in flight, a
full batch waiting goes out at once on another pooled connection (up to 4
in flight): a burst of a thousand commits drains in a quarter of the
round trips' waits, each of which lasts a loaded loop's iteration or two,
not the server's microseconds. A shorter queue waits for the flying batch
and goes out as one. Batches in flight side by side may run in either
order on the server; a caller's own commands stay in order (each waits
for its reply).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel

from stores._signal import new_signal

from ._wire import ReplyError, is_noscript, pack_commands

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stores._signal import SignalLike

    from ._transport import Client, Connection
    from ._wire import Packed, Script

    Command = tuple[Any, ...] | Packed


class Reconnected(Exception):
    """The connection was (re)opened after the caller read what this command relies on."""


async def send(
    client: Client,
    commands: Sequence[Command],
    scripts: Sequence[Script] = (),
    *,
    ordered: bool = True,
    epochs: Sequence[int | None] | None = None,
) -> tuple[list[Any], int]:
    """Send ``commands`` in one round trip; their replies in order, and the server epoch.

    An error reply is returned in place (a ``ReplyError``). If a script of
    ``scripts`` is missing, the scripts are loaded and commands sent again
    in one more round trip: with ``ordered``, every command from the first
    refused one on (each reply then reflects the commands before it; the
    commands after a refused one must be safe to repeat, as a store batch's
    reads are), else only the refused ones. With ``epochs`` (one per
    command, None: not fenced), a command whose epoch is not the
    server epoch at send time is not sent; its reply is ``Reconnected``.

    Cancellation closes the connection (nothing half-read is reused); the
    commands may or may not have run.

    Raises:
        RedisConnectionError: Redis is unreachable or the connection broke.
        RuntimeError: the client is closed.
    """
    connection = await client.acquire()
    try:
        # Any reconnect has happened by now (the checkout opens one if it must).
        epoch = client.epoch
        sent = range(len(commands))
        if epochs is not None:
            sent = [i for i, e in enumerate(epochs) if e is None or e == epoch]
        if len(sent) == len(commands):  # the usual case: everything goes out
            replies = await _send_on(connection, commands, scripts, ordered)
        else:
            replies: list[Any] = [Reconnected() for _ in commands]
            got = [commands[i] for i in sent]
            got = await _send_on(connection, got, scripts, ordered) if got else []
            for i, reply in zip(sent, got, strict=True):
                replies[i] = reply
    finally:
        await client.release(connection)
    return replies, epoch


async def _send_on(
    connection: Connection,
    commands: Sequence[Command],
    scripts: Sequence[Script],
    ordered: bool,
) -> list[Any]:
    replies = await connection.roundtrip(pack_commands(commands), len(commands))
    if not scripts or not any(is_noscript(r) for r in replies):
        return replies
    first = next(i for i, r in enumerate(replies) if is_noscript(r))
    again = [
        i for i in range(first, len(replies)) if ordered or is_noscript(replies[i])
    ]
    loads = [s.load for s in scripts]
    got = await connection.roundtrip(
        pack_commands([*loads, *(commands[i] for i in again)]), len(loads) + len(again)
    )
    _raise_first(got[: len(loads)])
    for i, reply in zip(again, got[len(loads) :], strict=True):
        replies[i] = reply
    return replies


def _raise_first(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, ReplyError):
            raise reply


async def run(
    client: Client, commands: Sequence[Command], scripts: Sequence[Script] = ()
) -> list[Any]:
    """``send`` in order, raising the first error reply (a ``ReplyError``) instead."""
    if not commands:
        return []
    replies, _ = await send(client, commands, scripts)
    _raise_first(replies)
    return replies


async def load_scripts(client: Client, scripts: Sequence[Script]) -> None:
    """SCRIPT LOAD every script in one round trip (opening a connection if none is)."""
    await run(client, [s.load for s in scripts])


_QUEUED: Final = 0
_LEAD: Final = 1  # handed the turn to lead the next batch
_DONE: Final = 2


class _Call:
    __slots__ = ("command", "epoch", "reply", "seen", "state", "wake")

    def __init__(self, command: tuple[Any, ...], epoch: int | None) -> None:
        self.command = command
        self.epoch = epoch
        self.reply: Any = None
        self.seen = 0
        self.state = _QUEUED
        self.wake: SignalLike = new_signal()
        """Set when ``state`` leaves _QUEUED; a fresh one each time it returns there."""

    def lead(self) -> None:
        if self.state == _QUEUED:
            self.state = _LEAD
            self.wake.set()

    def finish(self, reply: Any, seen: int) -> None:
        self.reply, self.seen, self.state = reply, seen, _DONE
        self.wake.set()


@final
class GroupWriter:
    """Batches the commands of concurrent callers on one client (one event loop)."""

    def __init__(
        self,
        client: Client,
        scripts: Sequence[Script],
        *,
        max_batch: int = 64,
        max_flying: int = 4,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._max_batch = max_batch
        self._max_flying = max_flying
        self._queue: list[_Call] = []
        self._flying = 0
        self._busy = False

    @classmethod
    def of(cls, client: Client, scripts: Sequence[Script]) -> GroupWriter:
        """The group writer of ``client`` (made on first use; one per client)."""
        found = client.attached.get(cls)
        if isinstance(found, GroupWriter):
            return found
        writer = GroupWriter(client, scripts)
        client.attached[cls] = writer
        return writer

    async def connect(self) -> None:
        """Open a connection and load this writer's scripts (one round trip)."""
        await load_scripts(self._client, self._scripts)

    async def call(self, command: tuple[Any, ...]) -> Any:
        """Send ``command`` with whatever else is queued; return its reply or raise its error."""
        return (await self.call_seen(command))[0]

    async def call_seen(
        self, command: tuple[Any, ...], *, epoch: int | None = None
    ) -> tuple[Any, int]:
        """``call``, also returning the server epoch its reply was read at.

        With ``epoch``, the command is sent only if the server epoch is
        still ``epoch`` when it goes out; else it fails with Reconnected.
        Cancelled before its batch went out, it is not sent; once sent, it
        may have run.

        Raises:
            ReplyError: Redis refused the command.
            Reconnected: see ``epoch``.
            RedisConnectionError: Redis is unreachable or the connection broke.
        """
        if not self._queue and not self._flying and not self._busy:
            return await self._alone(command, epoch)
        call = _Call(command, epoch)
        self._queue.append(call)
        try:
            if self._may_lead():
                await self._lead()
            while call.state != _DONE:
                await call.wake.wait()
                if call.state == _LEAD:
                    call.state, call.wake = _QUEUED, new_signal()
                    if self._may_lead():  # else a flying batch hands the turn over
                        await self._lead()
        except BaseException:
            # Cancelled before its batch went out: it leaves the queue, and a
            # turn to lead that it was handed passes on, so nobody waits forever.
            if call.state != _DONE and call in self._queue:
                self._queue.remove(call)
            self._hand_over()
            raise
        if isinstance(call.reply, BaseException):
            raise call.reply
        return call.reply, call.seen

    async def _alone(
        self, command: tuple[Any, ...], epoch: int | None
    ) -> tuple[Any, int]:
        # A lone caller leads a batch of its own command: no _Call, no signal.
        # Callers that come meanwhile queue, and the first leads after it.
        self._flying += 1
        try:
            return await _shielded_send(self._client, command, self._scripts, epoch)
        finally:
            self._flying -= 1
            self._hand_over()

    def _may_lead(self) -> bool:
        # Nothing in flight; or a full batch waits and a connection is free
        # for it: a burst goes out over several connections at once, while
        # a short queue waits for the flying batch and joins one batch.
        if not self._flying:
            return True
        return self._flying < self._max_flying and len(self._queue) >= self._max_batch

    async def _lead(self) -> None:
        self._flying += 1
        try:
            if self._busy and len(self._queue) < self._max_batch:
                # Under load, one scheduling step lets the callers that are
                # about to write join this batch; a lone caller (or a full
                # batch) skips it.
                await anyio.lowlevel.checkpoint()
            batch = self._queue[: self._max_batch]
            if not batch:  # a leader alongside took them all meanwhile
                return
            self._busy = len(batch) > 1 or len(self._queue) > len(batch)
            del self._queue[: len(batch)]
            self._hand_over()  # a full batch still waiting goes out meanwhile
            with anyio.CancelScope(shield=True):  # the batch holds others' writes
                await self._send(batch)
        finally:
            self._flying -= 1
            self._hand_over()

    def _hand_over(self) -> None:
        if self._queue and self._may_lead():  # the next caller leads the next batch
            self._queue[0].lead()

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies, seen = await send(
                self._client,
                [c.command for c in batch],
                self._scripts,
                ordered=False,  # the callers' commands do not depend on each other
                epochs=[c.epoch for c in batch],
            )
        except BaseException as exc:
            # Each caller raises it from its own call: the leader's own
            # command may not even be in this batch.
            for call in batch:
                call.finish(exc, 0)
            if not isinstance(exc, Exception):
                raise
            return
        for call, reply in zip(batch, replies, strict=True):
            call.finish(reply, seen)


async def _shielded_send(
    client: Client,
    command: tuple[Any, ...],
    scripts: Sequence[Script],
    epoch: int | None,
) -> tuple[Any, int]:
    # One caller's command as a batch of its own (GroupWriter._alone).
    epochs = None if epoch is None else [epoch]
    with anyio.CancelScope(shield=True):  # as a batch: it may hold others' turn
        replies, seen = await send(
            client, [command], scripts, ordered=False, epochs=epochs
        )
        reply: Any = replies[0]
        if isinstance(reply, BaseException):
            raise reply
        return reply, seen
    raise AssertionError("unreachable: a shielded scope is never cancelled")
