"""RedisStore: the store contract on a RediSearch index, one pipeline per batch.

A batch embeds every text of its puts and queries in one call, then sends
all its operations in one pipeline: each put, delete and get is one Lua
script (atomic per item: ``created_at`` kept, stale parts removed, TTL set
on every document), each search one FT.SEARCH (see ``_search``), each
namespace listing one FT.AGGREGATE. Replies come back in op order, so a get
after a put in the same batch sees the put. Extra round trips happen only
when a search must widen its window (a filter on a field not declared
filterable, items with many parts, or a query whose scored items do not
fill the page), when a write must wait for such a search before it
(``_search.admitted``), and to refresh the TTL of searched items that have
one.
The layout is described in ``_schema``, the index in ``_index``, the step
each op becomes (its commands, its decoding) in ``_batch_plan``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any, Self, final

from stores._base import BaseStore, GetOp, ListNamespacesOp, PutOp, SearchOp, ensure_op
from stores._errors import InvalidIndexConfigError, StoreUnavailableError
from stores._filters import parse_filter
from stores._namespaces import parse_ttl_config
from stores._vectors import embed_texts, warm_up

from ._batch_plan import (
    Single,
    Stamps,
    batch_texts,
    encode,
    list_command,
    put_command,
    rows,
)
from ._connection import RedisConnection, translate_errors
from ._index import (
    DEFAULT_MAX_RESULTS,
    MAX_RESULTS_COMMAND,
    check_created,
    parse_max_results,
    plan_index,
)
from ._pipeline import load_scripts, run, send
from ._query import (
    compile_filter,
    decode_item,
    decode_namespaces,
    where,
)
from ._schema import (
    DELETE_SCRIPT,
    GET_SCRIPT,
    SCRIPTS,
    item_key,
    parse_settings,
)
from ._search import SearchPlan, WidenHints, admitted
from ._wire import ReplyError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from stores._base import Op, Result
    from stores._vectors import IndexConfig, Matrix

    from ._batch_plan import Encoded, Step
    from ._schema import RedisIndexSettings
    from ._transport import Client
    from ._wire import Packed


@final
class RedisStore(BaseStore):
    """A store on Redis with the query engine (Redis 8, Redis Stack, or the embedded one).

    ``url``: default ``REDIS_URL``, else the embedded Redis. ``index``: as
    for InMemoryStore (``dims``, ``embed``, ``fields``), plus
    ``distance_type`` (``"cosine"``, ``"l2"``, ``"ip"``), ``algorithm``
    (``"flat"``, the default, or ``"hnsw"``), ``hnsw`` (``m``, ``ef_construction``,
    ``ef_runtime``) and ``filterable`` (``{"field": "tag" | "numeric"}``:
    conditions on these run inside RediSearch; others are applied here,
    still before offset and limit). ``filterable=`` declares them for a
    store without vectors. ``ttl``: minutes, or ``{"default_ttl": m,
    "refresh_on_read": bool}``. ``prefix`` starts every key and names the
    index ``<prefix>:idx``; the index keeps the settings it was made with
    (another configuration on the same prefix is InvalidIndexConfigError).

    Numeric filter fields compare as doubles (exact up to 2**53; an int past
    the double range is +-infinity in the index). Calls
    wait on Redis; put deadlines around them (``anyio.fail_after``). Each
    put or delete is atomic; a batch cancelled mid-flight may have applied
    some of its writes, never half of one. Redis failures raise
    StoreUnavailableError. Runs on asyncio and trio.
    """

    def __init__(
        self,
        url: str | None = None,
        index: object = None,
        ttl: object = None,
        *,
        prefix: str = "store",
        filterable: object = None,
    ) -> None:
        """Describe the store; nothing connects until the first call.

        Raises:
            InvalidIndexConfigError: for a malformed ``index`` or ``filterable``.
            ValueError: for a malformed ``ttl`` or ``prefix``.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(
                f"prefix must be a non-empty string without braces, got {prefix!r}"
            )
        self._settings: RedisIndexSettings = parse_settings(index, filterable)
        self._ttl = parse_ttl_config(ttl)
        self._prefix = prefix
        self._index_name = f"{prefix}:idx"
        self._conn = RedisConnection(url, name="RedisStore")
        self._stamps = Stamps()
        self._index_ready = False
        self._max_results = DEFAULT_MAX_RESULTS
        self._hints = WidenHints()  # where a KNN of this store last had to widen to

    @property
    def index_name(self) -> str:
        """The RediSearch index of this store."""
        return self._index_name

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    @property
    def index_config(self) -> IndexConfig | None:
        """The validated index configuration (``["dims"]`` etc. as in LangGraph), or None."""
        return self._settings.vectors

    @property
    def round_trips(self) -> int:
        """Requests sent to Redis so far (a pipeline counts once)."""
        return self._conn.round_trips

    def item_key(self, namespace: Sequence[str], key: str) -> str:
        """The Redis key of an item's document (its parts append ``:<i>``)."""
        return item_key(self._prefix, tuple(namespace), key)

    async def __aenter__(self) -> Self:
        """Connect now (starting the embedded Redis if needed), find or create the index.

        The first batch then pays no set-up. A Redis that cannot be reached
        is not an error here: each call reports it (StoreUnavailableError),
        and works once Redis is back.

        Raises:
            InvalidIndexConfigError: the prefix's index was made with other
                settings (the store is closed then).
        """
        try:
            with (
                contextlib.suppress(StoreUnavailableError),
                translate_errors(self._conn, "connecting"),
            ):
                client = await self._conn.client()
                await self._ensure_index(client)
                await load_scripts(client, SCRIPTS)
        except InvalidIndexConfigError:
            await self.aclose()
            raise
        if self._settings.vectors is not None:
            warm_up(self._settings.vectors.dims)
        return self

    async def aclose(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        await self._conn.aclose()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order: one embeddings call, usually one Redis round trip.

        Raises:
            TypeError: for an object that is not an operation.
            InvalidIndexConfigError: for a bad ``index`` path or a
                misbehaving embedder (nothing is written then), or an index
                made with other settings.
            SearchLimitError: for a search that needs more results than
                one RediSearch query reaches (MAXSEARCHRESULTS).
            StoreUnavailableError: if Redis cannot be reached or fails.
        """
        checked = [ensure_op(op) for op in ops]
        values = {
            i: encode(op.value)
            for i, op in enumerate(checked)
            if isinstance(op, PutOp) and op.value is not None
        }
        texts, spans = batch_texts(self._settings, checked, values)
        matrix: Matrix | None = None
        if self._settings.vectors is not None and texts:
            matrix = await embed_texts(self._settings.vectors, texts)
        steps = [
            self._step(op, values.get(i), rows(matrix, spans.get(i)))
            for i, op in enumerate(checked)
        ]
        with translate_errors(self._conn, "a store batch"):
            client = await self._conn.client()
            await self._ensure_index(client)
            await self._run(client, steps, checked)
            await self._refresh_searched(client, checked, steps)
        return [step.result() for step in steps]

    # -- planning ------------------------------------------------------------

    def _step(self, op: Op, value: Encoded | None, vectors: Matrix | None) -> Step:
        match op:
            case PutOp(value=None):
                return Single(
                    DELETE_SCRIPT.command([self.item_key(op.namespace, op.key)], [])
                )
            case PutOp():
                assert value is not None
                return Single(
                    put_command(
                        op,
                        value,
                        vectors,
                        key=self.item_key(op.namespace, op.key),
                        stamp=self._stamps.next(),
                        ttl=op.ttl if op.ttl is not None else self._ttl.default_ttl,
                        settings=self._settings,
                    )
                )
            case GetOp():
                refresh = "1" if self._ttl.refresh_on_read and op.refresh_ttl else "0"
                command = GET_SCRIPT.command(
                    [self.item_key(op.namespace, op.key)], [refresh]
                )
                return Single(command, functools.partial(decode_item, op))
            case SearchOp():
                conds, residual = compile_filter(
                    parse_filter(op.filter), self._settings
                )
                vector = (
                    vectors[0].tobytes()
                    if vectors is not None and len(vectors)
                    else None
                )
                conds = where(op.namespace_prefix, conds)
                return SearchPlan(
                    op,
                    self._index_name,
                    self._settings,
                    conds,
                    residual,
                    vector,
                    self._max_results,
                    self._hints,
                )
            case ListNamespacesOp():
                return Single(
                    list_command(self._index_name, op),
                    functools.partial(decode_namespaces, op),
                )

    # -- execution -----------------------------------------------------------

    async def _run(
        self, client: Client, steps: Sequence[Step], ops: Sequence[Op]
    ) -> None:
        """Round trips until every step is done: the first carries every op it can.

        A write waits while an earlier search of the batch under whose prefix
        it writes may need another round (``admitted``), so no search sees a
        later op of its batch; the ops after it wait too.
        """
        sent = 0
        while True:
            sent = admitted(ops, steps, sent)
            pending = [(s, s.commands()) for s in steps[:sent] if not s.done]
            if not pending:
                return
            commands = [c for _, cs in pending for c in cs]
            replies = await self._pipeline(client, commands)
            at = 0
            for step, cs in pending:
                step.feed(replies[at : at + len(cs)])
                at += len(cs)

    async def _pipeline(
        self, client: Client, commands: list[tuple[Any, ...] | Packed]
    ) -> list[Any]:
        try:
            return await run(client, commands, SCRIPTS)
        except ReplyError as exc:
            message = str(exc).lower()
            if "no such index" not in message and "unknown index" not in message:
                raise
        # The server lost the index (dropped, or restarted without persistence):
        # make it again and resend the batch, whose writes are idempotent.
        self._index_ready = False
        await self._ensure_index(client)
        return await run(client, commands, SCRIPTS)

    async def _ensure_index(self, client: Client) -> None:
        """Find the index and check it fits this store, or make it.

        One round trip when it exists (made by an earlier process, usually),
        which also reads the server's cap on search results.

        Raises:
            InvalidIndexConfigError: the index was made with other settings.
        """
        if self._index_ready:
            return
        name, prefix, settings = self._index_name, self._prefix, self._settings
        (info, limit), _ = await send(client, [("FT.INFO", name), MAX_RESULTS_COMMAND])
        self._max_results = parse_max_results(limit)
        plan = plan_index(info, name, prefix, settings)
        if plan and check_created((await send(client, plan))[0]):
            # another process made it between our look and FT.CREATE: check theirs
            (info,), _ = await send(client, [("FT.INFO", name)])
            plan_index(info, name, prefix, settings)
        self._index_ready = True

    async def _refresh_searched(
        self, client: Client, ops: Sequence[Op], steps: Sequence[Step]
    ) -> None:
        """Refresh the TTL of searched items that have one (one more round trip, if any)."""
        if not self._ttl.refresh_on_read:
            return
        keys: list[str] = []
        for op, step in zip(ops, steps, strict=True):
            if (
                isinstance(op, SearchOp)
                and op.refresh_ttl
                and isinstance(step, SearchPlan)
            ):
                keys += [self.item_key(ns, k) for ns, k in step.with_ttl()]
        if keys:
            await run(
                client,
                [GET_SCRIPT.command([k], ["1"]) for k in dict.fromkeys(keys)],
                SCRIPTS,
            )
