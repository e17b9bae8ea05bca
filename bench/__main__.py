"""``python -m bench``: the cross-thread memory workload, on our runtime and optionally LangGraph.

For each C (concurrent conversations) and each system, in turn, one fresh
process runs the workload (bench/runner.py); after a Redis run another fresh
process times a cold resume (bench/cold.py). The parent prints a table (and
JSON lines with ``--json``), the ratio ours/LangGraph per C, and exits
non-zero if any run failed or gave a wrong answer. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench import _report
from bench._server import redis_url, server_info
from bench.runner import REDIS_SYSTEMS, SYSTEMS, RunConfig
from bench.workload import Spec

ROOT = Path(__file__).resolve().parent.parent
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
INSTALL_HINT = (
    "LangGraph is not importable here. Install the comparison environment with\n"
    "  make bench-compare\n"
    "(it creates .venv-compare with the project's `compare` extra: langgraph,\n"
    "langgraph-checkpoint-redis and redisvl==0.27.2, and runs the comparison), or run\n"
    "  .venv-compare/bin/python -m bench --compare langgraph"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "-c", "--concurrency", default="1,10,100,1000", help="comma-separated list of C"
    )
    p.add_argument("-u", "--users", type=int, default=100, help="users U (default 100)")
    p.add_argument(
        "-t",
        "--turns",
        type=int,
        default=5,
        help="turns T per conversation (default 5)",
    )
    p.add_argument(
        "--min-turns",
        type=int,
        default=500,
        help="turns each run measures at least (default 500): below C*T, more"
        " conversations run, still C at a time, each a new thread",
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="fake chat model latency (default 0)",
    )
    p.add_argument(
        "--processes",
        default=None,
        help="comma-separated N: N Runtime(cluster=...) processes on one Redis (bench/cluster.py)",
    )
    p.add_argument(
        "--failover",
        action="store_true",
        help="kill -9 one of 3 cluster members under load, --repeat times: the"
        " seconds until its threads answer (bench/failover.py; -c: conversations"
        " per survivor, default 50)",
    )
    p.add_argument(
        "--lease", type=float, default=3.0, help="lease_time of --failover (default 3)"
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per system and C; the table shows the median run by turns/s",
    )
    p.add_argument(
        "--natural-ids",
        action="store_true",
        help="user ids u1, u10, ... (default zero-padded, u01, u10: see bench/NOTES.md)",
    )
    p.add_argument(
        "--systems",
        default="ours-redis,ours-memory",
        help=f"comma-separated, of {', '.join(SYSTEMS)}",
    )
    p.add_argument(
        "--compare",
        choices=["langgraph"],
        help="also run LangGraph (Redis) on the same Redis",
    )
    p.add_argument(
        "--redis-url", help="default: REDIS_URL, else an embedded redis-server"
    )
    p.add_argument(
        "--pool-size",
        type=int,
        default=50,
        help="LangGraph's BlockingConnectionPool size",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON lines on stdout (the table goes to stderr)",
    )
    p.add_argument(
        "--plot", metavar="PNG", help="turns/s and p99 against C (needs matplotlib)"
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="pyinstrument profile of each run's measured phase (needs pyinstrument)",
    )
    p.add_argument(
        "--cold-runs",
        type=int,
        default=3,
        help="cold-resume processes per Redis row, each on another thread;"
        " the table shows their medians (default 3)",
    )
    p.add_argument(
        "--no-cold", action="store_true", help="skip the cold-resume processes"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--tune-gc",
        action="store_true",
        help="tune the cyclic GC in every run: Runtime(tune_gc=True) for ours, the same settings for LangGraph",
    )
    p.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="the event loop of every run (default asyncio); LangGraph runs on asyncio only",
    )
    p.add_argument(
        "--tracing",
        choices=["off", "on", "content"],
        help="our systems only: OpenTelemetry off, on, or on with message content, "
        "through the SDK to a counting exporter; the fake model is then called "
        "as a chat model in every mode (see bench/_tracing.py)",
    )
    p.add_argument(
        "--turn-timeout",
        type=float,
        default=120.0,
        help="seconds before a turn counts as an error",
    )
    p.add_argument(
        "--run-timeout",
        type=float,
        default=3600.0,
        help="seconds before a run is killed",
    )
    return p


def _systems(args: argparse.Namespace) -> list[str]:
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.compare == "langgraph" and "langgraph" not in systems:
        systems.append("langgraph")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SystemExit(
            f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}"
        )
    if args.backend != "asyncio" and any(s.startswith("langgraph") for s in systems):
        raise SystemExit(
            f"LangGraph runs on asyncio only; drop it from --systems for --backend {args.backend}"
        )
    return systems


def _importable(systems: list[str]) -> dict[str, str]:
    """Import each side once here, for a clear message and the versions; exit 2 if one is missing."""
    versions: dict[str, str] = {"python": platform.python_version()}
    if any(s.startswith("ours") for s in systems):
        try:
            from bench import ours
        except ImportError as exc:
            print(
                f"our runtime is not importable ({exc}); install the project: pip install -e .",
                file=sys.stderr,
            )
            raise SystemExit(2) from exc
        versions.update(ours.versions())
    if any(s.startswith("langgraph") for s in systems):
        try:
            from bench import langgraph_side
        except ImportError as exc:
            print(f"{INSTALL_HINT}\n({exc})", file=sys.stderr)
            raise SystemExit(2) from exc
        versions.update(langgraph_side.versions())
    return versions


def _spawn(
    module: str, cfg: RunConfig, timeout: float, *, echo: bool
) -> tuple[dict[str, Any] | None, str]:
    """Run ``python -m module CONFIG OUT`` from the repo root; return its JSON result and stderr tail."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for var in BLAS_THREADS:  # idle BLAS threads spin and bill their CPU to the run
        env.setdefault(var, "1")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", module, cfg.to_json(), str(out)]
        with subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as proc:
            assert proc.stdout is not None
            tail = b""
            watchdog = threading.Timer(timeout, proc.kill)
            watchdog.start()
            try:
                while chunk := proc.stdout.read1(4096):
                    if echo:
                        sys.stderr.buffer.write(chunk)
                        sys.stderr.flush()
                    tail = (tail + chunk)[-4000:]
            finally:
                watchdog.cancel()
        if proc.returncode == -signal.SIGKILL:
            tail += f"\nkilled after {timeout:.0f} s".encode()
        text = tail.decode(errors="replace")
        if proc.returncode != 0 or not out.exists():
            return None, text
        return json.loads(out.read_text()), text


