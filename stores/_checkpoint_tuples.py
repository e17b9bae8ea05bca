"""LangGraph's checkpointer read API on our savers: ``get_tuple``, ``list``, ``get``, ``delete_thread``.

Code that inspects a LangGraph checkpointer (``checkpointer.get_tuple(config)``,
``list(checkpointer.list(config))``) ports unchanged: ``@checkpoint_tuples``
adds those methods to a saver class, built only on the saver contract
(``aload``, ``alist``, ``aget``, ``adelete_thread``). ``alist`` and ``aget``
keep their contract form for a thread-id string and take LangGraph's form
(a config mapping) otherwise.

Values are bytes the runtime serialized; the runtime registers its decoder
with ``set_value_decoder`` when imported (plain msgpack until then).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import msgspec

from ._checkpoint import Checkpoint, CheckpointSaver, TaskRecord
from ._sync import run_sync

S = TypeVar("S", bound=type[Any])

_decode: Callable[[bytes], Any] = msgspec.msgpack.decode


def set_value_decoder(decode: Callable[[bytes], Any]) -> None:
    """Use ``decode`` to turn checkpointed bytes into values (the runtime calls this)."""
    global _decode
    _decode = decode


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata and parent, shaped like LangGraph's.

    ``checkpoint["channel_values"]`` holds ``"__end__"`` (the return value,
    ``get_state().values``) and, for the latest checkpoint,
    ``"__previous__"`` (what the next run gets as ``previous``).
    ``pending_writes`` lists ``(task_id, kind, value)`` of the thread's
    unfinished run (latest checkpoint only).
    """

    config: dict[str, Any]
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    parent_config: dict[str, Any] | None = None
    pending_writes: list[tuple[str, str, Any]] | None = None


def _config(thread_id: str, checkpoint_id: str) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }


def _tuple(
    c: Checkpoint, records: list[TaskRecord] | None = None, latest: bool = False
) -> CheckpointTuple:
    values: dict[str, Any] = {"__end__": _decode(c.value)}
    if latest and c.save:
        values["__previous__"] = _decode(c.save)
    checkpoint = {
        "v": 1,
        "id": c.checkpoint_id,
        "ts": datetime.fromtimestamp(c.created_at, UTC).isoformat(),
        "channel_values": values,
        "channel_versions": {"__end__": c.version},
        "versions_seen": {},
    }
    writes = None
    if records is not None:
        writes = [(r.task_id, r.kind, _decode(r.payload)) for r in records]
    return CheckpointTuple(
        config=_config(c.thread_id, c.checkpoint_id),
        checkpoint=checkpoint,
        metadata={"step": c.version - 1, **c.metadata},
        parent_config=_config(c.thread_id, c.parent_id) if c.parent_id else None,
        pending_writes=writes,
    )


def _thread_and_id(
    config: Mapping[str, Any] | None, what: str
) -> tuple[str, str | None]:
    configurable: Mapping[str, object] = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if not isinstance(thread_id, str | int) or thread_id == "":
        raise ValueError(
            f"{what} needs config={{'configurable': {{'thread_id': ...}}}}; listing every "
            f"thread is not supported, got {config!r}"
        )
    checkpoint_id = configurable.get("checkpoint_id")
    return str(thread_id), str(checkpoint_id) if checkpoint_id is not None else None


async def aget_tuple(
    saver: CheckpointSaver, config: Mapping[str, Any]
) -> CheckpointTuple | None:
    """The checkpoint ``config`` names (the latest without ``checkpoint_id``), or None."""
    thread_id, checkpoint_id = _thread_and_id(config, "get_tuple")
    state = await saver.aload(thread_id)
    latest = state.latest
    if checkpoint_id is None or (latest and latest.checkpoint_id == checkpoint_id):
        if latest is None:
            return None
        return _tuple(latest, state.records if state.run else [], latest=True)
    found = await saver.aget(thread_id, checkpoint_id)
    return _tuple(found) if found is not None else None


async def alist_tuples(
    saver: CheckpointSaver,
    config: Mapping[str, Any] | None,
    *,
    filter: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> AsyncIterator[CheckpointTuple]:
    """The thread's checkpoints newest first, as LangGraph's ``alist`` yields them.

    ``filter`` keeps those whose metadata has each key with that value;
    ``before`` (a config naming a checkpoint) keeps older ones.
    """
    thread_id, checkpoint_id = _thread_and_id(config, "list")
    before_version: int | None = None
    if before is not None:
        anchor_config: Mapping[str, object] = before.get("configurable") or {}
        before_id = anchor_config.get("checkpoint_id")
        anchor = await saver.aget(thread_id, str(before_id)) if before_id else None
        if anchor is None:
            raise ValueError(f"before= names no checkpoint of thread {thread_id!r}")
        before_version = anchor.version
    checkpoints = await saver.alist(
        thread_id, limit=None if filter else limit, before=before_version
    )
    yielded = 0
    for c in checkpoints:
        if checkpoint_id is not None and c.checkpoint_id != checkpoint_id:
            continue
        if filter and any(c.metadata.get(k) != v for k, v in filter.items()):
            continue
        if limit is not None and yielded >= limit:
            return
        yielded += 1
        yield _tuple(c)


def checkpoint_tuples(cls: S) -> S:
    """Add LangGraph's read API to saver class ``cls`` (see the module docstring)."""
    own_alist: Callable[..., Any] = cls.alist
    own_aget: Callable[..., Any] = cls.aget
    # sync reads work inside a running loop too (on the shared sync loop)
    run = run_sync

    def alist(self: Any, config: Any = None, /, **kwargs: Any) -> Any:
        if isinstance(config, str):
            return own_alist(self, config, **kwargs)
        return alist_tuples(self, config, **kwargs)

    def aget(self: Any, config: Any, /, *args: Any) -> Any:
        if isinstance(config, str):
            return own_aget(self, config, *args)
        return _checkpoint_dict(self, config)

    def list_(
        self: Any, config: Any = None, /, **kwargs: Any
    ) -> Iterator[CheckpointTuple]:
        return iter(run(_collect, alist_tuples(self, config, **kwargs)))

    def get_tuple(self: Any, config: Any) -> CheckpointTuple | None:
        return run(aget_tuple, self, config)

    def get(self: Any, config: Any) -> dict[str, Any] | None:
        return run(_checkpoint_dict, self, config)

    def delete_thread(self: CheckpointSaver, thread_id: str) -> None:
        run(self.adelete_thread, thread_id)

    extra: dict[str, Any] = {
        "alist": alist,
        "aget": aget,
        "aget_tuple": aget_tuple,
        "get_tuple": get_tuple,
        "list": list_,
        "get": get,
        "delete_thread": delete_thread,
    }
    for name, fn in extra.items():
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, fn)
    return cls


async def _checkpoint_dict(
    saver: CheckpointSaver, config: Mapping[str, Any]
) -> dict[str, Any] | None:
    found = await aget_tuple(saver, config)
    return found.checkpoint if found is not None else None


async def _collect(items: AsyncIterator[CheckpointTuple]) -> list[CheckpointTuple]:
    return [item async for item in items]
