"""Three replicas of the service behind one Redis, and a round-robin client.

    python -m examples.service.replicas                    # serve until Ctrl-C
    python -m examples.service.replicas --load             # serve, load them, stop
    python -m examples.service.replicas --replicas 3 --port 8001

Each replica is ``uvicorn examples.service.app:app`` with SERVICE_CLUSTER=1,
that is ``Runtime(cluster=REDIS_URL)``: the replicas share one thread space,
so a conversation's turns may reach any of them (the owner of the thread
runs the turn; the others forward it). REDIS_URL names the Redis; unset,
this script starts an embedded one (the replicas must share it, so it is
not each replica's own) and stops it afterwards. ``--load`` runs
``examples.service.load`` with every turn of a conversation sent to the
next replica in turn, and prints its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio

from stores import EmbeddedRedis

from .load import load, wait_until_healthy

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(port: int) -> list[str]:
    """The command line of one replica on ``port``."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.service.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn leaves gracefully: the Runtime hands its threads over), then kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def replicas(
    redis_url: str,
    count: int = 3,
    *,
    prefix: str | None = None,
    ports: list[int] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Start ``count`` replicas on ``redis_url``; yields (url, process) pairs, stops them on exit.

    Blocks until every replica answers /health (RuntimeError past ``timeout``).
    ``prefix`` is SERVICE_KEY_PREFIX (default a fresh one); ``env`` adds to
    the environment (stdout and stderr are inherited).
    """
    ports = ports or [free_port() for _ in range(count)]
    if len(ports) != count:
        raise ValueError(f"{count} replicas need {count} ports, got {len(ports)}")
    base = {**os.environ, **(env or {})}
    base |= {
        "REDIS_URL": redis_url,
        "SERVICE_CLUSTER": "1",
        "SERVICE_KEY_PREFIX": prefix or f"replicas{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(ROOT),
    }
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for port in ports:
            proc = subprocess.Popen(command(port), cwd=ROOT, env=base)
            started.append((f"http://127.0.0.1:{port}", proc))
        for url, proc in started:
            wait_until_healthy(url, proc, timeout, "the replica")
        yield started
    finally:
        for _, proc in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # all leave together
        for _, proc in started:
            stop(proc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument(
        "--port", type=int, default=8001, help="the first replica's port (then +1, ...)"
    )
    parser.add_argument("--load", action="store_true", help="load them, then stop")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--stream-every", type=int, default=2, help="0: never stream")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL") or stack.enter_context(EmbeddedRedis()).url
        ports = [args.port + i for i in range(args.replicas)]
        started = stack.enter_context(replicas(url, args.replicas, ports=ports))
        urls = [u for u, _ in started]
        print(f"{len(urls)} replicas on {url}: " + ", ".join(urls), flush=True)
        if not args.load:
            try:
                started[0][1].wait()
            except KeyboardInterrupt:
                pass
            return
        result = anyio.run(
            load, urls, args.conversations, args.turns, args.stream_every
        )
        print(json.dumps(result))


if __name__ == "__main__":
    main()
