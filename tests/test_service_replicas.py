"""Three replicas of examples/service on one Redis (examples/service/replicas.py).

Real uvicorn subprocesses with ``Runtime(cluster=REDIS_URL)``; each
conversation's turns go round robin over the replicas, so they land on
different processes. The scripted model answers "how many messages have I
sent?" from the thread's history, so every reply checks that each turn is
in it exactly once and in order; GET /threads/{id} counts the turns.
Then one replica is killed with SIGKILL and the conversations go on over
the other two.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator

import anyio
import httpx
import pytest

from examples.service.replicas import replicas
from tests.redis_server import drop_prefix, has_query_engine, session_url

CONVERSATIONS = 6


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def three() -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST failed)")
    prefix = f"rep{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("OPENAI_BASE_URL", None)  # the offline scripted model
    try:
        with replicas(url, 3, prefix=prefix, env=env) as started:
            yield started
    finally:
        for part in ("ckpt", "store", "cluster"):
            drop_prefix(f"{prefix}-{part}")


def _expect(i: int, name: str) -> tuple[str, str]:
    if i == 0:
        return (
            f"Remember: my name is {name}",
            f"Nice to meet you, {name}! I'll remember that.",
        )
    return (
        "how many messages have I sent?",
        f"You have sent me {i + 1} messages in this conversation.",
    )


async def _turns(
    clients: list[httpx.AsyncClient], n: int, first: int, last: int, run: str
) -> None:
    thread, user, name = f"t{run}{n}", f"u{run}{n}", f"Name{run}x{n}"
    for i in range(first, last):
        client = clients[(n + i) % len(clients)]
        text, expect = _expect(i, name)
        body = {"user_id": user, "content": text}
        response = await client.post(f"/threads/{thread}/messages", json=body)
        assert response.status_code == 200, (client.base_url, response.text)
        assert response.json()["reply"] == expect, (thread, i, client.base_url)
    info = await clients[(n + last) % len(clients)].get(f"/threads/{thread}")
    assert info.status_code == 200, info.text
    assert info.json()["turns"] == last


async def _settled(clients: list[httpx.AsyncClient]) -> None:
    """Wait until every replica sees all three members and owns shards.

    A replica that starts last is only placed shards once the others' next
    tick has seen it, so the first requests may all reach one owner; the
    replicas are other processes, so this polls their ``/health``.
    """
    with anyio.fail_after(60):
        while True:
            healths = [(await x.get("/health")).json()["cluster"] for x in clients]
            if all(h["members"] == 3 and h["owned_shards"] > 0 for h in healths):
                return
            await anyio.sleep(0.1)


@pytest.mark.anyio
@pytest.mark.timeout(240)  # three uvicorn processes and a lease to run out: ~22 s alone
async def test_three_replicas_share_conversations_and_survive_a_kill_9(
    three: list[tuple[str, subprocess.Popen[bytes]]],
) -> None:
    run = uuid.uuid4().hex[:6]
    async with (
        httpx.AsyncClient(base_url=three[0][0], timeout=60) as a,
        httpx.AsyncClient(base_url=three[1][0], timeout=60) as b,
        httpx.AsyncClient(base_url=three[2][0], timeout=60) as c,
    ):
        clients = [a, b, c]
        await _settled(clients)
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for n in range(CONVERSATIONS):
                    tg.start_soon(_turns, clients, n, 0, 4, run)
        healths = [(await x.get("/health")).json()["cluster"] for x in clients]
        assert all(h["members"] == 3 for h in healths), healths
        assert sum(h["forwarded"] for h in healths) > 0, healths
        assert sum(h["served_remote"] for h in healths) > 0, healths
        assert all(h["owned_shards"] > 0 for h in healths), healths

        victim = three[2][1]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        with anyio.fail_after(120):  # the lease (5 s) runs out; the others take over
            async with anyio.create_task_group() as tg:
                for n in range(CONVERSATIONS):
                    tg.start_soon(_turns, [a, b], n, 4, 8, run)
        # The dead replica held about a third of the shards (maybe none of
        # these threads): within a lease or two the survivors take them over.
        with anyio.fail_after(60):
            while True:
                after = [(await x.get("/health")).json()["cluster"] for x in (a, b)]
                taken = sum(h["takeovers"] for h in after) > 0
                if taken and sum(h["owned_shards"] for h in after) == 64:
                    break
                await anyio.sleep(0.1)
