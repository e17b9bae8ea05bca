"""The owner's answers: requests handed to warm actors inline, answers sent in batches.

A request without stream modes, for a thread whose actor is warm and has
room in its mailbox, is handed to it by the read loop itself: no task of
its own. Its answer is made in the reply's callback and queued; a few
senders take the queue in batches (one script per answer, a batch per
round trip), so a burst of answers costs a round trip per batch, not a
task and a writer pass per request. Anything else (a claimed request, a
stream, an actor still to load, a full mailbox, a fork to read) takes the
task per request (``Forwarder._handle``), as does a turn that must run
again (a stale warm state, an actor passivating before it started).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from actors import ActorDeadError
from stores import CheckpointConflictError, FencedError, StoreUnavailableError

from . import _wire
from ._turn_build import remote_turn_nowait

if TYPE_CHECKING:
    from collections.abc import Callable

    from actors import Reply

    from ._cluster import ClusterNode

log = logging.getLogger("actorgraph.cluster")
_BATCH = 64
"""Answers per round trip at most."""
_SENDERS = 4
"""Batches in flight at most."""

Items = list[tuple[str, str, bytes]]


class Answers:
    """The owner's answer queue and its senders; inline hand-over of requests."""

    def __init__(
        self,
        node: ClusterNode,
        finish: Callable[[int, str, bool], None],
        again: Callable[[int, str, _wire.Request, Any, BaseException], None],
    ) -> None:
        self.node = node
        self._finish = finish  # (shard, entry id, answered): the request is done
        self._again = again  # (shard, entry id, request, turn, error): in a task
        self._queue: deque[tuple[str, Items, tuple[int, str]]] = deque()
        self._ready = anyio.Event()
        self.handed = 0
        """Requests handed to a warm actor inline (no task of their own)."""

    def hand(self, shard: int, entry_id: str, request: _wire.Request) -> bool:
        """Hand ``request`` to its warm actor without waiting; False: it needs a task."""
        if request.modes:
            return False
        try:
            ep = _wire.lookup(request.entry)
            turn = remote_turn_nowait(ep, self.node.host, request)
        except Exception:  # noqa: BLE001 -- the task path answers with the error
            return False
        saver = ep.checkpointer
        if turn is None or saver is None:
            return False
        strategy: Any = request.strategy
        reply = self.node.host.local_send_nowait(
            saver, request.thread_id, turn, strategy
        )
        if reply is None:
            return False
        self.handed += 1
        reply.on_done(lambda: self._replied(shard, entry_id, request, turn, reply))
        return True

    def _replied(
        self, shard: int, entry_id: str, request: _wire.Request, turn: Any, reply: Reply
    ) -> None:
        # Runs in the actor's delivery of the reply: never raises.
        error = reply.error
        rid = request.id
        try:
            if error is None:
                items = [(rid, "r", _wire.encode_result(request.kind, reply.value))]
            elif isinstance(error, FencedError):
                self._finish(shard, entry_id, False)  # the new owner answers
                return
            elif isinstance(error, CheckpointConflictError) or (
                isinstance(error, ActorDeadError) and error.retriable
            ):
                self._again(shard, entry_id, request, turn, error)
                return
            else:
                items = [(rid, "e", _wire.encode_error(error))]
        except Exception as exc:  # noqa: BLE001 -- an unencodable value: its caller hears why
            items = [(rid, "e", _wire.encode_error(exc))]
        self._queue.append((request.reply_to, items, (shard, entry_id)))
        self._ready.set()

    async def run(self) -> None:
        """Send queued answers forever, up to ``_SENDERS`` batches in flight."""
        async with anyio.create_task_group() as tg:
            for _ in range(_SENDERS):
                tg.start_soon(self._sender)

    async def _sender(self) -> None:
        queue = self._queue
        while True:
            while not queue:
                await self._ready.wait()
                self._ready = anyio.Event()
            batch = [queue.popleft() for _ in range(min(len(queue), _BATCH))]
            if queue:
                self._ready.set()  # more than a batch: the next sender takes it
            answered = False
            try:
                with self.node.backend.errors("answering requests"):
                    await self.node.backend.inbox.answer_many(batch)
                answered = True
            except StoreUnavailableError as exc:  # left pending: claimed after a lease
                log.warning("cluster answers of %d requests: %s", len(batch), exc)
            finally:
                for _, _, (shard, entry_id) in batch:
                    self._finish(shard, entry_id, answered)
