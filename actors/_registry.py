"""Activate actors on demand by key; passivate idle ones; bound how many are warm."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import anyio
import msgspec

from ._actor import ActorRef, Reply
from ._errors import ActorDeadError
from ._system import Actor, ActorSystem

K = TypeVar("K", bound=Hashable)
M = TypeVar("M")


class RegistryStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts of a registry: warm actors, activations, passivations, evictions."""

    active: int
    activations: int
    passivations: int
    evictions: int


class Registry(Generic[K, M]):
    """Maps keys to running actors, activating them on first use.

    ``factory(key, release)`` builds an actor; the actor calls ``release()``
    when it passivates itself (idle timeout). When more than ``max_active``
    actors are warm, the least recently used idle ones are stopped.
    """

    def __init__(
        self,
        system: ActorSystem,
        factory: Callable[[K, Callable[[], None]], Actor[M]],
        *,
        max_active: int,
    ) -> None:
        if max_active < 1:
            raise ValueError(f"max_active must be at least 1, got {max_active}")
        self._system = system
        self._factory = factory
        self._max_active = max_active
        self._refs: OrderedDict[K, tuple[ActorRef[M], Actor[M]]] = OrderedDict()
        self._activating: dict[K, anyio.Event] = {}
        self._activations = self._passivations = self._evictions = 0

    async def ask(self, key: K, msg: M) -> Any:
        """Send ``msg`` to the actor for ``key`` (activating it) and wait for the reply.

        A request refused by an actor that was passivating is sent again to
        a fresh activation; it never runs twice. Raises the handler's error.
        """
        while True:
            reply = await self.send(key, msg)
            try:
                return await reply.wait()
            except ActorDeadError as exc:
                if not exc.retriable or self._system.closed:
                    raise

    async def send(self, key: K, msg: M) -> Reply:
        """Queue ``msg`` for the actor of ``key`` (activating it); return the reply slot.

        The reply may fail with a retriable ActorDeadError if the actor was
        passivating: the request did not start, and may be sent again.
        """
        while True:
            ref = await self.get(key)
            try:
                return await ref.send(msg)
            except ActorDeadError as exc:
                if not exc.retriable or self._system.closed:
                    raise
                self._forget(key, ref)

    def send_nowait(self, key: K, msg: M) -> Reply | None:
        """``send`` to a warm actor without waiting; None if ``key`` has none or its mailbox is full."""
        entry = self._refs.get(key)
        if entry is None or entry[0].stopped:
            return None
        self._refs.move_to_end(key)
        return entry[0].send_nowait(msg)

    async def get(self, key: K) -> ActorRef[M]:
        """The ref for ``key``, activating the actor if needed (its state loaded)."""
        while True:
            entry = self._refs.get(key)
            if entry is not None and not entry[0].stopped:
                self._refs.move_to_end(key)
                return entry[0]
            pending = self._activating.get(key)
            if pending is None:
                return await self._activate(key)
            await pending.wait()

    async def _activate(self, key: K) -> ActorRef[M]:
        done = self._activating[key] = anyio.Event()
        try:
            actor = self._factory(key, lambda: self._release(key, actor))
            ref = await self._system.spawn(actor)
            self._refs[key] = (ref, actor)
            self._activations += 1
            self._evict_over_bound(keep=key)
            return ref
        finally:
            del self._activating[key]
            done.set()

    def _release(self, key: K, actor: Actor[M]) -> None:
        entry = self._refs.get(key)
        if entry is not None and entry[1] is actor:
            del self._refs[key]
            self._passivations += 1

    def _forget(self, key: K, ref: ActorRef[M]) -> None:
        entry = self._refs.get(key)
        if entry is not None and entry[0] is ref:
            del self._refs[key]

    def _evict_over_bound(self, *, keep: K) -> None:
        excess = len(self._refs) - self._max_active
        if excess <= 0:
            return
        for key, (ref, actor) in list(self._refs.items()):
            if excess <= 0:
                break
            if (
                key != keep and actor.idle
            ):  # never the actor just activated for a caller
                del self._refs[key]
                ref.stop()
                self._evictions += 1
                excess -= 1

    def discard(self, key: K) -> None:
        """Stop the actor of ``key`` once it has finished its work (never blocks)."""
        entry = self._refs.pop(key, None)
        if entry is not None:
            entry[0].stop()

    def warm_keys(self) -> list[K]:
        """The keys of the warm actors (never blocks)."""
        return list(self._refs)

    def stop_all(self) -> None:
        """Stop every actor (never blocks); each finishes the request it is running."""
        for ref, _ in self._refs.values():
            ref.stop()
        self._refs.clear()

    def statistics(self) -> RegistryStats:
        """Warm actors and lifetime counts (never blocks)."""
        return RegistryStats(
            active=len(self._refs),
            activations=self._activations,
            passivations=self._passivations,
            evictions=self._evictions,
        )
