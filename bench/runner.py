"""One run: one system at one C, measured and checked, in this process.

``python -m bench.runner CONFIG_JSON OUT_PATH`` runs it in a fresh process
(what ``python -m bench`` does, so peak RSS and CPU are per run) and writes
the result as JSON to ``OUT_PATH``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from bench._progress import Progress
from bench.redis_stats import RedisStats, install_round_trip_counter, per_turn
from bench.workload import Checker, Conversation, FakeModel, HashEmbedder, Spec

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterator
    from contextlib import AbstractAsyncContextManager

REDIS_SYSTEMS = ("ours-redis", "langgraph")
SYSTEMS = ("ours-redis", "ours-memory", "langgraph", "langgraph-memory")


@dataclass
class RunConfig:
    """Everything a run needs; JSON-serialisable so a child process can get it."""

    system: str
    spec: Spec
    redis_url: str | None = None
    pool_size: int = 50
    turn_timeout: float = 120.0
    progress: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        raw = json.loads(text)
        raw["spec"] = Spec(**raw["spec"])
        return cls(**raw)


@asynccontextmanager
async def _with_tuned_gc(
    tune: Any, side: AbstractAsyncContextManager[Any]
) -> AsyncGenerator[Any]:
    # LangGraph gets the collector settings our Runtime(tune_gc=tune) uses
    # (by default CPython 3.13's young threshold, with --tune-gc the tuned
    # ones): they are process-wide and hold while any Runtime runs.
    from runtime import Runtime

    async with Runtime(tune_gc=tune), side as opened:
        yield opened


def open_side(
    cfg: RunConfig, model: FakeModel, embedder: HashEmbedder
) -> AbstractAsyncContextManager[Any]:
    """The system's side (``bench/ours.py`` or ``bench/langgraph_side.py``), opened lazily."""
    if cfg.system.startswith("langgraph"):
        from bench import langgraph_side as side
    else:
        from bench import ours as side  # type: ignore[no-redef]
    # The library leaves the collector alone unless asked; the bench asks.
    tune: bool | str = True if cfg.extra.get("tune_gc") else "aligned"
    if not cfg.system.startswith("langgraph"):
        return side.open_side(  # type: ignore[call-arg]
            cfg.system,
            cfg.spec,
            model,
            embedder,
            redis_url=cfg.redis_url,
            pool_size=cfg.pool_size,
            tune_gc=tune,  # Runtime(tune_gc=...): the library's own option
            tracing=cfg.extra.get("tracing"),
        )
    return _with_tuned_gc(
        tune,
        side.open_side(
            cfg.system,
            cfg.spec,
            model,
            embedder,
            redis_url=cfg.redis_url,
            pool_size=cfg.pool_size,
        ),
    )


async def _seed(side: Any, spec: Spec) -> None:
    limiter = anyio.CapacityLimiter(64)

    async def put(user: str, key: str, text: str) -> None:
        async with limiter:
            await side.seed(user, key, text)

    async with anyio.create_task_group() as tg:
        for item in spec.seed_memories():
            tg.start_soon(put, *item)


async def _converse(
    side: Any,
    cfg: RunConfig,
    checker: Checker,
    conv: Conversation,
    latencies: list[float],
    bar: Progress,
) -> None:
    spec, k = cfg.spec, conv.k
    thread_id, user_id = spec.thread_id(k), spec.user_of(k)
    for t in range(1, spec.turns + 1):
        start = time.perf_counter()
        try:
            with anyio.fail_after(cfg.turn_timeout):
                reply = await side.turn(thread_id, user_id, spec.message(k, t))
        except Exception as exc:  # noqa: BLE001 -- a failed turn is a measured outcome
            conv.errors.append(f"{thread_id} turn {t}: {type(exc).__name__}: {exc}")
            bar.error()
            return  # the thread's history no longer matches the transcript
        latencies.append(time.perf_counter() - start)
        # Checked after the timed phase: the check costs the harness CPU
        # (history digests, exact memory ranking) that is not the system's.
        conv.replies.append((t, reply))
        bar.tick()


async def _worker(
    side: Any,
    cfg: RunConfig,
    checker: Checker,
    queue: Iterator[Conversation],
    latencies: list[float],
    bar: Progress,
) -> None:
    """Run conversations from ``queue`` one after another until it is empty."""
    for conv in queue:
        await _converse(side, cfg, checker, conv, latencies, bar)


async def _verify(
    side: Any, cfg: RunConfig, checker: Checker, convs: list[Conversation]
) -> list[str]:
    """Check every thread's saved history and every user's memory count (untimed)."""
    spec, limiter, problems = cfg.spec, anyio.CapacityLimiter(64), []

    async def history(conv: Conversation) -> None:
        async with limiter:
            try:
                saved = await side.history(spec.thread_id(conv.k), spec.user_of(conv.k))
            except Exception as exc:  # noqa: BLE001 -- reported, not raised
                conv.errors.append(
                    f"{spec.thread_id(conv.k)} history: {type(exc).__name__}: {exc}"
                )
                return
            checker.check_history(conv, saved)

    async def count(i: int) -> None:
        async with limiter:
            try:
                n = await side.count(spec.user_id(i))
            except Exception as exc:  # noqa: BLE001 -- reported, not raised
                problems.append(
                    f"user {spec.user_id(i)} count: {type(exc).__name__}: {exc}"
                )
                return
            if n != checker.expected_memories(i):
                problems.append(
                    f"user {spec.user_id(i)} has {n} memories, expected {checker.expected_memories(i)}"
                )

    async with anyio.create_task_group() as tg:
        for conv in convs:
            if not conv.errors:
                tg.start_soon(history, conv)
        if not any(c.errors for c in convs):
            for i in range(spec.users):
                tg.start_soon(count, i)
    return problems


