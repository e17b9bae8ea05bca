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
The layout is described in ``_schema``, the index in ``_index``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, Self, TypeAlias, final

import msgspec

from stores._base import BaseStore, GetOp, ListNamespacesOp, PutOp, SearchOp, ensure_op
from stores._errors import InvalidIndexConfigError, StoreUnavailableError
from stores._filters import parse_filter
from stores._namespaces import parse_ttl_config
from stores._vectors import embed_texts, parse_field_path, texts_for, warm_up

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
    decode_value,
    where,
)
from ._schema import (
    DELETE_SCRIPT,
    GET_SCRIPT,
    PRIMARY_KINDS,
    PUT_SCRIPT,
    SCRIPTS,
    filter_values,
    item_key,
    namespace_tags,
    parse_settings,
    tag,
)
from ._search import SearchPlan, admitted
from ._wire import ReplyError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from stores._base import Op, Result
    from stores._vectors import FieldPath, IndexConfig, Matrix

    from ._schema import RedisIndexSettings
    from ._transport import Client
    from ._wire import Packed

_Encoded: TypeAlias = tuple[bytes, dict[str, Any]]
_JSON: Final = msgspec.json.Encoder()


class _Step(Protocol):
    """One op of a batch: commands per round trip until done, then its result."""

    @property
    def done(self) -> bool: ...
    def commands(self) -> list[tuple[Any, ...] | Packed]: ...
    def feed(self, replies: list[Any]) -> None: ...
    def result(self) -> Result: ...


class _Single:
    """An op answered by one command in the first round."""

    def __init__(self, command: tuple[Any, ...], decode: Any = None) -> None:
        self._command, self._decode = command, decode
        self._value: Result = None
        self.done = False

    def commands(self) -> list[tuple[Any, ...] | Packed]:
        return [] if self.done else [self._command]

    def feed(self, replies: list[Any]) -> None:
        self._value = self._decode(replies[0]) if self._decode is not None else None
        self.done = True

    def result(self) -> Result:
        return self._value


