"""Forwarding: requests to a shard's owner, answers back to the caller.

Caller side: a request for a thread whose shard this member does not
serve is queued on the shard's stream with a fresh id; a ``Reply`` waits
for the answer on this member's reply stream, and stream chunks (every
mode, tokens included) feed the caller's own emitter in order.

Owner side: one blocking read over the streams of the shards it serves.
Each request becomes a turn of the local thread actor, exactly as a local
call, with its request id recorded in the commit's metadata. The answer
and the acknowledgement go out in one script; for a warm actor, from the
read loop and in batches (``_answers``), else from a task per request. A request taken over
from another member (claimed) is first looked up in the thread's recent
checkpoints: one already applied is answered from its checkpoint, so it
is applied at most once. A turn whose commit was fenced (this member
lost the shard meanwhile) is not answered: the new owner answers it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import anyio

from actors import ActorDeadError, Reply
from stores import (
    CheckpointConflictError,
    CheckpointSaver,
    FencedError,
    StoreUnavailableError,
)

from . import _wire
from ._answers import Answers, Items as _Items
from ._serde import dumps, loads
from ._stream import Emitter
from ._telemetry import TracedTurn
from ._turn_build import remote_turn
from ._turns import RunTurn, UpdateTurn

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from actors import Journal

    from ._cluster import ClusterNode

log = logging.getLogger("actorgraph.cluster")
_HISTORY = 8
"""Recent checkpoints a taken-over request is looked up in."""


class _Once:
    """A taken-over request: answered from its checkpoint if it was applied already."""

    def __init__(
        self, turn: Any, saver: CheckpointSaver, request_id: str, kind: str
    ) -> None:
        self.turn = turn
        self.saver = saver
        self.request_id = request_id
        self.kind = kind

    async def __call__(self, journal: Journal) -> Any:
        # The actor raised the thread's fence before it loaded: an old owner
        # cannot commit from here on, so what is found now is final.
        for checkpoint in await self.saver.alist(journal.thread_id, limit=_HISTORY):
            if checkpoint.metadata.get("request_id") == self.request_id:
                if isinstance(self.turn, RunTurn):
                    self.turn.emitter.close()
                if self.kind == "update":
                    return checkpoint
                return loads(checkpoint.value)
        return await self.turn(journal)


class Forwarder:
    """Both sides of forwarding for one cluster member."""

    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.forwarded = self.served = 0
        self._waiters: dict[str, tuple[Reply, Emitter | None, str]] = {}
        self._inflight: dict[int, set[str]] = {}
        self._idle = anyio.Event()
        self._claims: set[int] = set()
        self._swept = anyio.current_time()
        self._closed = False
        self.answers = Answers(node, self._finished, self._again)

    # -- caller side -----------------------------------------------------

    async def send(
        self,
        saver: CheckpointSaver,
        thread_id: str,
        turn: Any,
        strategy: str,
        shard: int,
    ) -> Reply:
        """Queue ``turn`` on the owner of ``shard``; the reply slot (chunks go to its emitter)."""
        del saver
        turn = turn.turn if isinstance(turn, TracedTurn) else turn  # the owner traces
        if isinstance(turn, RunTurn):
            data, resume = _wire.encode_input(turn.input)
            emitter: Emitter | None = turn.emitter
            kind, name, config = "run", turn.spec.name, _wire.encode_config(turn.config)
            durability, modes = turn.durability, sorted(turn.emitter.modes)
            context = b"" if turn.context is None else dumps(turn.context)
            subgraphs = turn.emitter.subgraphs
        else:
            assert isinstance(turn, UpdateTurn)
            data, resume, emitter = turn.values_bytes, False, None
            kind, name = "update", turn.entry_name
            config = dumps({"as_node": turn.as_node})
            durability, modes, context, subgraphs = "sync", [], b"", False
        request = _wire.Request(
            id=uuid.uuid4().hex,
            reply_to=self.node.member,
            entry=name,
            kind=kind,
            thread_id=thread_id,
            strategy=strategy,
            durability=durability,
            modes=modes,
            input=data,
            resume=resume,
            config=config,
            context=context,
            subgraphs=subgraphs,
            trace=_wire.trace_carrier(),
        )
        reply = Reply()
        self._waiters[request.id] = (reply, emitter, kind)
        reply.on_done(lambda: self._waiters.pop(request.id, None))
        if emitter is not None:
            reply.on_done(emitter.close)
        try:
            with self.node.backend.errors("forwarding a request"):
                await self.node.backend.inbox.request(shard, _wire.encode(request))
        except BaseException:
            self._waiters.pop(request.id, None)
            raise
        self.forwarded += 1
        return reply

    async def replies(self) -> None:
        """Read this member's reply stream forever and deliver what it holds."""
        after = "0-0"
        while True:
            try:
                with self.node.backend.errors("reading replies"):
                    async with self.node.backend.reader() as reader:
                        while True:
                            for entry_id, fields in await reader.replies(
                                self.node.member, after, 1000
                            ):
                                after = entry_id
                                self._deliver(fields)
            except StoreUnavailableError as exc:
                log.warning("cluster reply stream: %s", exc)
                await anyio.sleep(0.1)

    def _deliver(self, fields: dict[bytes, bytes]) -> None:
        waiter = self._waiters.get(fields[b"i"].decode())
        if waiter is None:
            return  # its caller is gone, or an answer came twice
        reply, emitter, kind = waiter
        what, data = fields[b"k"], fields[b"d"]
        if what == b"c" and emitter is not None:
            for ns, mode, chunk in loads(data):
                emitter.relay(tuple(ns), mode, chunk)
        elif what == b"r":
            reply.set_result(_wire.decode_result(kind, data))
        elif what == b"e":
            reply.set_error(_wire.decode_error(data))

    def _fail_all(self, message: str) -> None:
        for reply, _, _ in list(self._waiters.values()):
            reply.set_error(StoreUnavailableError(message))

    def redis_down(self, seconds: float) -> None:
        """Fail forwarded requests once Redis was unreachable for three leases."""
        if seconds > self.node.lease_time * 3:
            self._fail_all(
                f"Redis of the cluster was unreachable for {seconds:.1f} s while this "
                "request was forwarded; it may or may not have run: check the thread "
                "state and retry"
            )

    def redis_lost(self) -> None:
        """Redis restarted without its data: forwarded requests may be lost."""
        self._fail_all(
            "Redis of the cluster restarted and lost its data while this request "
            "was forwarded; it may or may not have run: check the thread state and retry"
        )

    def close(self) -> None:
        self._closed = True
        self._fail_all("this Runtime left the cluster before the request was answered")

    # -- owner side --------------------------------------------------------

    def busy(self, shard: int) -> bool:
        return bool(self._inflight.get(shard))

    async def idle_signal(self) -> None:
        """Wait until some request or local turn finishes."""
        await self._idle.wait()

    def done_one(self) -> None:
        self._idle.set()
        self._idle = anyio.Event()

    def claim_soon(self, shard: int) -> None:
        self._claims.add(shard)

    async def serve(self) -> None:
        """Read the streams of the served shards forever; run each request."""
        node = self.node
        while True:
            try:
                with node.backend.errors("reading requests"):
                    async with node.backend.reader() as reader:
                        while True:
                            await self._claim()
                            shards = [s for s in node.owned if node.serving(s)]
                            if not shards:
                                with anyio.move_on_after(node.lease_time / 4):
                                    await node.changed.wait()
                                continue
                            block = max(10, round(node.lease_time * 100))
                            for shard, entry in await reader.requests(
                                shards, node.member, block
                            ):
                                self._start(shard, entry, claimed=False)
            except StoreUnavailableError as exc:
                log.warning("cluster request stream: %s", exc)
                await anyio.sleep(0.1)

    async def _claim(self) -> None:
        # Newly taken shards: everything the old owner read and did not
        # acknowledge. Once a lease, every served shard: requests left
        # pending for a lease (an answer that failed to go out, an entry a
        # stale owner read after its deadline) are run again, at most once.
        node = self.node
        claims, self._claims = dict.fromkeys(self._claims, 0), set()
        now = anyio.current_time()
        if now - self._swept >= node.lease_time:
            self._swept = now
            idle = round(node.lease_time * 1000)
            claims = dict.fromkeys(node.owned, idle) | claims
        claims = {s: idle for s, idle in claims.items() if node.serving(s)}
        if not claims:
            return
        # every shard's claim in one round trip: the read loop waits for it
        for shard, entry in await node.backend.inbox.claim(claims, node.member):
            if node.serving(shard) and entry[0] not in self._inflight.get(shard, ()):
                self._start(shard, entry, claimed=True)

    def _start(self, shard: int, entry: _wire.Entry, *, claimed: bool) -> None:
        entry_id, fields = entry
        self._inflight.setdefault(shard, set()).add(entry_id)
        if not claimed and self.node.serving(shard):
            try:
                request = _wire.decode(fields[b"m"])
            except Exception:  # noqa: BLE001 -- the task below meets it again
                request = None
            if request is not None and self.answers.hand(shard, entry_id, request):
                return  # a warm actor has it; its answer goes out in a batch
        self.node.host.start_soon(self._handle, shard, entry, claimed)

    async def _handle(self, shard: int, entry: _wire.Entry, claimed: bool) -> None:
        entry_id, fields = entry
        await self._complete(
            shard, entry_id, fields[b"m"], lambda request: self._run(request, claimed)
        )

    def _again(
        self,
        shard: int,
        entry_id: str,
        request: _wire.Request,
        turn: Any,
        error: BaseException,
    ) -> None:
        """Run a request handed over inline once more, in a task of its own."""
        saver = _wire.lookup(request.entry).checkpointer
        # a stale warm state is tried once more, as on the task path
        once = isinstance(error, CheckpointConflictError)

        def run(request: _wire.Request) -> Awaitable[_Items | None]:
            return self._answer(saver, request, turn, once)

        self.node.host.start_soon(self._complete, shard, entry_id, request, run)

    async def _complete(
        self,
        shard: int,
        entry_id: str,
        request: bytes | _wire.Request,
        run: Callable[[_wire.Request], Awaitable[_Items | None]],
    ) -> None:
        answered = False
        try:
            if isinstance(request, bytes):
                request = _wire.decode(request)
                if not self.node.serving(shard):
                    return  # left pending: the shard's next owner claims it
            items = await run(request)
            if items is None:
                return  # fenced: the new owner answers
            with self.node.backend.errors("answering a request"):
                await self.node.backend.inbox.answer(
                    request.reply_to, items, (shard, entry_id)
                )
            answered = True
        except StoreUnavailableError as exc:
            log.warning("cluster request %s: %s", entry_id, exc)
        finally:
            self._finished(shard, entry_id, answered)

    def _finished(self, shard: int, entry_id: str, answered: bool) -> None:
        self.served += answered
        self._inflight[shard].discard(entry_id)
        self.done_one()

    async def _run(self, request: _wire.Request, claimed: bool) -> _Items | None:
        rid = request.id
        try:
            ep = _wire.lookup(request.entry)
            turn, recv = await remote_turn(ep, self.node.host, request)
        except Exception as exc:  # noqa: BLE001 -- a bad request: its caller hears why
            return [(rid, "e", _wire.encode_error(exc))]
        saver = ep.checkpointer
        assert saver is not None
        if claimed:
            turn = _Once(turn, saver, rid, request.kind)
        if recv is None:  # no stream modes: nothing to pump, no task group
            return await self._answer(saver, request, turn, False)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._pump, request, recv)
            return await self._answer(saver, request, turn, True)

    async def _answer(
        self, saver: Any, request: _wire.Request, turn: Any, once: bool
    ) -> _Items | None:
        """The answer items of ``turn`` (None: fenced, the new owner answers).

        Unless ``once`` (a stream, or a turn tried already), a stale warm
        state is tried once more.
        """
        rid = request.id
        try:
            try:
                value = await self._ask(saver, request, turn)
            except CheckpointConflictError as exc:
                if isinstance(exc, FencedError) or once:
                    raise
                # the warm state was stale (a commit whose reply was lost):
                # the actor reloaded; the turn committed nothing: once more
                value = await self._ask(saver, request, turn)
            return [(rid, "r", _wire.encode_result(request.kind, value))]
        except FencedError:
            return None
        except Exception as exc:  # noqa: BLE001 -- the run's error goes to its caller
            return [(rid, "e", _wire.encode_error(exc))]

    async def _ask(self, saver: Any, request: _wire.Request, turn: Any) -> Any:
        while True:
            strategy: Any = request.strategy
            reply = await self.node.host.local_send(
                saver, request.thread_id, turn, strategy
            )
            try:
                return await reply.wait()
            except ActorDeadError as exc:
                if not exc.retriable:
                    raise

    async def _pump(self, request: _wire.Request, recv: Any) -> None:
        async with recv:
            async for event in recv:
                batch = [event]
                while True:
                    try:
                        batch.append(recv.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                try:
                    with self.node.backend.errors("streaming to a caller"):
                        await self.node.backend.inbox.answer(
                            request.reply_to, [(request.id, "c", dumps(batch))], None
                        )
                except (
                    StoreUnavailableError
                ) as exc:  # the chunks are lost, the run goes on
                    log.warning("cluster stream chunks of %s: %s", request.id, exc)
