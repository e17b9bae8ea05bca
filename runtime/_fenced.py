"""Cluster arguments, and the checkpointer view that fences a member's commits."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

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

    The thread's fence is set to the lease epoch of its shard before the
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
        epoch = self._node.epoch_of(thread_id)
        await self._saver.afence(thread_id, epoch)
        self._epochs[thread_id] = epoch
        return await self._saver.aload(thread_id)

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
