"""A cluster member run in child processes by test_cluster.py.

    python cluster_worker.py URL PREFIX LEASE_SECONDS [SAVER_CLUSTER_URL]

``CLUSTER_HOST`` picks the event loop: asyncio (default), uvloop or trio.

Joins ``Runtime(cluster=URL)`` and answers JSON commands read from stdin,
one per line, each with an ``id``; every answer is one JSON line on stdout
with the same ``id``. Commands run concurrently. ``{"op": "exit"}`` leaves
the cluster (the Runtime's ``async with`` ends) and the process exits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from runtime import AIMessageChunk, Runtime, entrypoint, get_stream_writer
from runtime._context import emit_message
from stores import RedisSaver

URL, PREFIX, LEASE = sys.argv[1], sys.argv[2], float(sys.argv[3])
SAVER_URL = sys.argv[4] if len(sys.argv) > 4 else None  # a Redis Cluster node


def _plain(value: Any) -> Any:
    fields = getattr(value, "__struct_fields__", None)
    if fields is not None:
        return {"type": type(value).__name__, **{f: getattr(value, f) for f in fields}}
    return str(value)


def out(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main() -> None:
    saver = (
        RedisSaver(URL, prefix=PREFIX)
        if SAVER_URL is None
        else RedisSaver(SAVER_URL, prefix=PREFIX, cluster=True)
    )

    @entrypoint(checkpointer=saver, name="chat")
    async def chat(text: Any, *, previous: Any = None) -> Any:
        if isinstance(text, dict):  # {"text": ..., "delay": seconds, "mark": path}
            get_stream_writer()({"custom": text["text"]})
            for token in text.get("tokens", ()):
                await emit_message(AIMessageChunk(content=token))
            if text.get("mark"):
                with Path(text["mark"]).open("a") as f:  # noqa: ASYNC230 -- a marker the test polls
                    f.write(text["text"] + "\n")
            await anyio.sleep(text.get("delay", 0))
            text = text["text"]
        return [*(previous or []), text]

    async def turns(cmd: dict[str, Any]) -> dict[str, Any]:
        acks: dict[str, list[str]] = {}
        errors: list[str] = []

        async def one_thread(thread: str) -> None:
            for i in range(cmd["turns"]):
                token = f"{cmd['tag']}-{i}"
                config = {"configurable": {"thread_id": thread}}
                try:
                    with anyio.fail_after(30):
                        await chat.ainvoke(
                            {"text": token, "delay": cmd.get("delay", 0)}, config
                        )
                except Exception as exc:  # noqa: BLE001 -- reported to the test
                    errors.append(f"{thread} {token}: {type(exc).__name__}: {exc}")
                else:
                    acks.setdefault(thread, []).append(token)

        async with anyio.create_task_group() as tg:
            for thread in cmd["threads"]:
                tg.start_soon(one_thread, thread)
        return {"acks": acks, "errors": errors}

    async def stream(cmd: dict[str, Any]) -> dict[str, Any]:
        config = {"configurable": {"thread_id": cmd["thread"]}}
        chunks = [
            c
            async for c in chat.astream(
                {"text": cmd["text"], "tokens": cmd.get("tokens", [])},
                config,
                stream_mode=cmd["modes"],
            )
        ]
        return {"chunks": json.loads(json.dumps(chunks, default=_plain))}

    async def handle(rt: Runtime, cmd: dict[str, Any], done: anyio.Event) -> None:
        op = cmd["op"]
        try:
            if op == "turns":
                result = await turns(cmd)
            elif op == "stream":
                result = await stream(cmd)
            elif op == "invoke":
                config: dict[str, Any] = {"configurable": {"thread_id": cmd["thread"]}}
                if "strategy" in cmd:
                    config["multitask_strategy"] = cmd["strategy"]
                started = time.monotonic()
                text = {k: cmd[k] for k in ("text", "delay", "mark") if k in cmd}
                value = await chat.ainvoke(text, config)
                result = {"value": value, "seconds": time.monotonic() - started}
            elif op == "stats":
                stats = rt.statistics().cluster
                assert stats is not None
                node = rt._cluster
                assert node is not None
                from runtime._cluster import shard_of

                mine = [
                    t
                    for t in cmd.get("threads", [])
                    if node.serving(shard_of(t, node.shards))
                ]
                result = {
                    "stats": {f: getattr(stats, f) for f in stats.__struct_fields__},
                    "mine": mine,
                }
            elif op == "exit":
                done.set()
                return
            else:
                raise ValueError(op)
        except Exception as exc:  # noqa: BLE001 -- reported to the test
            result = {"error": f"{type(exc).__name__}: {exc}"}
        out({"id": cmd["id"], **result})

    async with (
        saver,
        Runtime(cluster=URL, lease_time=LEASE, cluster_prefix=PREFIX + ":cl") as rt,
    ):
        done = anyio.Event()
        out({"id": "ready", "member": rt.statistics().cluster.member})  # type: ignore[union-attr]
        async with anyio.create_task_group() as tg:

            async def reader() -> None:
                while True:
                    line = await anyio.to_thread.run_sync(
                        sys.stdin.readline, abandon_on_cancel=True
                    )
                    if not line:
                        done.set()
                        return
                    tg.start_soon(handle, rt, json.loads(line), done)

            tg.start_soon(reader)
            await done.wait()
            tg.cancel_scope.cancel()
    out({"id": "left"})


if __name__ == "__main__":
    host = os.environ.get("CLUSTER_HOST", "asyncio")
    if host == "uvloop":
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})
    else:
        anyio.run(main, backend=host)
