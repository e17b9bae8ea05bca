"""Requests per second of the service at N concurrent conversations.

    python -m examples.service.load --serve uvloop        # start a server, load it, stop it
    python -m examples.service.load --url http://127.0.0.1:8000

Each conversation is its own thread and user: it tells its name, then asks
questions, every ``--stream-every``-th turn over the SSE endpoint (read to
the final event), the others as JSON. Every reply is checked. ``--serve``
starts ``uvicorn examples.service.app:app`` on a free 127.0.0.1 port with
the given loop (REDIS_URL passes through, else the service's embedded
Redis) and a fresh key prefix, and stops it afterwards. Traffic goes only
to the given url; the run is bounded by conversations x turns.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).parents[2]


async def _turn(
    client: httpx.AsyncClient, thread: str, user: str, text: str, stream: bool
) -> str:
    body = {"user_id": user, "content": text}
    if not stream:
        response = await client.post(f"/threads/{thread}/messages", json=body)
        response.raise_for_status()
        return response.json()["reply"]
    tokens: list[str] = []
    async with client.stream(
        "POST", f"/threads/{thread}/stream", json=body
    ) as response:
        response.raise_for_status()
        event = ""
        async for line in response.aiter_lines():  # read to the end: the final event
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
                if event == "token":
                    tokens.append(data["content"])
                elif event == "reply":
                    if "".join(tokens) != data["reply"]:
                        raise AssertionError(
                            f"tokens {tokens} do not make {data['reply']!r}"
                        )
                    return data["reply"]
    raise AssertionError("the stream ended without a reply event")


def _question(i: int, name: str) -> tuple[str, str]:
    if i % 2:
        return "what is my name?", f"Your name is {name}."
    return (
        "how many messages have I sent?",
        f"You have sent me {i + 1} messages in this conversation.",
    )


async def _conversation(
    clients: list[httpx.AsyncClient],
    n: int,
    turns: int,
    every: int,
    latencies: list[float],
) -> None:
    run = uuid.uuid4().hex[:8]
    tag = "warm" if n < 0 else n
    thread, user, name = f"load{run}t{tag}", f"load{run}u{tag}", f"Load{run}x{tag}"
    script = [
        (
            f"Remember: my name is {name}",
            f"Nice to meet you, {name}! I'll remember that.",
        )
    ]
    script += [_question(i, name) for i in range(1, turns)]
    for i, (text, expect) in enumerate(script):
        start = time.perf_counter()
        client = clients[(n + i) % len(clients)]  # round robin over the replicas
        reply = await _turn(
            client, thread, user, text, stream=every > 0 and i % every == every - 1
        )
        latencies.append(time.perf_counter() - start)
        if reply != expect:
            raise AssertionError(f"{thread} turn {i}: {reply!r}, expected {expect!r}")


async def load(
    urls: list[str], conversations: int, turns: int, every: int
) -> dict[str, float]:
    """Run the conversations against ``urls`` (turn by turn, round robin).

    Returns requests/s and latency percentiles (ms), and the last url's
    counters. Raises AssertionError on a wrong reply.
    """
    limits = httpx.Limits(
        max_connections=conversations, max_keepalive_connections=conversations
    )
    latencies: list[float] = []
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=30, limits=limits)
            )
            for url in urls
        ]
        await _conversation(clients, -1, 2, every, [])  # the code paths, once
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for n in range(conversations):
                tg.start_soon(_conversation, clients, n, turns, every, latencies)
        elapsed = time.perf_counter() - start
        health = (await clients[-1].get("/health")).json()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "store_batches": health["store_batches"],
        "store_requests": health["store_requests"],
        "event_loop": health["event_loop"],
    }


def wait_until_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float, what: str = "the server"
) -> None:
    """Block until ``url``/health answers 200; raises RuntimeError if ``what`` exits or is late."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} at {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} at {url} did not answer in {timeout:g} s")
        time.sleep(0.05)  # a poll interval: the process gives no other signal


@contextmanager
def serving(loop: str) -> Iterator[str]:
    """``uvicorn examples.service.app:app --loop <loop>`` on a free port; yields its url."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SERVICE_KEY_PREFIX": f"load{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.service.app:app",
        "--loop",
        loop,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_healthy(url, proc, 60)
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--url", help="a running service; comma-separated: replicas, round robin"
    )
    where.add_argument(
        "--serve", choices=["asyncio", "uvloop"], help="start one with this loop"
    )
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--stream-every", type=int, default=2, help="0: never stream")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.turns < 2:
        parser.error("need at least 1 conversation of at least 2 turns")

    def run(urls: list[str]) -> None:
        result = anyio.run(
            load, urls, args.conversations, args.turns, args.stream_every
        )
        print(json.dumps(result))

    if args.url:
        run([u.strip().rstrip("/") for u in args.url.split(",") if u.strip()])
    else:
        with serving(args.serve) as url:
            run([url])


if __name__ == "__main__":
    main()
