# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""Group commit: concurrent script calls of many threads share one pipeline.

When a thousand conversations each record a task or commit a run at about
the same time, sending each call on its own costs a round trip and a
connection checkout apiece. ``GroupWriter.call`` queues the command instead;
the first caller to find nobody sending becomes the leader, waits one
scheduling step so concurrent callers can join, and sends everything queued
in one pipeline. The others wait for their own reply; when the leader is
done, the next queued caller leads the next batch. No background task is
needed, so nothing outlives the callers.

A lone caller pays one scheduling step, nothing more. A batch holds at most
64 commands: larger ones cost no less per command, and they release their
callers together, which keeps a burst of turns in lockstep (each waits for
the whole burst's CPU) instead of letting them spread out. Each command keeps its
own reply or error; a script missing after a server restart is loaded and
only the commands that failed for it are sent again (nothing runs twice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import anyio
import anyio.lowlevel
from redis.exceptions import NoScriptError

from stores._signal import new_signal

from ._connection import load_scripts, send_on

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from redis.asyncio import Redis
    from redis.asyncio.connection import AbstractConnection

    from ._connection import Script


class Reconnected(Exception):
    """The connection was (re)opened after the caller read what this command relies on."""


class _Call:
    """One queued command: its reply, and the two things its caller waits for.

    A waiting caller wakes for either of two reasons, told apart by flags:
    its command was answered (``finished``), or the previous leader handed
    it the turn to lead the next batch (``lead``). A wake-up is one signal,
    renewed once consumed, so neither reason can be lost to the other.
    """

    __slots__ = (
        "_wake",
        "command",
        "epoch",
        "error",
        "finished",
        "lead",
        "reply",
        "seen",
    )

    def __init__(self, command: tuple[Any, ...], epoch: int | None) -> None:
        self.command = command
        self.epoch = epoch
        self.seen = 0
        self._wake = new_signal()
        self.finished = False
        self.lead = False
        self.reply: Any = None
        self.error: BaseException | None = None

    def finish(self, reply: Any) -> None:
        if isinstance(reply, BaseException):
            self.error = reply
        else:
            self.reply = reply
        self.finished = True
        self._wake.set()

    def hand_lead(self) -> None:
        """Tell the caller it leads the next batch (it may be running: it checks ``lead``)."""
        self.lead = True
        self._wake.set()

    async def wait(self) -> None:
        """Until ``finish`` or ``hand_lead`` (at once if one came since the last wait)."""
        await self._wake.wait()
        if not self.finished:
            self._wake = new_signal()


@final
class GroupWriter:
    """Batches the commands of concurrent callers on one client (one event loop)."""

    def __init__(
        self,
        client: Redis,
        scripts: Sequence[Script],
        *,
        connects: Callable[[], int] = lambda: 0,
        max_batch: int = 64,
    ) -> None:
        self._client = client
        self._connects = connects
        self._scripts = scripts
        self._max_batch = max_batch
        self._queue: list[_Call] = []
        self._sending = False
        self._busy = False
        self._connection: AbstractConnection | None = None

    async def connect(self) -> None:
        """Open this writer's connection and load its scripts (one round trip)."""
        if self._connection is None:
            self._connection = await self._client.connection_pool.get_connection()
        await load_scripts(self._client, self._scripts)

    async def call(self, command: tuple[Any, ...]) -> Any:
        """Send ``command`` with whatever else is queued; return its reply or raise its error."""
        return (await self.call_seen(command))[0]

    async def call_seen(
        self, command: tuple[Any, ...], *, epoch: int | None = None
    ) -> tuple[Any, int]:
        """``call``, also returning the connection count its reply was read at.

        With ``epoch``, the command is sent only if the connection count is
        still ``epoch`` when it goes out; else it fails with Reconnected.
        """
        call = _Call(command, epoch)
        self._queue.append(call)
        try:
            if not self._sending:
                await self._lead()
            while not call.finished:
                if call.lead:
                    # Handed the turn to lead: by the last leader, or by itself,
                    # when it led a full batch that its own command missed.
                    call.lead = False
                    if not self._sending:  # else the current leader hands over again
                        await self._lead()
                    continue
                await call.wait()
        except BaseException:
            # Cancelled before its batch went out: it leaves the queue, and a
            # turn to lead that it was handed passes on, so nobody waits forever.
            if not call.finished and call in self._queue:
                self._queue.remove(call)
            if not self._sending:
                self._hand_over()
            raise
        if call.error is not None:
            raise call.error
        return call.reply, call.seen

    async def _lead(self) -> None:
        self._sending = True
        try:
            if self._busy:
                # Under load, one scheduling step lets the callers that are
                # about to write join this batch; a lone caller skips it.
                await anyio.lowlevel.checkpoint()
            batch = self._queue[: self._max_batch]
            self._busy = len(batch) > 1 or len(self._queue) > len(batch)
            del self._queue[: len(batch)]
            with anyio.CancelScope(shield=True):  # the batch holds others' writes
                await self._send(batch)
        finally:
            self._sending = False
            self._hand_over()

    def _hand_over(self) -> None:
        if self._queue:  # the next queued caller leads the next batch
            self._queue[0].hand_lead()

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._pipeline(batch)
            missing = [
                c
                for c, r in zip(batch, replies, strict=True)
                if isinstance(r, NoScriptError)
            ]
            if missing:
                await load_scripts(self._client, self._scripts)
                again = await self._pipeline(missing)
                replies = [
                    again.pop(0) if isinstance(r, NoScriptError) else r for r in replies
                ]
        except BaseException as exc:
            for call in batch:
                call.finish(exc)
            raise
        for call, reply in zip(batch, replies, strict=True):
            call.finish(reply)

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        # Only the leader sends, so one connection of its own is enough: no
        # pool checkout per batch. A failed connection is dropped and replaced.
        pool = self._client.connection_pool
        if self._connection is None:
            self._connection = await pool.get_connection()
        else:  # what the pool checks at checkout: a socket the server closed is replaced
            await pool.ensure_connection(self._connection)
        connection = self._connection
        # Any reconnect has happened by now: a command that relies on what
        # was read before one is refused here, before it is sent.
        epoch = self._connects()
        replies: list[Any] = [None] * len(batch)
        sent: list[int] = []
        for i, call in enumerate(batch):
            call.seen = epoch
            if call.epoch is not None and call.epoch != epoch:
                replies[i] = Reconnected()
            else:
                sent.append(i)
        try:
            if sent:
                got = await send_on(connection, [batch[i].command for i in sent])
                for i, reply in zip(sent, got, strict=True):
                    replies[i] = reply
            return replies
        except BaseException:
            self._connection = None
            await self._client.connection_pool.release(connection)
            raise
