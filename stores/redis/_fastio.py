"""The asyncio fast path of a Redis connection: a protocol that feeds hiredis as bytes arrive.

A marked bare-asyncio fast path (STYLE.md): on asyncio and uvloop, a plain
TCP or Unix connection is an ``asyncio.Protocol`` instead of an anyio byte
stream. A round trip writes to the transport and waits on one future that
``data_received`` resolves once the last expected reply is parsed. The
anyio stream's round trip took a scheduling step after each send, an
``epoll_ctl`` to resume reading and one to pause it again per receive,
an ``asyncio.Event`` per wake-up and a cancel scope for the deadline
(bench/NOTES.md, "C=1: the transport's round trip"). Trio, and TLS on
every loop, keep the anyio stream (``_transport.Connection``).

The deadline is not a timer per round trip: a round trip only records
when it is due, and one timer per connection, armed when none is, looks
at the round trip pending when it fires: one past its deadline fails with
TimeoutError, one that is not waits for a timer at its own deadline, and
with none pending the timer is not armed again. Round trips far shorter
than the timeout then cost one timer per timeout period, not one each.

Failures reach the waiting caller as the exceptions the anyio path maps
(``OSError``, ``TimeoutError``, ``ProtocolError``); the caller closes the
connection on any of them, so a half-read reply is never seen again.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- the marked fast path (module docstring)
import socket
from typing import TYPE_CHECKING, Any, Final, cast, final

if TYPE_CHECKING:
    import hiredis

    from ._address import Address

_CLOSED: Final = "the server closed the connection"


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio (or uvloop) loop, or None elsewhere (trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@final
class ReplyProtocol(asyncio.Protocol):
    """Parses replies as they arrive; resolves the pending round trip at its last one."""

    __slots__ = (
        "_count",
        "_deadline",
        "_failure",
        "_reader",
        "_replies",
        "_timer",
        "_waiter",
        "transport",
    )

    def __init__(self, reader: hiredis.Reader) -> None:
        self._reader = reader
        self._waiter: asyncio.Future[list[Any]] | None = None
        self._count = 0
        self._replies: list[Any] = []
        self._failure: BaseException | None = None
        self._deadline = 0.0  # the pending round trip's, on the loop's clock
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None:  # bytes nobody asked for: the connection is unusable
            self._fail(ConnectionResetError("the server sent a reply nobody asked for"))
            return
        reader, replies = self._reader, self._replies
        try:
            reader.feed(data)
            while True:
                reply = reader.gets()
                if reply is False:  # RESP2 has no false: "need more bytes"
                    return
                replies.append(reply)
                if len(replies) == self._count:
                    self._waiter = None
                    if not waiter.done():
                        waiter.set_result(replies)
                    return
        except Exception as exc:  # noqa: BLE001 -- not RESP: handed to the caller
            self._fail(exc)

    def eof_received(self) -> bool:
        self._fail(ConnectionResetError(_CLOSED))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc if exc is not None else ConnectionResetError(_CLOSED))

    @property
    def broken(self) -> bool:
        """Whether the connection failed or was closed (it is never used again)."""
        return self._failure is not None

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.abort()

    async def roundtrip(self, data: bytes, count: int, seconds: float) -> list[Any]:
        """Write ``data`` and wait for ``count`` replies, at most ``seconds``.

        Raises:
            TimeoutError: no reply in time.
            OSError: the connection broke or was closed.
            ProtocolError: the server's bytes are not RESP.
        """
        if self._failure is not None:
            raise self._failure
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter, self._count, self._replies = waiter, count, []
        transport.write(data)
        self._deadline = deadline = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._check_deadline, loop)
        return await waiter

    def _check_deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        # The connection's one timer (module docstring): fail the pending
        # round trip if it is past its deadline, else wait for that.
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # none pending: armed again by the next round trip
        if loop.time() >= self._deadline:
            waiter.set_exception(TimeoutError())
        else:
            self._timer = loop.call_at(self._deadline, self._check_deadline, loop)

    def close(self) -> None:
        """Close at once (no flush); a pending round trip fails."""
        self._fail(ConnectionResetError("the connection was closed"))


async def connect(
    loop: asyncio.AbstractEventLoop, address: Address, reader: hiredis.Reader
) -> tuple[ReplyProtocol, socket.socket]:
    """A plain TCP or Unix connection on ``loop`` and a dup of its socket to peek at.

    Not for TLS (``address.ssl_context``): that stays on the anyio stream.

    Raises:
        OSError: the connection was refused or broke.
    """
    protocol = ReplyProtocol(reader)
    if address.path is not None:
        transport, _ = await loop.create_unix_connection(lambda: protocol, address.path)
    else:
        transport, _ = await loop.create_connection(
            lambda: protocol, address.host, address.port
        )
    try:
        raw = transport.get_extra_info("socket")
        if address.path is None:  # asyncio sets it; uvloop too, but be sure
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        probe = socket.fromfd(raw.fileno(), raw.family, raw.type)
    except BaseException:
        transport.abort()
        raise
    return protocol, probe
