"""Cluster arguments, and the checkpointer view that fences a member's commits."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import anyio

from stores import (
    Checkpoint,
    CheckpointSaver,
    FencedError,
    PendingRun,
    TaskRecord,
    ThreadState,
)

if TYPE_CHECKING:
    from ._cluster import ClusterNode


def check_cluster(
    cluster: str | bool | None, shards: int, lease_time: float
) -> str | None:
    """The cluster's Redis url (None: not clustered); ValueError naming a bad argument."""
    if shards < 1:
        raise ValueError(f"cluster_shards must be at least 1, got {shards!r}")
    if not lease_time > 0:
        raise ValueError(f"lease_time must be positive seconds, got {lease_time!r}")
    if cluster is None or cluster is False:
        return None
    if cluster is True:
        url = os.environ.get("REDIS_URL")
        if not url:
            raise ValueError(
                "Runtime(cluster=True) joins the Redis named by REDIS_URL, which is not "
                "set; set it or pass cluster='redis://host:port' (the embedded Redis "
                "is private to one process and cannot host a cluster)"
            )
        return url
    if not isinstance(cluster, str) or "://" not in cluster:  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
        raise ValueError(
            f"cluster must be a Redis url such as 'redis://host:6379/0' or True, got {cluster!r}"
        )
    return cluster


class FencedSaver:
    """A member's view of a checkpointer: loads raise the thread's fence, commits check it.

    The thread's fence is set to the lease epoch of its shard as the
    actor loads it; every commit carries that epoch, so one from a member
    that lost the shard since is refused (FencedError), whoever wrote last.
    """

    def __init__(self, saver: CheckpointSaver, node: ClusterNode) -> None:
        if not hasattr(saver, "afence"):
            raise TypeError(
                f"Runtime(cluster=...) needs a checkpointer all members share, such as "
                f"RedisSaver(url); {type(saver).__name__} is private to one process"
            )
        self._saver: Any = saver
        self._node = node
        self._epochs: dict[str, int] = {}

    async def aload(self, thread_id: str) -> ThreadState:
        """Raise the thread's fence and load it, both in one round trip under load.

        The fence is queued first and the load right behind it, so they
        share the saver's next batch (one wait for the group writer instead
        of two; the fence runs first on the server). Should the load still
        run first (a fence script resent after a Redis restart, or the load
        in the next batch, flying beside the fence's) and a stale owner
        commit in between, the state read is one commit behind and this
        member's commit is refused as a conflict: the actor reloads.

        Raises:
            FencedError: the fence holds a newer epoch (the state is discarded).
            StoreUnavailableError: Redis failed.
        """
        epoch = self._node.epoch_of(thread_id)
        loaded: list[ThreadState] = []
        failed: list[BaseException] = []

        async def load() -> None:
            try:
                loaded.append(await self._saver.aload(thread_id))
            except Exception as exc:  # noqa: BLE001 -- raised below, unwrapped
                failed.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(load)  # runs once the fence is queued
            try:
                await self._saver.afence(thread_id, epoch)
            except Exception as exc:  # noqa: BLE001 -- raised below, unwrapped
                failed.insert(0, exc)
                tg.cancel_scope.cancel()
        if failed:
            raise failed[0]
        self._epochs[thread_id] = epoch
        return loaded[0]

    async def acommit(
        self,
        thread_id: str,
        checkpoint: Checkpoint,
        *,
        expected_version: int,
    ) -> None:
        epoch = self._epochs.get(thread_id)
        if epoch is None:
            raise FencedError(f"thread {thread_id!r} was not loaded under a lease")
        await self._saver.acommit(
            thread_id,
            checkpoint,
            expected_version=expected_version,
            fence=epoch,
        )

    async def abegin_run(self, thread_id: str, run: PendingRun) -> None:
        await self._saver.abegin_run(thread_id, run)

    async def arecord(
        self,
        thread_id: str,
        run_id: str,
        record: TaskRecord,
        *,
        begin: PendingRun | None = None,
    ) -> None:
        await self._saver.arecord(thread_id, run_id, record, begin=begin)

    async def adiscard_run(self, thread_id: str, run_id: str) -> None:
        await self._saver.adiscard_run(thread_id, run_id)

    async def alist(
        self, thread_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[Checkpoint]:
        return await self._saver.alist(thread_id, limit=limit, before=before)

    async def aget(self, thread_id: str, checkpoint_id: str) -> Checkpoint | None:
        return await self._saver.aget(thread_id, checkpoint_id)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._saver.adelete_thread(thread_id)

    async def aclose(self) -> None:
        return None
