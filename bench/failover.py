"""``python -m bench --failover``: the time a dead member's threads wait after kill -9.

Each kill starts 3 ``Runtime(cluster=...)`` member processes on one Redis
(a fresh prefix), waits until they see each other and every shard is
held, and starts a background load in the two that survive (``-c``
conversations each, turn after turn, 200 ms model). Then the parent kills
the third with SIGKILL and at once tells a survivor to send one turn to
each of ``PROBES`` threads whose shards the dead member held: they wait
in its shard streams until a survivor takes the shard (a lease of seeing
the same value, then XAUTOCLAIM). The figure is the wall time from the
kill to the last probe's answer (one machine: one clock). Median over
``--repeat`` kills, at the default lease unless ``--lease`` says.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBES = 16


def child(url: str, prefix: str, conversations: int, lease: float) -> None:
    """One member: join, report its id, load on ``load``, probe on ``probe M``."""
    import anyio
    import anyio.to_thread

    from runtime import Runtime, entrypoint
    from stores import RedisSaver, parse_lease

    async def main() -> None:
        saver = RedisSaver(url, prefix=prefix)

        @entrypoint(checkpointer=saver, name="bench_failover")
        async def chat(text: str, *, previous: list[str] | None = None) -> list[str]:
            await anyio.sleep(0.2)
            return [*(previous or []), text]

        async def conversation() -> None:
            config = {"configurable": {"thread_id": uuid.uuid4().hex}}
            while True:
                await chat.ainvoke("turn", config)

        async def probe(dead: str) -> None:
            node = rt._cluster
            assert node is not None
            held = {s for s, v in node._leases.items() if parse_lease(v)[0] == dead}
            threads: list[str] = []
            while len(threads) < PROBES:
                t = uuid.uuid4().hex
                if (
                    zlib.crc32(t.encode()) % node.shards in held
                ):  # the cluster's shard_of
                    threads.append(t)
            async with anyio.create_task_group() as tg:
                for t in threads:
                    tg.start_soon(
                        chat.ainvoke, "probe", {"configurable": {"thread_id": t}}
                    )
            print(json.dumps({"done": time.time(), "shards": len(held)}), flush=True)

        async with (
            saver,
            Runtime(cluster=url, cluster_prefix=prefix + ":cl", lease_time=lease) as rt,
        ):
            node = rt._cluster
            assert node is not None
            with anyio.fail_after(60):
                while len(node.live) < 3 or len(node._leases) < node.shards:  # noqa: ASYNC110 -- others join
                    await anyio.sleep(0.05)
            print(node.member, flush=True)
            async with anyio.create_task_group() as tg:
                while True:
                    line = (await anyio.to_thread.run_sync(sys.stdin.readline)).split()
                    if not line or line[0] == "leave":
                        tg.cancel_scope.cancel()
                        break
                    if line[0] == "load":
                        for _ in range(conversations):
                            tg.start_soon(conversation)
                    elif line[0] == "probe":
                        await probe(line[1])

    anyio.run(main)


def once(url: str, conversations: int, lease: float) -> dict[str, Any]:
    """Start 3 members, kill -9 one under load, return the seconds until its threads answer."""
    prefix = f"bench-failover-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [url, prefix, str(conversations), str(lease)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.failover", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    try:
        members = []
        for p in procs:
            assert p.stdout is not None
            members.append(p.stdout.readline().strip())
        live, dead = procs[:2], procs[2]
        for p in live:
            assert p.stdin is not None
            p.stdin.write("load\n")
            p.stdin.flush()
        time.sleep(2 * lease)  # the load runs; forwards reach the victim too
        killed = time.time()
        dead.send_signal(signal.SIGKILL)
        assert live[0].stdin is not None
        assert live[0].stdout is not None
        live[0].stdin.write(f"probe {members[2]}\n")
        live[0].stdin.flush()
        answer = json.loads(live[0].stdout.readline())
        for p in live:
            assert p.stdin is not None
            p.stdin.write("leave\n")
            p.stdin.close()
        for p in live:
            p.wait(60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return {"seconds": answer["done"] - killed, "shards": answer["shards"]}


def main(url: str, conversations: int, lease: float, repeat: int) -> int:
    """Kill ``repeat`` times; print each failover time and their median."""
    load = [os.getloadavg()[0]]
    runs = [once(url, conversations, lease) for _ in range(repeat)]
    load.append(os.getloadavg()[0])
    seconds = [r["seconds"] for r in runs]
    print(
        f"failover after kill -9 of 1 of 3 members, lease_time={lease:g} s, load"
        f" {conversations} conversations per survivor (200 ms model), {PROBES} probe"
        f" threads on the dead member's shards; load average (1 min) "
        + " -> ".join(f"{x:.2f}" for x in load)
    )
    print(
        f"  median {statistics.median(seconds):.2f} s over {repeat} kills ("
        + ", ".join(f"{s:.2f}" for s in seconds)
        + f"); {statistics.median(seconds) / lease:.2f} lease times; shards of the"
        " dead member: " + ", ".join(str(r["shards"]) for r in runs)
    )
    return 0


if __name__ == "__main__":
    url_, prefix_, conv_, lease_ = sys.argv[1:5]
    child(url_, prefix_, int(conv_), float(lease_))
