"""The Redis transport: pooled connections on anyio byte streams, the same on asyncio and trio.

A ``Connection`` is an anyio TCP/Unix (or TLS) byte stream and a
``hiredis.Reader``: ``roundtrip`` writes a buffer of packed commands and
reads exactly that many replies. Any failure on the way (an error from the
socket, a deadline, a cancellation) closes the connection, so a half-read
reply can never reach the next user. A ``Client`` is the bounded pool of
one event loop: past ``max_connections`` a caller waits for a connection
(backpressure), up to ``POOL_WAIT``. A pooled connection the server closed
(a restart, CLIENT KILL) is found at checkout, by a non-blocking poll of
its socket (anything to read, even an end of stream, means it is done), and replaced before anything is sent on it; every connection
opened counts in ``Counters.connects``, and ``Counters.epoch``, which the
saver's fencing reads, moves when one opens after a break or reaches
another server (each new connection asks ``INFO server`` for its run id).

Redis is spoken in RESP2 (``_wire``). redis-py is not used: the stores pack
their own commands and read raw replies, and redis.asyncio does not run on
trio; this path costs about what redis-py with hiredis costs on asyncio
(bench/NOTES.md, "The Redis transport").
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from typing import TYPE_CHECKING, Any, Final, final

import anyio
import anyio.lowlevel
import hiredis

from ._address import MAX_CONNECTIONS as MAX_CONNECTIONS, Address as Address
from ._fastio import ReplyProtocol, connect as connect_fast, running_loop
from ._wire import ProtocolError, RedisError, ReplyError, pack_commands

if TYPE_CHECKING:
    from anyio.abc import ByteStream

SOCKET_TIMEOUT: Final = 10.0
"""Seconds a round trip may take before it fails (a stalled server)."""
CONNECT_TIMEOUT: Final = 3.0
"""Seconds to open a connection."""
RETRIES: Final = 3
"""Further attempts to open a connection after one failed (a restarting server)."""
POOL_WAIT: Final = 20.0
"""Seconds a command may wait for a free connection before it fails."""

_CHUNK: Final = 65_536
_BROKEN: Final = (
    OSError,
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
)


class RedisConnectionError(RedisError):
    """Redis could not be reached, or the connection broke mid-request."""


class RedisTimeoutError(RedisConnectionError):
    """Redis did not answer (or accept a connection) in time."""


class RefusedError(RedisConnectionError):
    """Redis refused the connection's set-up (TLS, AUTH or SELECT): a wrong url."""


@final
class Counters:
    """Round trips (a connection's set-up not counted), connections opened and the
    server epoch, over every client of one RedisConnection.

    ``epoch`` is what the saver's fencing reads: it moves when what was read
    before may no longer hold. A new connection moves it if a connection
    broke since the last one opened (a command may or may not have run), or
    if the server is not the one the last connection reached (its
    ``run_id`` differs: a restart or a failover), or cannot say which it is.
    A pooled connection added beside live ones to the same server leaves it.
    """

    __slots__ = ("_broken", "_lock", "_run_id", "connects", "epoch", "round_trips")

    def __init__(self) -> None:
        self.round_trips = 0
        self.connects = 0
        self.epoch = 0
        self._run_id: bytes | None = None
        self._broken = False
        self._lock = threading.Lock()  # clients of loops in other threads count too

    def connected(self, run_id: bytes | None) -> None:
        """Count one more connection opened to the server ``run_id`` (None: unknown)."""
        with self._lock:
            self.connects += 1
            if self._broken or run_id is None or run_id != self._run_id:
                self.epoch += 1  # never lost: the fencing reads it
            self._run_id = run_id
            self._broken = False

    def broke(self) -> None:
        """A connection failed or was found closed: the next one opened moves ``epoch``."""
        self._broken = True


