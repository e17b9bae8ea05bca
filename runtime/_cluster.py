"""``Runtime(cluster=url)``: membership, shard ownership and hand-over.

Threads fall into ``shards`` fixed virtual shards (``crc32(thread_id) mod
S``). Each shard is placed on one live member by rendezvous hashing and
held under a lease with a fencing epoch (``stores.redis._leases``). A
member ticks every quarter lease: one script renews its heartbeat and its
leases and returns the tables. It serves a shard until a local monotonic
deadline, three quarters of a lease after it sent the renewal, so it
stops before any observer can call it dead (a full lease of seeing the
same value). Requests for threads of shards it does not serve go to the
shard's stream (``_forward``); its own ones take the local path.

A member that leaves hands over: it leaves the member table, stops
reading its shards' streams, forwards new local calls, finishes running
turns, then releases its leases. One that dies loses its shards when its
leases go stale; the taker claims the requests it had read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
import zlib
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from actors import Reply
from stores import (
    CheckpointConflictError,
    CheckpointSaver,
    ClusterBackend,
    FencedError,
    StoreUnavailableError,
    parse_lease,
)

from ._cluster_stats import ClusterStats
from ._forward import Forwarder

if TYPE_CHECKING:
    from ._host import Runtime

log = logging.getLogger("actorgraph.cluster")
_LEAVE_SECONDS = 30.0


class _Owned:
    __slots__ = ("deadline", "draining", "epoch")

    def __init__(self, epoch: int, deadline: float) -> None:
        self.epoch = epoch
        self.deadline = deadline
        self.draining = False


def shard_of(thread_id: str, shards: int) -> int:
    """The virtual shard of ``thread_id`` (the same in every process)."""
    return zlib.crc32(thread_id.encode()) % shards


def _score(member: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{member}/{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class ClusterNode:
    """This process's member of a cluster; built and run by ``joined``."""

    def __init__(
        self,
        host: Runtime,
        backend: ClusterBackend,
        *,
        shards: int,
        lease_time: float,
    ) -> None:
        self.host = host
        self.backend = backend
        self.shards = shards
        self.lease_time = lease_time
        self.member = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.owned: dict[int, _Owned] = {}
        self.leaving = False
        self.live: list[str] = [self.member]
        self._seen: dict[str, tuple[bytes, float]] = {}  # key -> (value, since)
        self._leases: dict[int, bytes] = {}
        self.local_running = [0] * shards
        self.changed = anyio.Event()
        self.handoffs = self.takeovers = self.lost_leases = 0
        self._last_tick = anyio.current_time()
        self._boot: str | None = None
        self.forward = Forwarder(self)

    # -- ownership --------------------------------------------------------

    def serving(self, shard: int) -> bool:
        """True while this member may run turns of ``shard`` (never blocks)."""
        owned = self.owned.get(shard)
        return (
            owned is not None
            and not owned.draining
            and anyio.current_time() < owned.deadline
        )

    def settled(self) -> bool:
        """True when this member holds exactly the shards placed on it (never blocks)."""
        return not self.leaving and all(
            (s in self.owned and not self.owned[s].draining)
            == (self._desired(s) == self.member)
            for s in range(self.shards)
        )

    def epoch_of(self, thread_id: str) -> int:
        """The lease epoch this member holds the thread's shard under.

        Raises FencedError if it does not hold it (any more).
        """
        shard = shard_of(thread_id, self.shards)
        owned = self.owned.get(shard)
        if owned is None or anyio.current_time() >= owned.deadline:
            raise FencedError(
                f"thread {thread_id!r}: cluster member {self.member} no longer holds shard {shard}"
            )
        return owned.epoch

    def _notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    def _desired(self, shard: int) -> str:
        return max(self.live, key=lambda m: _score(m, shard))

    def _stale(self, key: str, value: bytes, now: float) -> bool:
        seen = self._seen.get(key)
        if seen is None or seen[0] != value:
            self._seen[key] = (value, now)
            return False
        return now - seen[1] >= self.lease_time

    # -- requests -----------------------------------------------------------

    async def ask(
        self, saver: CheckpointSaver, thread_id: str, turn: Any, strategy: Any
    ) -> Any:
        """Run ``turn`` here if this member serves the thread's shard, else on its owner."""
        shard = shard_of(thread_id, self.shards)
        if self.serving(shard):
            self.local_running[shard] += 1
            try:
                return await self._local_ask(saver, thread_id, turn, strategy)
            except FencedError:
                pass  # the shard moved under the turn, which committed nothing: forward it
            finally:
                self.local_running[shard] -= 1
                self.forward.done_one()
        reply = await self.forward.send(saver, thread_id, turn, strategy, shard)
        return await reply.wait()

    async def _local_ask(
        self, saver: CheckpointSaver, thread_id: str, turn: Any, strategy: Any
    ) -> Any:
        for attempt in range(2):
            reply = await self.host.local_send(saver, thread_id, turn, strategy)
            try:
                return await reply.wait()
            except CheckpointConflictError as exc:
                # A stale warm state (a commit whose reply was lost) was reloaded
                # by the actor; the turn committed nothing: run it once more.
                if attempt or isinstance(exc, FencedError):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(
        self, saver: CheckpointSaver, thread_id: str, turn: Any, strategy: Any
    ) -> Reply:
        """``ask`` for streaming callers: the reply slot."""
        shard = shard_of(thread_id, self.shards)
        if not self.serving(shard):
            return await self.forward.send(saver, thread_id, turn, strategy, shard)
        self.local_running[shard] += 1
        try:
            reply = await self.host.local_send(saver, thread_id, turn, strategy)
        except BaseException:
            self._local_done(shard)
            raise
        reply.on_done(lambda: self._local_done(shard))
        return reply

    def _local_done(self, shard: int) -> None:
        self.local_running[shard] -= 1
        self.forward.done_one()

    # -- the tick -----------------------------------------------------------

    async def membership(self) -> None:
        """Tick every quarter lease, forever (after the first tick, done by ``joined``)."""
        while True:
            await anyio.sleep(self.lease_time / 4)
            try:
                await self.tick()
            except StoreUnavailableError as exc:
                log.warning("cluster tick failed: %s", exc)
                self.forward.redis_down(anyio.current_time() - self._last_tick)

    async def tick(self) -> None:
        """One heartbeat: renew, see who lives, take and hand over shards."""
        sent = anyio.current_time()
        held = {s: o.epoch for s, o in self.owned.items()}
        with self.backend.errors("renewing cluster leases"):
            lost, members, leases, boot = await self.backend.leases.tick(
                self.member, held, beat=not self.leaving, boot=uuid.uuid4().hex
            )
        now = anyio.current_time()
        if now - self._last_tick > self.lease_time / 2:
            # Not observed for a while (Redis was unreachable): what was seen
            # before says nothing about who lives now; watch a full lease again.
            self._seen.clear()
        self._last_tick = now
        if self._boot is not None and boot != self._boot:
            self.forward.redis_lost()  # Redis restarted without its data
        self._boot = boot
        for shard in lost:
            if self.owned.pop(shard, None) is not None:
                self.lost_leases += 1
                self._dropped(shard)
        for owned in self.owned.values():
            owned.deadline = sent + self.lease_time * 0.75
        self._leases = leases
        await self._observe(members, now)
        await self._place(now)

    async def _observe(self, members: dict[str, bytes], now: float) -> None:
        live = [] if self.leaving else [self.member]
        for member, beat in members.items():
            if member == self.member:
                continue
            if not self._stale("m:" + member, beat, now):
                live.append(member)
                continue
            with self.backend.errors("dropping a dead cluster member"):
                if await self.backend.leases.drop_member(member, beat):
                    await self.backend.inbox.delete_replies(member)
        self.live = live or [self.member]

    async def _place(self, now: float) -> None:
        for shard in range(self.shards):
            value = self._leases.get(shard)
            # every lease is watched, wanted or not: one seen unchanged for a
            # lease is taken as soon as its shard is placed here
            stale = value is not None and self._stale(f"l:{shard}", value, now)
            mine = shard in self.owned
            wanted = not self.leaving and self._desired(shard) == self.member
            if mine:
                if not wanted and not self.owned[shard].draining:
                    self.owned[shard].draining = True
                    self.host.start_soon(self._hand_over, shard)
                continue
            if not wanted:
                continue
            if value is None or stale:
                await self._take(shard, value)

    async def _take(self, shard: int, seen: bytes | None) -> None:
        sent = anyio.current_time()
        with self.backend.errors("taking a shard lease"):
            epoch = await self.backend.leases.acquire(shard, seen, self.member)
            if epoch is None:
                return
            await self.backend.inbox.open_shard(shard)
        if seen is not None and parse_lease(seen)[0] != self.member:
            self.takeovers += 1
        self.owned[shard] = _Owned(epoch, sent + self.lease_time * 0.75)
        self.forward.claim_soon(shard)
        self._notify()

    async def _hand_over(self, shard: int) -> None:
        """Stop serving ``shard``, let its running turns finish, release its lease."""
        self._notify()
        with anyio.move_on_after(_LEAVE_SECONDS):
            while self.forward.busy(shard) or self.local_running[shard]:
                await self.forward.idle_signal()
        owned = self.owned.pop(shard, None)
        if owned is None:
            return
        self._dropped(shard)
        self.handoffs += 1
        try:
            with self.backend.errors("releasing a shard lease"):
                await self.backend.leases.release(shard, self.member, owned.epoch)
        except StoreUnavailableError as exc:  # it goes stale instead
            log.warning("cluster release failed: %s", exc)

    def _dropped(self, shard: int) -> None:
        # Warm actors of a shard this member no longer holds must not serve again.
        for saver_registry in self.host.thread_registries():
            for thread_id in saver_registry.warm_keys():
                if shard_of(thread_id, self.shards) == shard:
                    saver_registry.discard(thread_id)
        self._notify()

    async def leave(self) -> None:
        """Hand every shard over and leave the member table (bounded, never raises)."""
        self.leaving = True
        try:
            with self.backend.errors("leaving the cluster"):
                await self.backend.leases.leave(self.member)
        except StoreUnavailableError as exc:
            log.warning("cluster leave failed: %s", exc)
        for owned in self.owned.values():
            owned.draining = True
        self._notify()
        async with anyio.create_task_group() as tg:
            for shard in list(self.owned):
                tg.start_soon(self._hand_over, shard)
        self.forward.close()
        try:
            with self.backend.errors("leaving the cluster"):
                await self.backend.inbox.delete_replies(self.member)
        except StoreUnavailableError:
            pass

    def statistics(self) -> ClusterStats:
        """This member's counts (never blocks)."""
        threads = sum(
            1
            for registry in self.host.thread_registries()
            for thread_id in registry.warm_keys()
            if shard_of(thread_id, self.shards) in self.owned
        )
        return ClusterStats(
            member=self.member,
            members=len(self.live),
            owned_shards=len(self.owned),
            owned_threads=threads,
            forwarded=self.forward.forwarded,
            served_remote=self.forward.served,
            handoffs=self.handoffs,
            takeovers=self.takeovers,
            lost_leases=self.lost_leases,
        )


