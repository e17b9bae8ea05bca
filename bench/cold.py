"""Cold resume: a fresh process imports a system and answers on an existing thread.

``python -m bench.cold CONFIG_JSON OUT_PATH`` (spawned by ``python -m bench``
after a Redis run) times three phases: importing the system's modules, opening
it (connections, index setup, Runtime), and the first turn on thread 0 of the
run that just finished, which must load that thread's saved history from
Redis. It then reads the history back and checks the turn saw all of it.
Each phase is timed twice: wall clock (``*_ms``) and this process's CPU time
(``*_cpu_ms``), which a busy shared machine inflates far less.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any

# Only the standard library above: main() times the import of the system's
# side module first (it brings the system, redis-py and anyio), then the rest.


async def _resume(cfg: Any) -> dict[str, Any]:
    from bench.runner import open_side
    from bench.workload import FakeModel, HashEmbedder, history_digest, memory_key

    spec = cfg.spec
    k = cfg.extra.get("cold_thread", 0)  # a thread of the run that just finished
    thread_id, user_id = spec.thread_id(k), spec.user_of(k)
    message = spec.message(k, spec.turns + 1)
    t0, c0 = time.perf_counter(), time.process_time()
    async with open_side(
        cfg, FakeModel(spec.latency_ms), HashEmbedder(spec.dims)
    ) as side:
        t1, c1 = time.perf_counter(), time.process_time()
        reply = await side.turn(thread_id, user_id, message)
        t2, c2 = time.perf_counter(), time.process_time()
        saved = await side.history(thread_id, user_id)
    ok = (
        len(saved) == 2 * spec.turns + 2
        and saved[-2] == ("human", message)
        and saved[-1] == ("ai", reply)
        and reply.startswith(
            f"re {memory_key(message)} n={2 * spec.turns + 1} h={history_digest(saved[:-1])} "
        )
    )
    return {
        "setup_ms": (t1 - t0) * 1000,
        "first_turn_ms": (t2 - t1) * 1000,
        "setup_cpu_ms": (c1 - c0) * 1000,
        "first_turn_cpu_ms": (c2 - c1) * 1000,
        "ok": ok,
        "reply": reply,
    }


def main(argv: list[str]) -> int:
    raw = json.loads(argv[0])
    t0, c0 = time.perf_counter(), time.process_time()
    importlib.import_module(
        "bench.langgraph_side"
        if raw["system"].startswith("langgraph")
        else "bench.ours"
    )
    import_ms = (time.perf_counter() - t0) * 1000
    import_cpu_ms = (time.process_time() - c0) * 1000
    import anyio

    from bench.runner import RunConfig

    cfg = RunConfig.from_json(argv[0])
    result = {
        "import_ms": import_ms,
        "import_cpu_ms": import_cpu_ms,
        **anyio.run(_resume, cfg, backend=cfg.extra.get("backend", "asyncio")),
    }
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