def _one(
    system: str, c: int, args: argparse.Namespace, url: str | None, tag: str
) -> dict[str, Any]:
    spec = Spec(
        tag=tag,
        users=args.users,
        conversations=max(c, -(-args.min_turns // max(args.turns, 1))),
        concurrency=c,
        turns=args.turns,
        latency_ms=args.latency_ms,
        natural_ids=args.natural_ids,
    )
    progress = not args.no_progress and sys.stderr.isatty()
    cfg = RunConfig(
        system,
        spec,
        url if system in REDIS_SYSTEMS else None,
        args.pool_size,
        args.turn_timeout,
        progress,
        {
            **({"profile_dir": args.profile} if args.profile else {}),
            **({"tune_gc": True} if args.tune_gc else {}),
            **({"backend": args.backend} if args.backend != "asyncio" else {}),
            **(
                {"tracing": args.tracing}
                if args.tracing and system.startswith("ours")
                else {}
            ),
        },
    )
    result, tail = _spawn("bench.runner", cfg, args.run_timeout, echo=progress)
    if result is None:
        lines = [line for line in tail.strip().splitlines() if line.strip()][-3:]
        return {
            "system": system,
            "c": c,
            "ok": False,
            "errors": 1,
            "wrong": 0,
            "problems": lines or ["crashed"],
        }
    if system in REDIS_SYSTEMS and not args.no_cold:
        _cold(result, cfg, args)
    return result


_COLD_KEYS = (
    "import_ms",
    "setup_ms",
    "first_turn_ms",
    "import_cpu_ms",
    "setup_cpu_ms",
    "first_turn_cpu_ms",
)


def _cold(result: dict[str, Any], cfg: RunConfig, args: argparse.Namespace) -> None:
    """``--cold-runs`` fresh processes, each resuming another thread; their medians."""
    cfg.progress = False
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()
    for k in range(min(args.cold_runs, cfg.spec.conversations)):
        cfg.extra["cold_thread"] = k
        cold, tail = _spawn("bench.cold", cfg, args.run_timeout, echo=False)
        if cold is None:
            result["ok"] = False
            result["problems"] = [
                *result.get("problems", []),
                f"cold resume crashed: {tail.strip()[-300:]}",
            ]
            return
        runs.append(cold)
    result["cold_process_ms"] = (time.perf_counter() - start) * 1000 / max(len(runs), 1)
    for key in _COLD_KEYS:
        result[f"cold_{key}"] = statistics.median(r[key] for r in runs)
        result[f"cold_{key}_runs"] = [r[key] for r in runs]
    for cold in runs:
        if not cold["ok"]:
            result["ok"] = False
            result["wrong"] = result.get("wrong", 0) + 1
            result["problems"] = [
                *result.get("problems", []),
                f"cold resume answered wrong: {cold['reply']!r}",
            ]


def _summary(r: dict[str, Any]) -> str:
    if r.get("turns_per_s") is None:
        return f"{r['system']} C={r['c']}: FAILED"
    state = "ok" if r["ok"] else "WRONG" if r.get("wrong") else "FAILED"
    return f"{r['system']} C={r['c']}: {r['turns_per_s']:.1f} turns/s, p99 {r['p99_ms']:.1f} ms, {state}"


def _speed() -> str:
    # This machine's speed varies with what shares it (2x between sessions
    # here): a fixed loop timed at start tells runs of different days apart.
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    return f"{(time.perf_counter() - start) * 1000:.0f} ms per 2M-add loop"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.failover:
        from bench import failover

        with redis_url(args.redis_url) as (url, _):
            c = args.concurrency.split(",")[-1]
            conversations = 50 if args.concurrency == "1,10,100,1000" else int(c)
            return failover.main(url, conversations, args.lease, args.repeat)
    if args.processes:
        from bench import cluster

        with redis_url(args.redis_url) as (url, _):
            return cluster.main(
                url,
                [int(n) for n in args.processes.split(",")],
                [int(c) for c in args.concurrency.split(",") if c.strip()],
                args.turns,
                args.latency_ms,
                args.repeat,
                True if args.tune_gc else "aligned",
            )
    systems = _systems(args)
    cs = [int(c) for c in args.concurrency.split(",") if c.strip()]
    env = _importable(systems)
    env["python speed"] = _speed()
    env["backend"] = args.backend
    needs_redis = any(s in REDIS_SYSTEMS for s in systems)
    results: list[dict[str, Any]] = []
    base = "b" + secrets.token_hex(3)
    with (
        redis_url(args.redis_url) if needs_redis else nullcontext((None, "none")) as (
            url,
            where,
        )
    ):
        if url:
            env.update(server_info(url), redis=where)
        for c in cs:  # alternate the systems at each C, so drift hits all of them alike
            for repeat in range(args.repeat):
                for system in systems:
                    result = _one(system, c, args, url, f"{base}r{len(results)}")
                    result.update(env=env, repeat=repeat)
                    results.append(result)
                    print(_summary(result), file=sys.stderr)
    return _finish(results, env, args)


def _finish(
    results: list[dict[str, Any]], env: dict[str, str], args: argparse.Namespace
) -> int:
    out = sys.stderr if args.json else sys.stdout
    workload = f"U={args.users} T={args.turns} at least {args.min_turns} turns a run, model latency {args.latency_ms:g} ms"
    print(
        "\n" + workload + "; " + ", ".join(f"{k} {v}" for k, v in env.items()), file=out
    )
    medians = _report.medians(results)
    print(_report.table(medians), file=out)
    for line in _report.ratios(medians):
        print(line, file=out)
    for line in _report.problems(medians):
        print("problem: " + line, file=out)
    if args.json:
        _report.json_lines(results, sys.stdout)
    status = 0 if all(r.get("ok") for r in results) else 1
    if args.plot:
        try:
            _report.plot(medians, args.plot)
        except ImportError:
            print("--plot needs matplotlib: pip install -e '.[bench]'", file=sys.stderr)
            status = status or 2
    return status


if __name__ == "__main__":
    sys.exit(main())