@contextmanager
def _profiled(cfg: RunConfig) -> Iterator[None]:
    """With ``--profile DIR``: pyinstrument over the measured phase, text + HTML."""
    directory = cfg.extra.get("profile_dir")
    if not directory:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    with profiler:
        yield
    stem = Path(directory) / f"{cfg.system}-c{cfg.spec.in_flight}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".txt").write_text(
        profiler.output_text(unicode=True, show_all=False)
    )
    stem.with_suffix(".html").write_text(profiler.output_html())


def _peak_rss_mb() -> float:
    # ru_maxrss survives execve on Linux: a child of a big parent reports the
    # parent's peak. VmHWM belongs to this program's own address space.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return (
        sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000
    )


async def run(cfg: RunConfig) -> dict[str, Any]:
    """Seed, run C conversations of T turns at once (closed loop), measure, check."""
    spec = cfg.spec
    checker = Checker(spec)
    stats = (
        RedisStats(cfg.redis_url)
        if cfg.system in REDIS_SYSTEMS and cfg.redis_url
        else None
    )
    install_round_trip_counter()
    convs = [Conversation(k) for k in range(spec.conversations)]
    latencies: list[float] = []
    label = f"{cfg.system} C={spec.in_flight}"
    bar = Progress(label, spec.conversations * spec.turns, enabled=cfg.progress)
    try:
        async with open_side(
            cfg, FakeModel(spec.latency_ms), HashEmbedder(spec.dims)
        ) as side:
            await _seed(side, spec)
            # One untimed turn on a thread of its own, so first-call costs
            # (lazy imports, index handles, connections) stay out of the figures.
            await side.turn(
                f"{spec.tag}warmup", spec.user_id(0), f"{spec.user_id(0)}-w-t1 warm up"
            )
            traced = getattr(side, "tracing", None)
            spans0 = traced.spans() if traced is not None else 0
            before = stats.before() if stats else None
            cpu0, t0 = time.process_time(), time.perf_counter()
            with _profiled(cfg):
                async with anyio.create_task_group() as outer:
                    outer.start_soon(bar.run)
                    queue = iter(convs)  # C workers, each a conversation at a time
                    async with anyio.create_task_group() as tg:
                        for _ in range(min(spec.in_flight, len(convs))):
                            tg.start_soon(
                                _worker, side, cfg, checker, queue, latencies, bar
                            )
                    outer.cancel_scope.cancel()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            after = stats.after() if stats else None
            if (
                traced is not None
            ):  # flushed after the clock stopped: nearly all exported
                cfg.extra["spans"] = traced.spans() - spans0
            for conv in convs:
                for t, reply in conv.replies:
                    checker.check_reply(conv, t, reply)
            problems = await _verify(side, cfg, checker, convs)
    finally:
        if stats:
            stats.close()
    return _result(cfg, convs, latencies, elapsed, cpu, problems, (before, after))


def _result(
    cfg: RunConfig,
    convs: list[Conversation],
    latencies: list[float],
    elapsed: float,
    cpu: float,
    problems: list[str],
    snaps: tuple[Any, Any],
) -> dict[str, Any]:
    spec, turns = cfg.spec, len(latencies)
    errors = [e for c in convs for e in c.errors]
    wrong = [w for c in convs for w in c.wrong] + problems
    lat = sorted(latencies)
    out: dict[str, Any] = {
        "system": cfg.system,
        "c": spec.in_flight,
        "conversations": spec.conversations,
        "users": spec.users,
        "turns_per_conversation": spec.turns,
        "model_latency_ms": spec.latency_ms,
        "turns": turns,
        "seconds": elapsed,
        "turns_per_s": turns / elapsed if elapsed > 0 else None,
        "p50_ms": _percentile(lat, 0.50),
        "p99_ms": _percentile(lat, 0.99),
        "max_ms": lat[-1] * 1000 if lat else None,
        "cpu_ms_per_turn": cpu * 1000 / max(turns, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "errors": len(errors),
        "wrong": len(wrong),
        "ok": not errors and not wrong and turns == spec.conversations * spec.turns,
        "problems": (errors + wrong)[:5],
        "tag": spec.tag,
        "load_avg_1m": os.getloadavg()[
            0
        ],  # other work on the machine skews the figures
    }
    before, after = snaps
    if before is not None and after is not None:
        out.update(per_turn(before, after, turns))
    if "tracing" in cfg.extra:
        out["tracing"] = cfg.extra["tracing"]
        out["spans_per_turn"] = cfg.extra.get("spans", 0) / max(turns, 1)
    return out


def main(argv: list[str]) -> int:
    cfg = RunConfig.from_json(argv[0])
    result = anyio.run(run, cfg, backend=cfg.extra.get("backend", "asyncio"))
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
