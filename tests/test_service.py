"""examples/service as its users run it: uvicorn in a subprocess, driven over HTTP.

The server runs on a free 127.0.0.1 port against the session's Redis (a key
prefix of its own), once on asyncio's loop (the uvicorn command line) and
once on uvloop (``python -m examples.service``). The client is httpx on
asyncio: the server is what is under test (uvicorn runs asyncio loops only),
and httpx leaves its generators to trio's finalizer when a reader hangs up.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.redis_server import drop_prefix, has_query_engine, session_url

pytestmark = [pytest.mark.redis, pytest.mark.timeout(55)]

ROOT = Path(__file__).parents[1]
NAMED_USERS = 20  # two threads each: 40 conversations
SILENT_USERS = 10  # one thread each, never say their name: 10 more
TURNS = 4


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Server:
    url: str
    loop: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(loop: str, port: int) -> list[str]:
    if loop == "asyncio":  # the uvicorn command line, asyncio's own loop
        app = ["-m", "uvicorn", "examples.service.app:app", "--loop", "asyncio"]
        return [
            sys.executable,
            *app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    main = ["-m", "examples.service", "--loop", loop, "--no-access-log"]
    return [sys.executable, *main, "--port", str(port)]


def _wait_until_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 40
    while True:
        assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"no answer in 40 s:\n{log.read_text()}"
        time.sleep(0.05)  # a poll interval: the process gives no other signal


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # uvicorn shuts down gracefully: the lifespan closes the stores
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    redis_url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST failed)")
    loop: str = request.param
    prefix, port = f"svc{uuid.uuid4().hex[:10]}", _free_port()
    log = tmp_path_factory.mktemp(f"service-{loop}") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("OPENAI_BASE_URL", None)  # the offline scripted model
    env |= {
        "REDIS_URL": redis_url,
        "SERVICE_KEY_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _command(loop, port),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, proc, log)
        yield Server(url, loop, log)
    finally:
        _stop(proc)
        drop_prefix(f"{prefix}-ckpt")
        drop_prefix(f"{prefix}-store")
    text = log.read_text()
    assert proc.returncode in (0, -signal.SIGTERM), text  # uvicorn re-raises SIGTERM
    assert "Application shutdown complete" in text, text
    for bad in ("Traceback", "Exception in callback", "ERROR"):
        assert bad not in text, text


def _client(server: Server) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    return httpx.AsyncClient(base_url=server.url, timeout=20, limits=limits)


@dataclass
class Turn:
    text: str
    expect: str
    stream: bool


async def _post(client: httpx.AsyncClient, thread: str, user: str, turn: Turn) -> None:
    body = {"user_id": user, "content": turn.text}
    response = await client.post(f"/threads/{thread}/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "thread_id": thread,
        "user_id": user,
        "reply": turn.expect,
    }


async def _events(response: httpx.Response) -> list[tuple[str, Any]]:
    """The (event, JSON data) pairs of a server-sent-event body."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
    return events


