"""The Redis transport on asyncio and trio: urls, the bounded pool, timeouts,
cancellation, stale connections, error replies, NOSCRIPT, AUTH/SELECT.

Against the session's Redis, or a small RESP server on loopback (or a Unix
socket) when a test needs a server that stalls, closes or checks a login.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import hiredis
import pytest

from stores._errors import StoreUnavailableError
from stores.redis import _transport
from stores.redis._connection import RedisConnection
from stores.redis._pipeline import load_scripts, run, send
from stores.redis._saver import RedisSaver
from stores.redis._transport import (
    Address,
    Client,
    Counters,
    RedisConnectionError,
    RedisTimeoutError,
)
from stores.redis._wire import ReplyError, Script
from tests.redis_server import admin

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable
    from pathlib import Path

    from anyio.abc import ByteStream

# -- urls ---------------------------------------------------------------------


def test_a_tcp_url_gives_host_port_db_and_login() -> None:
    a = Address("redis://me:s%40cret@cache.local:6380/2?max_connections=8")
    assert (a.host, a.port, a.db, a.username, a.password) == (
        "cache.local",
        6380,
        2,
        "me",
        "s@cret",
    )
    assert (a.max_connections, a.tls, a.location) == (8, False, "cache.local:6380")
    assert a.handshake() == [("AUTH", "me", "s@cret"), ("SELECT", 2)]


def test_defaults_and_a_password_without_a_user() -> None:
    a = Address("redis://:pw@127.0.0.1")
    assert (a.port, a.db, a.username, a.max_connections) == (6379, 0, None, 64)
    assert a.handshake() == [("AUTH", "pw")]
    assert Address("redis://127.0.0.1:7000/0").handshake() == []
    assert Address("rediss://h").tls


def test_a_unix_url_takes_db_and_password_as_options() -> None:
    a = Address("unix:///run/redis.sock?db=3&password=pw")
    assert (a.path, a.db, a.password, a.location) == (
        "/run/redis.sock",
        3,
        "pw",
        "/run/redis.sock",
    )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://127.0.0.1:6379", "must start with redis://"),
        (
            "redis://127.0.0.1?socket_keepalive=1",
            r"unknown options \['socket_keepalive'\]",
        ),
        ("redis://127.0.0.1/zero", "bad db"),
        ("redis://127.0.0.1?max_connections=many", "bad max_connections"),
        ("redis://127.0.0.1?max_connections=0", "at least 1"),
        ("redis://u:hunter2@127.0.0.1:99999", r"bad port .*\*\*\*"),
    ],
)
def test_a_bad_url_is_refused_when_the_saver_is_made(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        RedisSaver(url)
    assert "hunter2" not in str(info.value)


# -- against the session's Redis ------------------------------------------------


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    client = Client(Address(redis_url), Counters())
    yield client
    await client.aclose()


def small_client(redis_url: str, size: int) -> Client:
    return Client(Address(f"{redis_url}?max_connections={size}"), Counters())


@pytest.mark.redis
async def test_error_replies_come_back_in_place(
    client: Client, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:k"
    replies, _ = await send(client, [("SET", key, "v"), ("INCR", key), ("GET", key)])
    assert replies[0] == b"OK" and replies[2] == b"v"
    assert isinstance(replies[1], ReplyError) and replies[1].code == "ERR"
    with pytest.raises(ReplyError, match="not an integer"):
        await run(client, [("INCR", key)])


@pytest.mark.redis
async def test_past_max_connections_callers_wait_for_one(redis_url: str) -> None:
    client = small_client(redis_url, 2)
    held: list[Any] = []
    gate, two = anyio.Event(), anyio.Event()

    async def hold() -> None:
        connection = await client.acquire()
        held.append(connection)
        if len(held) == 2:
            two.set()
        await gate.wait()
        await client.release(connection)

    try:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(hold)
                await two.wait()  # both connected (a connect may wait on a future)
                await anyio.wait_all_tasks_blocked()
                assert len(held) == 2  # the other four wait for a connection
                gate.set()
        assert len(held) == 6 and len({id(c) for c in held}) == 2
        assert client.counters.connects == 2
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_caller_waits_at_most_pool_wait(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_transport, "POOL_WAIT", 0.05)
    client = small_client(redis_url, 1)
    try:
        connection = await client.acquire()
        with anyio.fail_after(5), pytest.raises(RedisConnectionError, match="busy"):
            await client.acquire()
        await client.release(connection)
        assert (await run(client, [("PING",)])) == [b"PONG"]  # the permit came back
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_cancelled_command_never_leaves_its_reply_to_the_next(
    redis_url: str, redis_prefix: str
) -> None:
    client = small_client(redis_url, 1)  # one connection: the next call would reuse it
    key = f"{redis_prefix}:list"
    try:
        with anyio.fail_after(5):
            await run(client, [("PING",)])  # connected: the BLPOP blocks on its reply
            async with anyio.create_task_group() as tg:

                async def blocked() -> None:
                    await send(client, [("BLPOP", key, 0)])

                tg.start_soon(blocked)
                await anyio.wait_all_tasks_blocked()  # sent, waiting for its reply
                tg.cancel_scope.cancel()
            admin().rpush(key, "late")  # a reply that the old connection would get
            assert await run(client, [("ECHO", "mine")]) == [b"mine"]
        assert client.counters.connects == 2  # the cancelled one was closed
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_missing_script_is_loaded_and_only_the_refused_sent_again(
    client: Client, redis_prefix: str
) -> None:
    script = Script("return redis.call('INCR', KEYS[1])")
    key, counter = f"{redis_prefix}:s", f"{redis_prefix}:c"
    await load_scripts(client, [script])
    admin().script_flush()
    commands = [script.command([key], []), ("INCR", counter), script.command([key], [])]
    before = client.counters.round_trips
    replies, _ = await send(client, commands, [script], ordered=False)
    assert replies == [1, 1, 2] and client.counters.round_trips - before == 2
    assert admin().get(counter) == b"1"  # INCR ran once


@pytest.mark.redis
async def test_in_order_every_reply_reflects_the_commands_before_it(
    client: Client, redis_prefix: str
) -> None:
    script = Script("return redis.call('SET', KEYS[1], ARGV[1])")
    key = f"{redis_prefix}:s"
    admin().script_flush()
    replies = await run(
        client, [script.command([key], ["new"]), ("GET", key)], [script]
    )
    assert replies == [b"OK", b"new"]


# -- against a RESP server of the test's own ------------------------------------------


@asynccontextmanager
async def resp_server(
    answer: Callable[[list[bytes]], bytes | None],
    *,
    path: Path | None = None,
    closed: anyio.Event | None = None,
) -> AsyncGenerator[tuple[str, list[list[bytes]]]]:
    """A server that answers each command with ``answer(command)``: None never
    answers, ``b"close"`` closes the connection (then sets ``closed``)."""
    seen: list[list[bytes]] = []
    live: list[object] = []
    idle = anyio.Event()

    async def handle(stream: ByteStream) -> None:
        live.append(stream)
        try:
            await serve(stream)
        finally:
            live.remove(stream)
            if not live:
                idle.set()

    async def serve(stream: ByteStream) -> None:
        reader = hiredis.Reader()
        async with stream:
            while True:
                try:
                    reader.feed(await stream.receive())
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
                while (command := reader.gets()) is not False:
                    seen.append(command)
                    reply = answer(command)
                    if reply == b"close":
                        await stream.aclose()
                        if closed is not None:
                            closed.set()
                        return
                    if reply is not None:
                        await stream.send(reply)

    if path is not None:
        listener: Any = await anyio.create_unix_listener(path)
        url = f"unix://{path}?db=4&password=pw"
    else:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        url = f"redis://:pw@127.0.0.1:{port}/0"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield url, seen
        # The test closed its clients: their handlers end. (anyio's asyncio Unix
        # stream can fail in a callback when cancelled as data arrives.)
        with anyio.fail_after(5):
            while live:
                await idle.wait()
                idle = anyio.Event()
        tg.cancel_scope.cancel()


def ok_or(reply: bytes | None) -> Callable[[list[bytes]], bytes | None]:
    def answer(command: list[bytes]) -> bytes | None:
        return b"+OK\r\n" if command[0] in (b"AUTH", b"SELECT") else reply

    return answer


async def test_a_unix_socket_url_logs_in_and_selects_its_db(tmp_path: Path) -> None:
    async with resp_server(ok_or(b"$2\r\nhi\r\n"), path=tmp_path / "r.sock") as (
        url,
        seen,
    ):
        client = Client(Address(url), Counters())
        try:
            assert await run(client, [("GET", "k")]) == [b"hi"]
        finally:
            await client.aclose()
    assert seen == [
        [b"AUTH", b"pw"],
        [b"SELECT", b"4"],
        [b"INFO", b"server"],  # which server it reached: see Counters
        [b"GET", b"k"],
    ]


async def test_a_refused_login_says_to_check_the_url() -> None:
    def answer(command: list[bytes]) -> bytes:
        return b"-WRONGPASS invalid username-password pair\r\n"

    async with resp_server(answer) as (url, seen):
        saver = RedisSaver(url)
        with (
            anyio.fail_after(5),
            pytest.raises(StoreUnavailableError, match="password"),
        ):
            await saver.aload("t")
        await saver.aclose()
    assert [c[0] for c in seen] == [b"AUTH", b"INFO"]  # refused: not tried again


async def test_a_server_that_stops_answering_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transport, "SOCKET_TIMEOUT", 0.1)
    async with resp_server(ok_or(None)) as (url, _):
        connection = RedisConnection(url)
        client = await connection.client()
        with anyio.fail_after(5):
            with pytest.raises(RedisTimeoutError, match=r"no reply within 0\.1 s"):
                await run(client, [("GET", "k")])
        assert client._idle == []  # the stalled connection was closed, not pooled
        await connection.aclose()


async def test_a_connection_the_server_closed_is_replaced_before_use() -> None:
    closed = anyio.Event()

    def answer(command: list[bytes]) -> bytes | None:
        return b"close" if command[0] == b"QUIT" else ok_or(b"+PONG\r\n")(command)

    async with resp_server(answer, closed=closed) as (url, _):
        client = Client(Address(url), Counters())
        try:
            with anyio.fail_after(5):
                assert await run(client, [("PING",)]) == [b"PONG"]
                connection = await client.acquire()  # the same, idle one
                connection._probe.send(b"*1\r\n$4\r\nQUIT\r\n")  # same socket
                await closed.wait()  # the server closed its end: FIN sent
                await client.release(connection)
                assert await run(client, [("PING",)]) == [b"PONG"]
            assert client.counters.connects == 2
            assert client.epoch == 2  # found closed: what was read is not vouched for
        finally:
            await client.aclose()


def test_the_epoch_moves_after_a_break_or_on_another_server_only() -> None:
    counters = Counters()
    counters.connected(b"a")
    counters.connected(b"a")  # one more pooled connection to the same server
    assert (counters.connects, counters.epoch) == (2, 1)
    counters.connected(b"b")  # a restarted (or failed-over) server
    assert counters.epoch == 2
    counters.broke()
    counters.connected(b"b")  # after a break, even to the same server
    assert counters.epoch == 3
    counters.connected(None)  # a server that cannot say which it is
    counters.connected(None)
    assert (counters.connects, counters.epoch) == (6, 5)


async def test_redis_down_is_retried_briefly_then_unreachable() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    client = Client(Address(f"redis://127.0.0.1:{port}/0"), Counters())
    with (
        anyio.fail_after(5),
        pytest.raises(RedisConnectionError, match="cannot connect"),
    ):
        await client.acquire()
    assert client.counters.connects == 0