@final
class Connection:
    """One connection to Redis: a byte stream, a RESP reader, a socket to peek at.

    On asyncio without TLS the stream is ``_fastio``'s protocol instead (the
    marked fast path): the same round trip without anyio's per-call steps.
    """

    __slots__ = ("_counters", "_fast", "_poll", "_probe", "_reader", "_stream", "open")

    def __init__(
        self,
        stream: ByteStream | ReplyProtocol,
        probe: socket.socket,
        counters: Counters,
        reader: hiredis.Reader | None = None,
    ):
        fast = isinstance(stream, ReplyProtocol)
        self._fast = stream if fast else None
        self._stream = None if fast else stream
        self._probe = probe  # a dup of the stream's socket: polled, never read
        self._poll = select.poll()
        self._poll.register(probe, select.POLLIN)
        self._counters = counters
        self._reader = reader or new_reader()
        self.open = True

    async def roundtrip(self, data: bytes, count: int) -> list[Any]:
        """Send ``data`` (``count`` packed commands) and return their ``count`` replies.

        Error replies come back in place as ``ReplyError``. Any failure, a
        cancellation included, closes the connection before it propagates.

        Raises:
            RedisTimeoutError: no reply within ``SOCKET_TIMEOUT``.
            RedisConnectionError: the connection broke.
            ProtocolError: the server's bytes are not RESP.
        """
        self._counters.round_trips += 1
        return await self.exchange(data, count)

    async def exchange(self, data: bytes, count: int) -> list[Any]:
        """``roundtrip`` without counting it (a connection's set-up).

        Raises:
            like ``roundtrip``.
        """
        try:
            if self._fast is not None:
                return await self._fast.roundtrip(data, count, SOCKET_TIMEOUT)
            assert self._stream is not None
            with anyio.fail_after(SOCKET_TIMEOUT):
                await self._stream.send(data)
                return await self._read(count)
        except BaseException as exc:
            self._counters.broke()
            await self.aclose()
            if isinstance(exc, TimeoutError):  # the deadline (or a socket timeout)
                raise RedisTimeoutError(
                    f"no reply within {SOCKET_TIMEOUT:g} s"
                ) from exc
            if isinstance(exc, _BROKEN):
                raise RedisConnectionError(
                    f"the connection broke ({type(exc).__name__}: {exc})"
                    if str(exc)
                    else "the server closed the connection"
                ) from exc
            raise

    async def _read(self, count: int) -> list[Any]:
        assert self._stream is not None
        reader, receive = self._reader, self._stream.receive
        replies: list[Any] = []
        while True:
            reply = reader.gets()
            if reply is False:  # RESP2 has no false: this is "need more bytes"
                reader.feed(await receive(_CHUNK))
                continue
            replies.append(reply)
            if len(replies) == count:
                return replies

    def alive(self) -> bool:
        """Whether the server still holds this idle connection open (one syscall, no wait)."""
        if self._fast is not None and self._fast.broken:
            return False
        # Nothing to read: still connected. Else the end of the stream (closed
        # by the server), an error, or a reply nobody asked for.
        return not self._poll.poll(0)

    async def aclose(self) -> None:
        """Close the connection (idempotent; shielded from cancellation)."""
        if not self.open:
            return
        self.open = False
        self._probe.close()
        with anyio.CancelScope(shield=True):
            if self._stream is not None:
                await self._stream.aclose()
            elif self._fast is not None:
                self._fast.close()
                await anyio.lowlevel.checkpoint()  # the loop closes the handle


def new_reader() -> hiredis.Reader:
    """A RESP2 reader that returns error replies as ``ReplyError``."""
    return hiredis.Reader(protocolError=ProtocolError, replyError=ReplyError)


async def open_connection(address: Address, counters: Counters) -> Connection:
    """A new connection to ``address``, logged in and on its db.

    Raises:
        RedisTimeoutError: not connected within ``CONNECT_TIMEOUT``.
        RedisConnectionError: the connection was refused or broke.
        RefusedError: the TLS handshake failed, or Redis refused AUTH or SELECT.
    """
    reader = new_reader()
    try:
        with anyio.fail_after(CONNECT_TIMEOUT):
            loop = running_loop() if address.ssl_context is None else None
            if loop is not None:  # asyncio without TLS: the fast path
                stream, probe = await connect_fast(loop, address, reader)
            else:
                stream, probe = await _connect(address)
    except TimeoutError as exc:
        raise RedisTimeoutError(f"no connection within {CONNECT_TIMEOUT:g} s") from exc
    except ssl.SSLError as exc:  # a certificate or setting: trying again won't help
        raise RefusedError(
            f"the TLS handshake failed ({exc}); check the url's ssl_ca_certs, "
            "ssl_cert_reqs and ssl_certfile options"
        ) from exc
    except OSError as exc:
        raise RedisConnectionError(f"cannot connect ({exc})") from exc
    connection = Connection(stream, probe, counters, reader)
    handshake = [*address.handshake(), ("INFO", "server")]
    replies = await connection.exchange(pack_commands(handshake), len(handshake))
    refused = [r for r in replies[:-1] if isinstance(r, ReplyError)]
    if refused:
        await connection.aclose()
        raise RefusedError(
            f"it refused the connection's set-up ({refused[0]}); check the "
            "user, password and db in the url"
        )
    counters.connected(_run_id(replies[-1]))
    return connection