class _Stamps:
    """Microsecond timestamps, strictly increasing within this store."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last


@final
class RedisStore(BaseStore):
    """A store on Redis with the query engine (Redis 8, Redis Stack, or the embedded one).

    ``url``: default ``REDIS_URL``, else the embedded Redis. ``index``: as
    for InMemoryStore (``dims``, ``embed``, ``fields``), plus
    ``distance_type`` (``"cosine"``, ``"l2"``, ``"ip"``), ``algorithm``
    (``"hnsw"`` or ``"flat"``), ``hnsw`` (``m``, ``ef_construction``,
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
        self._stamps = _Stamps()
        self._index_ready = False
        self._max_results = DEFAULT_MAX_RESULTS

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
            i: _encode(op.value)
            for i, op in enumerate(checked)
            if isinstance(op, PutOp) and op.value is not None
        }
        texts, spans = self._texts(checked, values)
        matrix: Matrix | None = None
        if self._settings.vectors is not None and texts:
            matrix = await embed_texts(self._settings.vectors, texts)
        steps = [
            self._step(op, values.get(i), _rows(matrix, spans.get(i)))
            for i, op in enumerate(checked)
        ]
        with translate_errors(self._conn, "a store batch"):
            client = await self._conn.client()
            await self._ensure_index(client)
            await self._run(client, steps, checked)
            await self._refresh_searched(client, checked, steps)
        return [step.result() for step in steps]

    # -- planning ------------------------------------------------------------

    def _paths(self, index: Literal[False] | list[str] | None) -> tuple[FieldPath, ...]:
        config = self._settings.vectors
        if isinstance(index, list):
            # Parsed (so checked) even when the store has no vectors.
            paths = tuple(parse_field_path(p) for p in index)
            return paths if config is not None else ()
        if config is None or index is False:
            return ()
        return config.paths

    def _texts(
        self, ops: Sequence[Op], values: dict[int, _Encoded]
    ) -> tuple[list[str], dict[int, tuple[int, int]]]:
        """Every text to embed, and each op's rows; validates paths before any I/O."""
        texts: list[str] = []
        spans: dict[int, tuple[int, int]] = {}
        for i, op in enumerate(ops):
            found: list[str] = []
            if isinstance(op, PutOp) and op.value is not None:
                paths = self._paths(op.index)
                found = texts_for(values[i][1], paths) if paths else []
            elif (
                isinstance(op, SearchOp)
                and op.query is not None
                and self._settings.vectors
            ):
                found = [op.query]
            if found:
                spans[i] = (len(texts), len(texts) + len(found))
                texts += found
        return texts, spans

    def _step(self, op: Op, value: _Encoded | None, rows: Matrix | None) -> _Step:
        match op:
            case PutOp(value=None):
                return _Single(
                    DELETE_SCRIPT.command([self.item_key(op.namespace, op.key)], [])
                )
            case PutOp():
                assert value is not None
                return _Single(self._put_command(op, value, rows))
            case GetOp():
                refresh = "1" if self._ttl.refresh_on_read and op.refresh_ttl else "0"
                command = GET_SCRIPT.command(
                    [self.item_key(op.namespace, op.key)], [refresh]
                )
                return _Single(command, functools.partial(decode_item, op))
            case SearchOp():
                conds, residual = compile_filter(
                    parse_filter(op.filter), self._settings
                )
                vector = rows[0].tobytes() if rows is not None and len(rows) else None
                conds = where(op.namespace_prefix, conds)
                return SearchPlan(
                    op,
                    self._index_name,
                    self._settings,
                    conds,
                    residual,
                    vector,
                    self._max_results,
                )
            case ListNamespacesOp():
                return _Single(
                    self._list_command(op),
                    functools.partial(decode_namespaces, op),
                )

    def _put_command(
        self, op: PutOp, value: _Encoded, rows: Matrix | None
    ) -> tuple[Any, ...]:
        raw, copy = value
        key = self.item_key(op.namespace, op.key)
        vectors = [] if rows is None else [row.tobytes() for row in rows]
        stamp = self._stamps.next()
        ttl = op.ttl if op.ttl is not None else self._ttl.default_ttl
        fields: list[Any] = ["ns", ".".join(op.namespace), "k", op.key, "v", raw]
        fields += ["ua", stamp, "p", namespace_tags(op.namespace)]
        if ttl is not None:
            fields += ["t", repr(ttl)]
        fields += filter_values(self._settings, copy)
        keys = [key, *(f"{key}:{i}" for i in range(1, len(vectors)))]
        # at least 1 ms: "0" means no TTL to the script
        ttl_ms = max(1, math.ceil(ttl * 60_000)) if ttl is not None else 0
        return PUT_SCRIPT.command(
            keys, [stamp, ttl_ms, len(vectors), len(fields) // 2, *fields, *vectors]
        )

    def _list_command(self, op: ListNamespacesOp) -> tuple[Any, ...]:
        lead: list[str] = []
        for label in op.prefix or ():
            if label == "*":
                break
            lead.append(label)
        query = f"@m:{{{PRIMARY_KINDS}}}" + (
            f" @p:{{{tag('.'.join(lead))}}}" if lead else ""
        )
        return (
            "FT.AGGREGATE", self._index_name, query,
            "LOAD", 1, "@ns", "GROUPBY", 1, "@ns", "DIALECT", 2,
        )  # fmt: skip

    # -- execution -----------------------------------------------------------

    async def _run(
        self, client: Client, steps: Sequence[_Step], ops: Sequence[Op]
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
        self, client: Client, ops: Sequence[Op], steps: Sequence[_Step]
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


def _encode(value: dict[str, Any]) -> _Encoded:
    """JSON bytes, and the decoded copy that paths and filters read (as InMemoryStore does)."""
    raw = _JSON.encode(value)
    return raw, decode_value(raw)


def _rows(matrix: Matrix | None, span: tuple[int, int] | None) -> Matrix | None:
    if matrix is None or span is None:
        return None
    return matrix[span[0] : span[1]]
