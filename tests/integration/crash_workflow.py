"""A workflow run in child processes by test_crash.py.

    python crash_workflow.py URL PREFIX THREAD MARKERS MODE [DURABILITY]

MODE "start": runs the workflow; its second task blocks forever (the test
kills the process). MODE "resume": invokes with None; the second task
finishes. MODE "turn:<text>": one normal turn. Each task appends its name to
the MARKERS file, so the test sees what ran, across processes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from runtime import entrypoint, task
from stores import RedisSaver

URL, PREFIX, THREAD, MARKERS, MODE = sys.argv[1:6]
DURABILITY: Any = sys.argv[6] if len(sys.argv) > 6 else "sync"


def mark(what: str) -> None:
    with Path(MARKERS).open("a") as f:
        f.write(what + "\n")
        f.flush()


@task
async def fetch(x: str) -> str:
    mark("fetch")
    return x.upper()


@task
def slow(x: str) -> str:
    mark("slow-start")
    if MODE == "start":
        time.sleep(3600)  # killed here
    mark("slow-done")
    return x + "!"


async def main() -> None:
    async with RedisSaver(URL, prefix=PREFIX) as saver:

        @entrypoint(checkpointer=saver)
        async def wf(x: Any, *, previous: Any = None) -> Any:
            if isinstance(x, dict):  # a plain chat-like turn
                return [*(previous or []), x["text"]]
            return await slow(await fetch(x))

        config = {"configurable": {"thread_id": THREAD}}
        if MODE == "start":
            await wf.ainvoke("hello", config, durability=DURABILITY)
        elif MODE == "resume":
            print(json.dumps(await wf.ainvoke(None, config)))
        else:
            print(
                json.dumps(
                    await wf.ainvoke({"text": MODE.removeprefix("turn:")}, config)
                )
            )


anyio.run(main)
