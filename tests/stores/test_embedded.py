"""The embedded Redis launcher: start, stop, persistence, errors, watchdog, reaping."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
import redis

from stores._checkpoint import Checkpoint
from stores._errors import EmbeddedRedisError, StoreUnavailableError
from stores.redis import _embedded
from stores.redis._connection import resolve_url
from stores.redis._embedded import (
    DATA_DIR_ENV,
    EmbeddedRedis,
    RedisBinaries,
    default_server,
    find_binaries,
    free_port,
    reap_orphans,
)
from stores.redis._saver import RedisSaver
from stores.redis._store import RedisStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.redis


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_closed_by_server(sock: socket.socket) -> bytes:
    """Block until the server closes ``sock`` (it shut down); bounded by the socket timeout."""
    sock.settimeout(20)
    return sock.recv(64)


@pytest.fixture
def client_of() -> Iterator[list[redis.Redis]]:
    clients: list[redis.Redis] = []
    yield clients
    for c in clients:
        c.close()


def connect(clients: list[redis.Redis], server: EmbeddedRedis) -> redis.Redis:
    client = redis.Redis.from_url(server.url)
    clients.append(client)
    return client


def test_start_loads_modules_then_stop_frees_port_and_dir(
    client_of: list[redis.Redis],
) -> None:
    server = EmbeddedRedis().start()
    try:
        directory = server.directory
        assert directory is not None
        assert directory.is_dir()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = connect(client_of, server)
        assert client.ping()
        modules = {m[b"name"] for m in client.execute_command("MODULE", "LIST")}
        assert {b"search", b"ReJSON"} <= modules
        assert client.config_get("appendonly") == {"appendonly": "no"}
        port = server.port
    finally:
        server.stop()
    assert refused(port)
    assert not directory.exists()
    assert not server.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    server.stop()  # idempotent


def test_explicit_port_and_context_manager(client_of: list[redis.Redis]) -> None:
    port = free_port()
    with EmbeddedRedis(port=port) as server:
        assert server.port == port
        assert connect(client_of, server).ping()
    assert refused(port)


def test_data_dir_keeps_data_in_aof_across_restarts(
    tmp_path: Path, client_of: list[redis.Redis]
) -> None:
    with EmbeddedRedis(data_dir=tmp_path) as server:
        client = connect(client_of, server)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.set("kept", "yes")
    assert any(tmp_path.glob("appendonlydir/*.aof"))
    with EmbeddedRedis(data_dir=tmp_path) as again:
        assert connect(client_of, again).get("kept") == b"yes"
    assert tmp_path.is_dir()  # a data dir is never removed


def test_a_data_dir_has_one_owner(tmp_path: Path) -> None:
    with (
        EmbeddedRedis(data_dir=tmp_path),
        pytest.raises(EmbeddedRedisError, match="in use by another process"),
    ):
        EmbeddedRedis(data_dir=tmp_path).start()


def test_bad_module_path_fails_with_the_log_tail(tmp_path: Path) -> None:
    real = find_binaries()
    bogus = tmp_path / "redisearch.so"
    bogus.write_bytes(b"not a shared object")
    server = EmbeddedRedis(binaries=RedisBinaries(server=real.server, modules=(bogus,)))
    with pytest.raises(EmbeddedRedisError, match="exited while starting") as info:
        server.start()
    assert isinstance(info.value, StoreUnavailableError)
    assert "last lines of" in str(info.value)
    assert str(bogus) in str(info.value)  # the server's own log line about the module
    assert not server.running


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    real = find_binaries()
    server = EmbeddedRedis(
        binaries=RedisBinaries(server=tmp_path / "redis-server", modules=real.modules)
    )
    with pytest.raises(
        EmbeddedRedisError, match=r"needs .*redis-server, which is missing; install"
    ):
        server.start()


def test_port_in_use_fails_with_the_log_tail() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EmbeddedRedisError, match="Address already in use"):
            EmbeddedRedis(port=port).start()


_OWNER = textwrap.dedent(
    """
    import sys, time
    from stores.redis._embedded import EmbeddedRedis
    server = EmbeddedRedis().start()
    print(server.port, flush=True)
    sys.stdin.read()  # until killed
    """
)


def test_server_does_not_outlive_a_killed_owner() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.getcwd(),
    )
    try:
        assert owner.stdout is not None
        port = int(owner.stdout.readline())
        watcher = socket.create_connection(("127.0.0.1", port), timeout=5)
        with watcher:
            watcher.sendall(b"PING\r\n")
            assert watcher.recv(64) == b"+PONG\r\n"
            owner.send_signal(signal.SIGKILL)
            owner.wait(10)
            assert wait_closed_by_server(watcher) == b""  # the watchdog stopped it
        assert refused(port)
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.wait()
        for stream in (owner.stdin, owner.stdout):
            if stream is not None:
                stream.close()


def test_reaping_stops_a_server_whose_owner_died(tmp_path: Path) -> None:
    binaries = find_binaries()
    orphan_dir = tmp_path / "srv-orphan"
    orphan_dir.mkdir()
    (orphan_dir / "owner.lock").touch()  # nobody holds it: the owner is gone
    port = free_port()
    orphan = subprocess.Popen(
        [
            str(binaries.server),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ],
        stdout=subprocess.PIPE,
    )
    assert orphan.stdout is not None
    for line in orphan.stdout:  # its log: wait until it really is a running server
        if b"Ready to accept connections" in line:
            break
    try:
        (orphan_dir / "redis.pid").write_text(str(orphan.pid))
        live_dir = tmp_path / "srv-live"
        live_dir.mkdir()
        with (live_dir / "owner.lock").open("ab") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            assert reap_orphans(tmp_path) == 1
            assert orphan.wait(10) == -signal.SIGKILL
            assert not orphan_dir.exists()
            assert live_dir.exists()  # its owner (us) holds the lock
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait()
        orphan.stdout.close()


def test_redis_url_overrides_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:6400/2")
    assert resolve_url(None) == "redis://example:6400/2"
    assert resolve_url("redis://explicit:1/0") == "redis://explicit:1/0"
    monkeypatch.delenv("REDIS_URL")
    assert resolve_url(None) is None


def test_default_server_uses_the_data_dir_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, client_of: list[redis.Redis]
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(_embedded, "_default", None)
    try:
        server = default_server()
        assert default_server() is server  # one per process
        assert server.directory == tmp_path.resolve()
        assert connect(client_of, server).config_get("appendonly") == {
            "appendonly": "yes"
        }
    finally:
        _embedded._stop_default()
    assert not server.running


async def test_no_url_and_no_redis_url_means_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(_embedded, "_default", None)
    try:
        async with (
            RedisSaver(prefix="default-test") as saver,
            RedisStore(prefix="default-test") as store,
        ):
            await saver.acommit("t", _checkpoint(), expected_version=0)
            await store.aput(("a",), "k", {"v": 1})
            assert (await saver.aload("t")).version == 1
            assert [i.key for i in await store.asearch(("a",))] == ["k"]
            server = _embedded._default
            assert server is not None
            assert server.running
    finally:
        _embedded._stop_default()
    assert not server.running


def _checkpoint() -> Checkpoint:
    return Checkpoint(
        thread_id="t",
        version=1,
        checkpoint_id="c1",
        created_at=1.0,
        value=b"v",
        save=b"s",
    )
