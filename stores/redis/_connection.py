# pyright: reportMissingTypeStubs=false, reportUnknownMemberType=false
"""Every Redis client of the stores package is built here, and only here.

``RedisConnection`` resolves where Redis is (an explicit url, else
``REDIS_URL``, else the embedded default server), builds the redis.asyncio
client with bounded socket timeouts and reconnect-on-error retries, counts
round trips, and is the one place that knows which event loop a client
belongs to. ``translate_errors`` turns redis/redisvl exceptions into
``StoreUnavailableError`` at this boundary.

redis.asyncio runs on asyncio only (under trio it fails with "no running
event loop"); a trio transport would be added in ``RedisConnection.client``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from asyncio import (  # noqa: TID251 -- redis.asyncio runs on asyncio only
    get_running_loop as _running_loop,
)
from typing import TYPE_CHECKING, Any, ClassVar, Final, final

import anyio
import anyio.lowlevel
import anyio.to_thread
import sniffio
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    BlockingConnectionPool,
    Connection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    DataError,
    NoScriptError,
    RedisError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
)

from stores._errors import StoreUnavailableError

from ._embedded import default_server

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence
    from types import TracebackType

URL_ENV: Final = "REDIS_URL"
"""Environment variable naming the Redis to use when no url is passed."""

SOCKET_TIMEOUT: Final = 10.0
"""Seconds a command may wait for a reply before the call fails (a stalled server)."""
CONNECT_TIMEOUT: Final = 3.0
"""Seconds to open a connection."""
RETRIES: Final = 3
"""Reconnect attempts after a connection error (a restarted server, a dropped socket)."""
MAX_CONNECTIONS: Final = 64
"""Connections per client (per event loop) unless the url sets ``max_connections``."""
POOL_WAIT: Final = 20.0
"""Seconds a command may wait for a free connection before it fails."""


# No CLIENT SETINFO on connect: it costs a round trip per new connection.
# redis-py 7+ spells that driver_info=None; older ones lib_name=None.
_NO_SETINFO: Final[dict[str, None]] = (
    {"driver_info": None}
    if importlib.util.find_spec("redis.driver_info") is not None
    else {"lib_name": None, "lib_version": None}
)


def resolve_url(url: str | None) -> str | None:
    """The url to use: ``url``, else ``REDIS_URL``, else None (the embedded default)."""
    return url or os.environ.get(URL_ENV) or None


class Script:
    """A Lua script sent by SHA (EVALSHA), its body kept to reload it after a restart."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(
            body.encode()
        ).hexdigest()  # Redis names scripts by SHA1

    def command(
        self, keys: Sequence[str | bytes], args: Sequence[Any]
    ) -> tuple[Any, ...]:
        """The EVALSHA command tuple for a pipeline."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


class _CountingConnection:
    """Mixed into a redis connection class: counts round trips and (re)connects.

    One ``send_packed_command`` is one round trip.
    """

    counter: ClassVar[list[int]] = [0]
    connects: ClassVar[list[int]] = [0]

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        was_connected: bool = self.is_connected  # pyright: ignore[reportAttributeAccessIssue] -- a mixin over redis' Connection
        await super().connect_check_health(check_health, retry_socket_connect)  # pyright: ignore[reportAttributeAccessIssue] -- a mixin over redis' Connection
        if not was_connected:
            type(self).connects[0] += 1

    async def send_packed_command(
        self, command: Any, check_health: bool = True
    ) -> None:
        type(self).counter[0] += 1
        await super().send_packed_command(command, check_health)  # pyright: ignore[reportAttributeAccessIssue] -- a mixin over redis' Connection


async def _keeper(client: Redis) -> AsyncGenerator[None]:
    # Suspended for as long as the client lives. asyncio finalizes unfinished
    # async generators when its loop shuts down (asyncio.run, anyio.run, a
    # test runner): then this closes the client on its own loop, so a client
    # used from a short-lived loop (a sync twin) never leaks its sockets.
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()


@final
class RedisConnection:
    """The redis.asyncio client(s) of one saver or store.

    A client is built on first use in each event loop (a redis.asyncio pool
    is bound to the loop that made it), and closed when that loop shuts
    down or on ``aclose()``. Nothing blocks except, once per process, the
    start of the embedded server (run in a worker thread).
    """

    def __init__(self, url: str | None = None, *, name: str = "actorgraph") -> None:
        """Describe the connection; nothing connects until ``client()``."""
        self._url = resolve_url(url)
        self._name = name
        self._clients: dict[object, tuple[Redis, AsyncGenerator[None]]] = {}
        self._counter = [0]
        self._connects = [0]
        self._closed = False
        self._starting: anyio.Event | None = None

    @property
    def round_trips(self) -> int:
        """Requests sent so far (a pipeline counts once), over all loops."""
        return self._counter[0]

    @property
    def connects(self) -> int:
        """Connections opened so far (a reconnect counts): a server restart or
        failover shows here, so a caller can stop trusting what it read before."""
        return self._connects[0]

    @property
    def location(self) -> str:
        """Where Redis is, without credentials: for messages."""
        if self._url is None:
            return "the embedded Redis"
        parsed = parse_url(self._url)
        where = (
            parsed.get("path")
            or f"{parsed.get('host', 'localhost')}:{parsed.get('port', 6379)}"
        )
        return f"Redis at {where}"

    async def client(self) -> Redis:
        """The client for the running event loop, built on first use.

        Raises:
            RuntimeError: after ``aclose()``, or when not running on asyncio.
            EmbeddedRedisError: if the embedded default server cannot start.
        """
        if not self._closed:  # the hot path: this loop's client exists
            try:
                bound = self._clients.get(_running_loop())
            except RuntimeError:  # not on asyncio: the checks below say so
                bound = None
            if bound is not None:
                return bound[0]
        if self._closed:
            raise RuntimeError(
                f"this {self._name} connection is closed; create a new store or saver"
            )
        library = sniffio.current_async_library()
        if library != "asyncio":
            raise RuntimeError(
                f"the Redis stores need the asyncio backend (redis.asyncio does not run on {library}); "
                "run them under asyncio, or use InMemoryStore/MemorySaver"
            )
        loop = anyio.lowlevel.current_token().native_token
        bound = self._clients.get(loop)
        if bound is not None:
            return bound[0]
        for other in [
            k for k in self._clients if getattr(k, "is_closed", lambda: False)()
        ]:
            del self._clients[other]
        while self._url is None:
            if self._starting is not None:  # another task is starting it: wait for that
                await self._starting.wait()
                continue
            self._starting = anyio.Event()
            try:
                server = await anyio.to_thread.run_sync(default_server)
                self._url = server.url
            finally:
                self._starting.set()
                self._starting = None
        bound = self._clients.get(loop)  # another task may have built it meanwhile
        if bound is not None:
            return bound[0]
        client = self._build(self._url)
        keeper = _keeper(client)
        await anext(keeper)
        self._clients[loop] = (client, keeper)
        return client

    def _build(self, url: str) -> Redis:
        options: dict[str, Any] = dict(parse_url(url))
        base = options.pop("connection_class", Connection)
        counting = type(
            "CountingConnection",
            (_CountingConnection, base),
            {"counter": self._counter, "connects": self._connects},
        )
        options.setdefault("max_connections", MAX_CONNECTIONS)
        # Blocking: past max_connections a command waits for a free connection
        # (backpressure) instead of failing with "Too many connections".
        pool = BlockingConnectionPool(
            timeout=POOL_WAIT,
            connection_class=counting,
            protocol=2,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(
                ExponentialBackoff(cap=1.0, base=0.05), RETRIES, (RedisConnectionError,)
            ),
            retry_on_error=[RedisConnectionError],
            **_NO_SETINFO,
            **options,
        )
        return Redis.from_pool(pool)  # the client owns (and closes) its pool

    async def aclose(self) -> None:
        """Close the client of this loop; clients of other live loops close with their loop.

        Idempotent. Shielded from cancellation while closing sockets.
        """
        self._closed = True
        clients, self._clients = self._clients, {}
        try:
            loop = anyio.lowlevel.current_token().native_token
        except anyio.NoEventLoopError:  # pragma: no cover - aclose is a coroutine
            return
        bound = clients.pop(loop, None)
        if bound is not None:
            await bound[1].aclose()


async def send_commands(
    client: Redis, commands: Sequence[tuple[Any, ...] | Packed]
) -> list[Any]:
    """Send ``commands`` in one write on one pooled connection; return raw replies in order.

    A command that Redis refused comes back as its ``ResponseError`` in
    place (like ``pipeline.execute(raise_on_error=False)``), without the
    per-command bookkeeping of redis-py's Pipeline, which dominated the
    CPU of a turn. Connection errors are raised; a stale pooled socket is
    replaced by the pool at checkout, before anything is sent.
    """
    pool = client.connection_pool
    connection = await pool.get_connection()
    try:
        return await send_on(connection, commands)
    finally:
        await pool.release(connection)


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float):  # bool included: redis-py refuses it, so do we
        if isinstance(value, bool):
            raise DataError(
                f"cannot send a bool to Redis ({value!r}); send 0/1 or a string"
            )
        return repr(value).encode()
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    raise DataError(
        f"cannot send a {type(value).__name__} to Redis; send bytes, str, int or float"
    )


class Packed(bytes):
    """One command already in RESP (see ``pack_args``): sent as it is."""

    __slots__ = ()


def pack_args(args: Sequence[Any]) -> bytes:
    """The RESP bulk strings of ``args``, without the array header.

    For commands whose fixed parts are packed once and joined with the
    parts that change (``Packed``).
    """
    return pack_commands([tuple(args)]).split(b"\r\n", 1)[1]


def pack_commands(commands: Sequence[tuple[Any, ...] | Packed]) -> bytes:
    """The RESP bytes of ``commands``, in one buffer.

    Half the CPU of redis-py's ``pack_commands`` for the short commands of
    a turn: no per-argument encoder lookup, no chunking. A ``Packed``
    command goes out as it is.
    """
    out: list[bytes] = []
    append = out.append
    for command in commands:
        if type(command) is Packed:
            append(command)
            continue
        append(b"*%d\r\n" % len(command))
        for value in command:
            data = (
                value
                if type(value) is bytes
                else value.encode()
                if type(value) is str
                else _arg(value)
            )
            append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


async def send_on(
    connection: AbstractConnection, commands: Sequence[tuple[Any, ...] | Packed]
) -> list[Any]:
    """``send_commands`` on a connection the caller holds; disconnects it on any error."""
    try:
        await connection.send_packed_command(pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response())
            except ResponseError as exc:
                replies.append(exc)
    except BaseException:
        await connection.disconnect()  # a half-read reply must not reach the next user
        raise
    return replies


async def run_pipeline(
    client: Redis,
    commands: Sequence[tuple[Any, ...] | Packed],
    scripts: Sequence[Script],
) -> list[Any]:
    """Send ``commands`` in one round trip and return their replies in order.

    If a script is missing (a restarted or flushed server), load ``scripts``
    and send the whole pipeline once more, so every reply still reflects the
    commands before it. Raises the first command error (a redis exception).
    """
    if not commands:
        return []
    for attempt in range(2):
        replies = await send_commands(client, commands)
        if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies):
            await load_scripts(client, scripts)
            continue
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies
    raise AssertionError("unreachable")  # pragma: no cover


async def load_scripts(client: Redis, scripts: Sequence[Script]) -> None:
    """SCRIPT LOAD every script in one round trip."""
    pipe = client.pipeline(transaction=False)
    for script in scripts:
        pipe.execute_command("SCRIPT", "LOAD", script.body)
    await pipe.execute()


def _redisvl_errors() -> tuple[type[Exception], ...]:
    # redisvl is imported only when an index is created; before that none of
    # its errors can occur, and importing it here would cost 30 ms at startup.
    module = sys.modules.get("redisvl.exceptions")
    return (module.RedisVLError,) if module is not None else ()


class translate_errors:
    """Re-raise redis and redisvl errors as StoreUnavailableError, naming ``what`` failed.

    A class, not ``@contextmanager``: every saver call and store batch enters
    one, and a generator-based one costs several times as much.
    """

    __slots__ = ("_connection", "_what")

    def __init__(self, connection: RedisConnection, what: str) -> None:
        self._connection = connection
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and isinstance(exc, (RedisError, *_redisvl_errors())):
            raise StoreUnavailableError(
                _describe(self._connection, self._what, exc)
            ) from exc


def _describe(connection: RedisConnection, what: str, exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:  # redisvl wraps redis errors: look at the cause
        if isinstance(cause, RedisConnectionError | RedisTimeoutError):
            return (
                f"{what} failed: {connection.location} is unreachable or not answering "
                f"({cause}); check that it runs, or point {URL_ENV} at a reachable Redis"
            )
        if isinstance(cause, ResponseError):
            return (
                f"{what} failed: {connection.location} rejected a command ({cause}); it "
                "needs Redis 8 or Redis Stack (the query engine, RediSearch 2.10+)"
            )
        cause = cause.__cause__
    return f"{what} failed: {connection.location}: {exc}"
