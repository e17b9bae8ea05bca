"""Where a saver's or store's Redis is, and its client in each event loop.

``RedisConnection`` resolves where Redis is (an explicit url, else
``REDIS_URL``, else the embedded default server), builds one pooled
``Client`` (``_transport``) per event loop on first use, counts round
trips and reconnects over all of them, and closes each client when its
loop shuts down or on ``aclose()``. It runs on asyncio and trio alike.
``translate_errors`` turns transport errors into ``StoreUnavailableError``
at this boundary.
"""

from __future__ import annotations

import contextlib
import os
from asyncio import (  # noqa: TID251 -- the asyncio fast path of finding this loop's client
    AbstractEventLoop,
    get_running_loop as _running_loop,
    run_coroutine_threadsafe,
)
from contextvars import Context
from typing import TYPE_CHECKING, Final, final

import anyio
import anyio.lowlevel
import anyio.to_thread

from stores._errors import StoreUnavailableError

from ._transport import (
    SOCKET_TIMEOUT,
    Address,
    Client,
    Counters,
    RedisConnectionError,
    RefusedError,
)
from ._wire import (
    Packed as Packed,
    RedisError,
    ReplyError,
    Script as Script,
    pack_args as pack_args,
    pack_commands as pack_commands,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from types import TracebackType

URL_ENV: Final = "REDIS_URL"
"""Environment variable naming the Redis to use when no url is passed."""


def resolve_url(url: str | None) -> str | None:
    """The url to use: ``url``, else ``REDIS_URL``, else None (the embedded default)."""
    return url or os.environ.get(URL_ENV) or None


def _loop() -> object:
    # The running loop (asyncio) or run (trio): each has its own client.
    try:
        return _running_loop()
    except RuntimeError:  # not asyncio
        return anyio.lowlevel.current_token().native_token


def _no() -> bool:
    return False


async def _keeper(
    clients: dict[object, tuple[Client, AsyncGenerator[None]]],
    loop: object,
    client: Client,
) -> AsyncGenerator[None]:
    # Suspended for as long as the client lives. asyncio and trio finalize
    # unfinished async generators when their loop shuts down (asyncio.run,
    # anyio.run, trio.run, a test runner): then this closes the client on its
    # own loop, so a client used from a short-lived loop (a sync twin) never
    # leaks its sockets. It holds no reference to its RedisConnection.
    try:
        yield
    finally:
        if clients.get(loop, (None,))[0] is client:
            del clients[loop]
        with anyio.CancelScope(shield=True):
            await client.aclose()


@final
class RedisConnection:
    """The Redis client(s) of one saver or store: one per event loop.

    A client is built on first use in each event loop (its connections
    belong to that loop), and closed when that loop shuts down or on
    ``aclose()``. Nothing blocks except, once per process, the start of the
    embedded server (run in a worker thread).
    """

    def __init__(self, url: str | None = None, *, name: str = "actorgraph") -> None:
        """Describe the connection; nothing connects until ``client()``.

        Raises:
            ValueError: for a malformed url (scheme, options, numbers).
        """
        url = resolve_url(url)
        self._address = Address(url) if url is not None else None
        self._name = name
        self._clients: dict[object, tuple[Client, AsyncGenerator[None]]] = {}
        self._counters = Counters()
        self._closed = False

    @property
    def round_trips(self) -> int:
        """Requests sent so far (a pipeline counts once), over all loops."""
        return self._counters.round_trips

    @property
    def connects(self) -> int:
        """Connections opened so far (a reconnect counts): a server restart or
        failover shows here, so a caller can stop trusting what it read before."""
        return self._counters.connects

    @property
    def epoch(self) -> int:
        """Moves when what was read before may no longer hold: a connection
        opened after one broke, or to another server (a restart or failover);
        not for one more pooled connection beside live ones (see ``Counters``)."""
        return self._counters.epoch

    @property
    def location(self) -> str:
        """Where Redis is, without credentials: for messages."""
        if self._address is None:
            return "the embedded Redis"
        return f"Redis at {self._address.location}"

    async def client(self) -> Client:
        """The client for the running event loop, built on first use.

        Raises:
            RuntimeError: after ``aclose()``.
            EmbeddedRedisError: if the embedded default server cannot start.
        """
        loop = _loop()
        bound = self._clients.get(loop)
        if bound is not None and not self._closed:  # the hot path: it exists
            return bound[0]
        if self._closed:
            raise RuntimeError(
                f"this {self._name} connection is closed; create a new store or saver"
            )
        for other in [k for k in self._clients if getattr(k, "is_closed", _no)()]:
            del self._clients[other]  # a loop closed without finalizing its keeper
        if self._address is None:
            # idempotent and locked: concurrent first calls all get the one server
            from ._embedded import default_server  # (here: its launcher's imports)

            server = await anyio.to_thread.run_sync(default_server)
            self._address = self._address or Address(server.url)
        bound = self._clients.get(loop)  # another task may have built it meanwhile
        if bound is None:
            client = Client(self._address, self._counters)
            keeper = _keeper(self._clients, loop, client)
            await anext(keeper)
            bound = self._clients[loop] = (client, keeper)
        return bound[0]

    async def aclose(self) -> None:
        """Close the client of this loop, and those of other running asyncio loops.

        A client on another loop (the process's shared sync loop, where sync
        twins run) is closed on that loop, waited for in a worker thread for
        at most ``SOCKET_TIMEOUT``; one on a loop that no longer runs closes
        with its loop. Idempotent. Shielded from cancellation while closing.
        """
        self._closed = True
        here = _loop()
        for loop, (_, keeper) in list(self._clients.items()):
            if loop is here:
                await keeper.aclose()
            elif isinstance(loop, AbstractEventLoop) and loop.is_running():
                # in a fresh context: ours may tell sniffio "trio", and that loop
                # would run the close as if it were trio
                done = Context().run(run_coroutine_threadsafe, _finish(keeper), loop)
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await anyio.to_thread.run_sync(done.result, SOCKET_TIMEOUT)


async def _finish(keeper: AsyncGenerator[None]) -> None:
    await keeper.aclose()  # a coroutine, for run_coroutine_threadsafe


class translate_errors:
    """Re-raise transport errors as StoreUnavailableError, naming ``what`` failed.

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
        if isinstance(exc, RedisError):
            raise StoreUnavailableError(
                _describe(self._connection, self._what, exc)
            ) from exc


def _describe(connection: RedisConnection, what: str, exc: RedisError) -> str:
    where = connection.location
    if isinstance(exc, RefusedError):
        return f"{what} failed: {where}: {exc}"
    if isinstance(exc, RedisConnectionError):
        return (
            f"{what} failed: {where} is unreachable or not answering ({exc}); "
            f"check that it runs, or point {URL_ENV} at a reachable Redis"
        )
    if isinstance(exc, ReplyError):
        return (
            f"{what} failed: {where} rejected a command ({exc}); it needs "
            "Redis 8 or Redis Stack (the query engine, RediSearch 2.10+)"
        )
    return f"{what} failed: {where} sent a reply that is not RESP ({exc}); is it Redis?"