async def _stream(
    client: httpx.AsyncClient, thread: str, user: str, turn: Turn
) -> None:
    body = {"user_id": user, "content": turn.text}
    async with client.stream(
        "POST", f"/threads/{thread}/stream", json=body
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await _events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "reply" and kinds.count("reply") == 1, events
    assert set(kinds[:-1]) == {"token"}, events
    tokens = [data["content"] for _, data in events[:-1]]
    assert len(tokens) == len(turn.expect.split()) > 1  # word by word, from the model
    assert "".join(tokens) == turn.expect
    assert events[-1][1] == {"thread_id": thread, "user_id": user, "reply": turn.expect}


async def _converse(
    client: httpx.AsyncClient,
    thread: str,
    user: str,
    turns: list[Turn],
    *,
    wait: dict[int, anyio.Event] | None = None,
    then: dict[int, anyio.Event] | None = None,
) -> None:
    """Say ``turns`` in order: before turn i wait for ``wait[i]``, after it set ``then[i]``."""
    for i, turn in enumerate(turns):
        if wait and i in wait:
            await wait[i].wait()
        await (_stream if turn.stream else _post)(client, thread, user, turn)
        if then and i in then:
            then[i].set()


def _how_many(n: int, stream: bool) -> Turn:
    reply = f"You have sent me {n} messages in this conversation."
    return Turn("how many messages have I sent?", reply, stream)


def _name(name: str, stream: bool) -> Turn:
    return Turn("what is my name?", f"Your name is {name}.", stream)


HELLO = Turn("hello there", "Tell me something about yourself.", stream=True)
DONT_KNOW = Turn("what is my name?", "I don't know your name yet.", stream=True)


def _tell(name: str) -> Turn:
    reply = f"Nice to meet you, {name}! I'll remember that."
    return Turn(f"Hi! Remember: my name is {name}", reply, stream=False)


def _conversations(
    run: str, told: dict[str, anyio.Event], everyone_told: anyio.Event
) -> list[tuple[str, str, list[Turn], dict[str, Any]]]:
    """(thread, user, turns, sync points) of the 50 conversations.

    A named user tells its name on thread a; its thread b asks for it once
    that turn is done (the memory crosses threads). Silent users ask for
    their name once every named user has told theirs, and must not get one.
    """
    out: list[tuple[str, str, list[Turn], dict[str, Any]]] = []
    for i in range(NAMED_USERS):
        user, name = f"u{run}n{i}", f"Name{run}x{i}"
        told[user] = anyio.Event()
        a = [_tell(name), _name(name, True), _how_many(3, False), HELLO]
        b = [HELLO, _name(name, True), _how_many(3, True), _how_many(4, False)]
        out.append((f"t{user}a", user, a, {"then": {0: told[user]}}))
        out.append((f"t{user}b", user, b, {"wait": {1: told[user]}}))
    for i in range(SILENT_USERS):
        user = f"u{run}s{i}"
        c = [HELLO, _how_many(2, False), DONT_KNOW, _how_many(4, True)]
        out.append((f"t{user}c", user, c, {"wait": {2: everyone_told}}))
    return out


async def _all_set(events: list[anyio.Event], then: anyio.Event) -> None:
    for event in events:
        await event.wait()
    then.set()


async def test_fifty_concurrent_conversations_stream_and_remember(
    server: Server,
) -> None:
    run = uuid.uuid4().hex[:8]
    told: dict[str, anyio.Event] = {}
    everyone_told = anyio.Event()
    conversations = _conversations(run, told, everyone_told)
    assert len(conversations) == 50
    async with _client(server) as client:
        before = (await client.get("/health")).json()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_all_set, list(told.values()), everyone_told)
                for thread, user, turns, sync in conversations:
                    tg.start_soon(
                        partial(_converse, client, thread, user, turns, **sync)
                    )
        after = (await client.get("/health")).json()
        for thread, _, turns, _ in conversations:  # every turn was checkpointed
            info = await client.get(f"/threads/{thread}")
            assert info.json() == {
                "thread_id": thread,
                "turns": TURNS,
                "last_reply": turns[-1].expect,
            }
        for i in range(NAMED_USERS):  # each user's memories are its own
            user, other = f"u{run}n{i}", f"Name{run}x{(i + 1) % NAMED_USERS}"
            found = await client.get(f"/users/{user}/memories", params={"query": other})
            assert [m["data"] for m in found.json()["memories"]] == [
                f"User name is Name{run}x{i}"
            ]
        for i in range(SILENT_USERS):
            found = await client.get(
                f"/users/u{run}s{i}/memories", params={"query": "name"}
            )
            assert found.json() == {"user_id": f"u{run}s{i}", "memories": []}
    # The runs went through the lifespan's Runtime: its thread actors and store actor.
    assert after["activations"] - before["activations"] >= 50
    searches, puts = 50 * TURNS, NAMED_USERS
    assert after["store_requests"] - before["store_requests"] == searches + puts
    assert after["store_batches"] > before["store_batches"]
    assert after["event_loop"] == ("uvloop" if server.loop == "uvloop" else "asyncio")


async def test_a_reader_that_leaves_mid_stream_does_not_stop_the_run(
    server: Server,
) -> None:
    thread, user = f"t{uuid.uuid4().hex[:8]}", "leaver"
    async with _client(server) as client:
        body = {"user_id": user, "content": "hello there"}
        async with (
            client.stream("POST", f"/threads/{thread}/stream", json=body) as response,
            aclosing(response.aiter_lines()) as lines,
        ):
            async for line in lines:
                if line.startswith("data:"):
                    break  # the first token: hang up
        # The next turn queues behind the first, which completed and was saved.
        await _post(client, thread, user, _how_many(2, stream=False))


async def test_bad_input_is_a_422_naming_the_field(server: Server) -> None:
    async with _client(server) as client:
        response = await client.post(
            "/threads/t1/messages", json={"user_id": "a.b", "content": "hi"}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "user_id"]
        response = await client.post(
            "/threads/t1/messages", json={"user_id": "u", "content": ""}
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "content"]
        response = await client.get("/threads/never-used")
        assert response.status_code == 404
        assert "never-used" in response.json()["detail"]


def test_the_example_uses_the_public_api_only() -> None:
    private: list[str] = []
    for path in sorted((ROOT / "examples" / "service").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] in {"runtime", "actors", "stores"} and any(
                    p.startswith("_") for p in parts[1:]
                ):
                    private.append(f"{path.name}: {name}")
    assert private == []