def _run_id(info: Any) -> bytes | None:
    """The server's ``run_id`` from an ``INFO server`` reply (None: refused or absent)."""
    if not isinstance(info, bytes):
        return None  # an ACL without INFO: every new connection counts as a new server
    start = info.find(b"run_id:")
    if start < 0:
        return None
    end = info.find(b"\r\n", start)
    return info[start + 7 : end if end >= 0 else None]


async def _connect(address: Address) -> tuple[ByteStream, socket.socket]:
    if address.path is not None:
        stream: ByteStream = await anyio.connect_unix(address.path)
    else:
        stream = await _connect_tcp(address)
    try:
        raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        probe = socket.fromfd(raw.fileno(), raw.family, raw.type)
    except BaseException:
        await anyio.aclose_forcefully(stream)
        raise
    return stream, probe


async def _connect_tcp(address: Address) -> ByteStream:
    if address.ssl_context is None:
        return await anyio.connect_tcp(address.host, address.port)
    # No TLS closing handshake: Redis does not wait for one, and a dead
    # server would stall ``aclose`` waiting for its close_notify.
    return await anyio.connect_tcp(
        address.host,
        address.port,
        ssl_context=address.ssl_context,
        tls_hostname=address.host,
        tls_standard_compatible=False,
    )


@final
class Client:
    """The pooled connections of one event loop to one Redis.

    ``acquire`` checks a connection out (waiting when ``max_connections``
    are out), ``release`` puts it back. Connections open lazily and are
    closed by ``aclose``. Must be used from the event loop that made it.
    """

    def __init__(self, address: Address, counters: Counters) -> None:
        """An empty pool: nothing connects until ``acquire``."""
        self.address = address
        self.counters = counters
        self._idle: list[Connection] = []
        self._permits = anyio.Semaphore(address.max_connections, fast_acquire=True)
        self._closed = False
        self.attached: dict[type, object] = {}
        """Per-client state of the layers above, by type (one group writer)."""

    @property
    def connects(self) -> int:
        """Connections opened so far by every client of the same RedisConnection."""
        return self.counters.connects

    @property
    def epoch(self) -> int:
        """The server epoch (see ``Counters``): moves on a reconnect after a break or to another server."""
        return self.counters.epoch

    async def acquire(self) -> Connection:
        """A live connection, opened if none is idle; waits while all are out.

        Cancellation while waiting takes nothing. A failed open is retried
        ``RETRIES`` times with a short backoff (50 ms doubling, 1 s cap).

        Raises:
            RuntimeError: after ``aclose()``.
            RedisConnectionError: no connection could be opened, or none
                came free within ``POOL_WAIT``.
        """
        if self._closed:
            raise RuntimeError("this Redis client is closed")
        try:
            self._permits.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(POOL_WAIT) as waited:
                await self._permits.acquire()
            if waited.cancelled_caught:
                raise RedisConnectionError(
                    f"all {self.address.max_connections} connections stayed busy for "
                    f"{POOL_WAIT:g} s (raise max_connections in the url?)"
                ) from None
        try:
            idle = self._idle
            while idle:
                connection = idle.pop()
                if connection.alive():
                    return connection
                self.counters.broke()
                await connection.aclose()
            return await self._open()
        except BaseException:
            self._permits.release()
            raise

    async def _open(self) -> Connection:
        delay = 0.05
        for _ in range(RETRIES):
            try:
                return await open_connection(self.address, self.counters)
            except RefusedError:
                raise
            except RedisConnectionError:
                await anyio.sleep(delay)
                delay = min(delay * 2, 1.0)
        return await open_connection(self.address, self.counters)

    async def release(self, connection: Connection) -> None:
        """Put ``connection`` back (a closed one is dropped). Waits only to close one."""
        if connection.open and not self._closed:
            self._idle.append(connection)
        else:
            await connection.aclose()
        self._permits.release()

    async def aclose(self) -> None:
        """Close the idle connections now, and the others as they come back. Idempotent."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()