async def _first_tick(node: ClusterNode, seconds: float) -> None:
    last: StoreUnavailableError | None = None
    with anyio.move_on_after(seconds):
        while True:
            try:
                await node.tick()
                return
            except StoreUnavailableError as exc:
                last = exc
                await anyio.sleep(node.lease_time / 4)
    raise StoreUnavailableError(
        f"cannot join the cluster in {seconds:g} s: {node.backend.conn.location} did "
        f"not answer ({last}); check that it runs and that every member can reach it"
    )


@asynccontextmanager
async def joined(
    host: Runtime, url: str | None, *, shards: int, lease_time: float, prefix: str
) -> AsyncGenerator[ClusterNode]:
    """Join the cluster for the block; leave (handing over) at its end."""
    backend = ClusterBackend(url, prefix=prefix)
    node = ClusterNode(host, backend, shards=shards, lease_time=lease_time)
    try:
        await _first_tick(node, max(lease_time * 4, 1.0))
        async with anyio.create_task_group() as tg:
            tg.start_soon(node.membership)
            tg.start_soon(node.forward.serve)
            tg.start_soon(node.forward.replies)
            tg.start_soon(node.forward.answers.run)
            try:
                yield node
            finally:
                with anyio.CancelScope(shield=True):
                    await node.leave()
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await backend.aclose()
