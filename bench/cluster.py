"""``python -m bench --processes N``: N ``Runtime(cluster=...)`` processes on one Redis.

Each process drives C/N conversations of T turns (one turn after the
other, as a user would); thread ids are random, so a turn reaches the
thread's owner with probability 1/N, as behind a load balancer that
spreads a conversation's turns over the replicas: most requests are
forwarded. The model is a sleep of ``--latency-ms`` inside the entrypoint.
The parent starts the processes, waits until each sees N members and
holds exactly the shards placed on it (no hand-over left), starts them together and prints one line per run:
turns/s, p50/p99, CPU per turn per process, the share of forwarded
requests, and the CPU a forward costs (CPU per turn over N=1's, per
forwarded turn) when N=1 ran in the same call. ``-c`` takes a list: a C at
which one process is CPU-bound (``-c 2000``) shows the capacity a second
process adds, and each repeat runs every N back to back so the printed
ratio N/N=1 is measured under one load. Figures, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent


def child(
    url: str,
    prefix: str,
    members: int,
    conversations: int,
    turns: int,
    latency: float,
    tune_gc: bool | Literal["aligned"],
) -> None:
    """One member process: join, wait for ``go`` on stdin, drive, print JSON."""
    import anyio
    import anyio.to_thread

    from runtime import Runtime, entrypoint
    from stores import RedisSaver

    async def main() -> None:
        saver = RedisSaver(url, prefix=prefix)

        @entrypoint(checkpointer=saver, name="bench_chat")
        async def chat(text: str, *, previous: list[str] | None = None) -> list[str]:
            await anyio.sleep(latency)
            return [*(previous or []), text]

        async with (
            saver,
            Runtime(cluster=url, cluster_prefix=prefix + ":cl", tune_gc=tune_gc) as rt,
        ):
            node = rt._cluster
            assert node is not None
            with anyio.fail_after(60):
                # every member sees the others and holds exactly its own shards:
                # a request for a shard still in hand-over waits for the new
                # owner's next tick (up to a quarter lease)
                while len(node.live) < members or not node.settled():  # noqa: ASYNC110 -- another process joins
                    await anyio.sleep(0.05)
            print("ready", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.readline)
            latencies: list[float] = []

            async def conversation() -> None:
                config = {"configurable": {"thread_id": uuid.uuid4().hex}}
                for i in range(turns):
                    started = time.perf_counter()
                    await chat.ainvoke(f"turn {i}", config)
                    latencies.append(time.perf_counter() - started)

            cpu, wall = time.process_time(), time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(conversations):
                    tg.start_soon(conversation)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            stats = rt.statistics().cluster
            assert stats is not None
            report = json.dumps(
                {
                    "latencies": latencies,
                    "cpu": cpu,
                    "wall": wall,
                    "forwarded": stats.forwarded,
                    "served_remote": stats.served_remote,
                    "lost_leases": stats.lost_leases,
                    "takeovers": stats.takeovers,
                }
            )
            # From a worker thread: the report outgrows the pipe's buffer and
            # the parent reads the members one after the other, so a blocking
            # print would freeze this member's event loop (its leases lapse,
            # forwarded requests wait for a takeover) until the others finish.
            await anyio.to_thread.run_sync(lambda: print(report, flush=True))
            await anyio.to_thread.run_sync(sys.stdin.readline)  # leave together

    anyio.run(main)


def run(
    url: str,
    processes: int,
    concurrency: int,
    turns: int,
    latency_ms: float,
    tune_gc: bool | Literal["aligned"] = "aligned",
) -> dict[str, Any]:
    """Start ``processes`` members, run the workload once, return the figures."""
    prefix = f"bench-cluster-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    share = [
        concurrency // processes + (i < concurrency % processes)
        for i in range(processes)
    ]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.cluster",
                url,
                prefix,
                str(processes),
                str(n),
                str(turns),
                str(latency_ms / 1000),
                str(tune_gc),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in share
    ]
    from bench.redis_stats import RedisStats, per_turn

    stats = RedisStats(url)
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a bench member failed to start: {line!r}")
        before = stats.before()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            assert p.stdout is not None
            results.append(json.loads(p.stdout.readline()))
        after = stats.after()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("leave\n")
            p.stdin.close()
        for p in procs:
            p.wait(60)
    finally:
        stats.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
    latencies = sorted(x for r in results for x in r["latencies"])
    total = len(latencies)
    wall = max(r["wall"] for r in results)
    cpu = sum(r["cpu"] for r in results)
    return {
        "processes": processes,
        "concurrency": concurrency,
        "turns": total,
        "turns_per_s": total / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(total - 1, int(total * 0.99))] * 1000,
        "cpu_ms_per_turn": cpu / total * 1000,
        "cpu_ms_per_turn_per_process": [
            r["cpu"] / max(1, len(r["latencies"])) * 1000 for r in results
        ],
        "forwarded_share": sum(r["forwarded"] for r in results) / total,
        # nonzero: a member stalled for a lease mid-run (its requests waited
        # for a takeover); the figures are not the forward path's
        "lost_leases": sum(r["lost_leases"] + r["takeovers"] for r in results),
        # Redis's own CPU and every command it ran (the members' ticks too)
        **{
            k: v
            for k, v in per_turn(before, after, total).items()
            if k
            in (
                "redis_cmds_per_turn",
                "redis_cpu_ms_per_turn",
                "redis_top_cmds_per_turn",
            )
        },
    }


def main(
    url: str,
    processes: list[int],
    concurrencies: list[int],
    turns: int,
    latency_ms: float,
    repeat: int,
    tune_gc: bool | Literal["aligned"] = "aligned",
) -> int:
    """Run each (C, N) ``repeat`` times, N interleaved, and print a table per C.

    Each repeat runs every N back to back, so the ratio against the first N
    is measured under the same load; the table gives the median ratio, the
    ideal turns/s (C over the model's latency) and the load average.
    ``tune_gc`` is every member's ``Runtime(tune_gc=...)``: "aligned" by
    default, True with ``--tune-gc``, as in the systems bench.
    """
    for concurrency in concurrencies:
        rows: dict[int, list[dict[str, Any]]] = {n: [] for n in processes}
        load = [os.getloadavg()[0]]
        for _ in range(repeat):
            for n in processes:
                rows[n].append(run(url, n, concurrency, turns, latency_ms, tune_gc))
            load.append(os.getloadavg()[0])
        print(f"tune_gc={tune_gc!r}")
        _table(rows, concurrency, turns, latency_ms, repeat, load)
    return 0


def _table(
    rows: dict[int, list[dict[str, Any]]],
    concurrency: int,
    turns: int,
    latency_ms: float,
    repeat: int,
    load: list[float],
) -> None:
    """Print one C's medians, the ratio to the first N per repeat, the forward's CPU."""
    ideal = concurrency / (latency_ms / 1000) if latency_ms else float("inf")
    print(
        f"C={concurrency} T={turns} model {latency_ms:g} ms, repeat {repeat} (median by"
        f" turns/s); ideal {ideal:.0f} turns/s; load average (1 min) "
        + " -> ".join(f"{x:.2f}" for x in load)
    )
    print(
        "  N  turns/s   p50 ms   p99 ms  CPU ms/turn (per process)     forwarded"
        "  Redis cmds/turn  Redis CPU ms/turn"
    )
    first = next(iter(rows))
    base: dict[str, Any] | None = None
    for n, runs in rows.items():
        row = sorted(runs, key=lambda r: r["turns_per_s"])[len(runs) // 2]
        per = ", ".join(f"{x:.2f}" for x in row["cpu_ms_per_turn_per_process"])
        print(
            f"{n:>3} {row['turns_per_s']:>8.0f} {row['p50_ms']:>8.0f} {row['p99_ms']:>8.0f}"
            f"  {row['cpu_ms_per_turn']:.2f} ({per})  {row['forwarded_share']:>8.0%}"
            f"  {row['redis_cmds_per_turn']:>15.2f}  {row['redis_cpu_ms_per_turn']:>17.3f}"
        )
        if n != first:
            ratios = [
                r["turns_per_s"] / b["turns_per_s"]
                for r, b in zip(runs, rows[first], strict=True)
            ]
            print(
                f"     turns/s N={n} over N={first}, same repeat: median"
                f" {statistics.median(ratios):.2f}x ("
                + ", ".join(f"{x:.2f}" for x in ratios)
                + f"); {row['turns_per_s'] / ideal:.0%} of the ideal"
            )
        if n == 1:
            base = row
        elif base is not None and row["forwarded_share"]:
            extra = (row["cpu_ms_per_turn"] - base["cpu_ms_per_turn"]) / row[
                "forwarded_share"
            ]
            print(f"     CPU a forward costs (both ends, against N=1): {extra:.3f} ms")
        print("     " + json.dumps(row))


if __name__ == "__main__":
    url_, prefix_, members_, conv_, turns_, latency_, tune_ = sys.argv[1:8]
    child(
        url_,
        prefix_,
        int(members_),
        int(conv_),
        int(turns_),
        float(latency_),
        {"True": True, "aligned": "aligned"}.get(tune_, False),
    )
