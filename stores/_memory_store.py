"""InMemoryStore: the reference semantics of the store contract.

Values are kept as JSON bytes plus a private decoded copy, so nothing a
caller holds aliases the store. Vector search is brute-force cosine over
every indexed part. A batch embeds all its texts in one call, then applies
its operations in order without yielding, so each batch is atomic with
respect to other tasks.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, final

import msgspec

from ._base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Namespace,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    ensure_op,
)
from ._filters import parse_filter
from ._namespaces import has_prefix, parse_ttl_config, select_namespaces
from ._vectors import (
    IndexConfig,
    best_scores,
    embed_paths,
    embed_texts,
    parse_index_config,
    texts_for,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from ._vectors import Matrix

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


@dataclass(slots=True, eq=False)
class _Record:
    namespace: Namespace
    key: str
    raw: bytes
    value: dict[str, Any]  # private decoded copy, for filters; never handed out
    created_at: datetime
    updated_at: datetime
    updated: float
    seq: int  # write order: breaks ties between equal timestamps
    ttl: float | None  # minutes
    expires: float | None
    vectors: Matrix | None

    def newest_first(self) -> tuple[float, int]:
        return (-self.updated, -self.seq)

    def item(self) -> Item:
        return Item(
            namespace=self.namespace,
            key=self.key,
            value=_DECODER.decode(self.raw),
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def search_item(self, score: float | None) -> SearchItem:
        return SearchItem(
            namespace=self.namespace,
            key=self.key,
            value=_DECODER.decode(self.raw),
            created_at=self.created_at,
            updated_at=self.updated_at,
            score=score,
        )


@dataclass(slots=True)
class _Plan:
    """What a batch needs before it runs: encoded values and the texts to embed."""

    texts: list[str]
    spans: dict[int, tuple[int, int]]  # op position -> rows of the embedding matrix
    encoded: dict[int, tuple[bytes, dict[str, Any]]]  # op position -> raw, copy


@final
class InMemoryStore(BaseStore):
    """A store held in process memory; the reference for every other store.

    ``index``: ``{"dims": int, "embed": Embeddings | callable, "fields":
    ["$"]}`` enables semantic search. Without an index a search ``query``
    is ignored (results come newest first with score None). With one, items
    that have vectors rank by their best part; items put with
    ``index=False`` (or with nothing to embed) come after them, newest
    first, with score None.

    ``ttl``: minutes, or ``{"default_ttl": minutes, "refresh_on_read":
    bool}``. Expired items are invisible at once and swept as batches run.
    ``clock`` (seconds, like ``time.time``) is injectable for tests.

    Operations never block on I/O; a batch awaits only its embeddings call,
    and cancellation during it leaves the store unchanged. Its sync methods
    also work inside a running event loop (blocking it, as LangGraph's do),
    on a loop of their own: an ``embed`` bound to the caller's loop cannot
    be used from there.
    """

    def __init__(
        self,
        *,
        index: Mapping[str, Any] | None = None,
        ttl: float | Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create an empty store.

        Raises:
            InvalidIndexConfigError: for a malformed ``index``.
            ValueError: for a malformed ``ttl``.
        """
        self._index: IndexConfig | None = parse_index_config(index)
        self._ttl = parse_ttl_config(ttl)
        self._clock = clock
        self._data: dict[Namespace, dict[str, _Record]] = {}
        self._expiry: list[tuple[float, int, _Record]] = []
        self._seq = itertools.count()

    @property
    def index_config(self) -> IndexConfig | None:
        """The validated index configuration, or None."""
        return self._index

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order, with one embeddings call for the whole batch.

        Raises:
            TypeError: for an object that is not an operation.
            InvalidIndexConfigError: for a bad ``index`` path or a
                misbehaving embedder (nothing is written then).
        """
        checked = [ensure_op(op) for op in ops]
        plan = self._plan(checked)
        matrix: Matrix | None = None
        if self._index is not None and plan.texts:
            matrix = await embed_texts(self._index, plan.texts)
        now = self._clock()
        self._sweep(now)
        results: list[Result] = []
        for pos, op in enumerate(checked):
            rows = _rows(matrix, plan.spans.get(pos))
            match op:
                case GetOp():
                    results.append(self._get(op, now))
                case PutOp():
                    self._put(op, now, plan.encoded.get(pos), rows)
                    results.append(None)
                case SearchOp():
                    results.append(self._search(op, now, rows))
                case ListNamespacesOp():
                    results.append(select_namespaces(self._data.keys(), op))
        return results

    # -- planning ------------------------------------------------------------

    def _plan(self, ops: Sequence[Op]) -> _Plan:
        plan = _Plan(texts=[], spans={}, encoded={})
        for pos, op in enumerate(ops):
            texts: list[str] = []
            if isinstance(op, PutOp) and op.value is not None:
                raw = _ENCODER.encode(op.value)
                copy = _DECODER.decode(raw)
                plan.encoded[pos] = (raw, copy)
                paths = embed_paths(self._index, op.index)
                if paths:
                    texts = texts_for(copy, paths)
            elif isinstance(op, SearchOp) and op.query is not None and self._index:
                texts = [op.query]
            if texts:
                start = len(plan.texts)
                plan.texts.extend(texts)
                plan.spans[pos] = (start, len(plan.texts))
        return plan

    # -- operations ----------------------------------------------------------

    def _lookup(self, namespace: Namespace, key: str) -> _Record | None:
        bucket = self._data.get(namespace)
        return None if bucket is None else bucket.get(key)

    def _get(self, op: GetOp, now: float) -> Item | None:
        record = self._lookup(op.namespace, op.key)
        if record is None:
            return None
        if op.refresh_ttl:
            self._refresh(record, now)
        return record.item()

    def _put(
        self,
        op: PutOp,
        now: float,
        encoded: tuple[bytes, dict[str, Any]] | None,
        vectors: Matrix | None,
    ) -> None:
        old = self._lookup(op.namespace, op.key)
        if encoded is None:
            if old is not None:
                self._remove(old)
            return
        stamp = datetime.fromtimestamp(now, tz=UTC)
        ttl = op.ttl if op.ttl is not None else self._ttl.default_ttl
        record = _Record(
            namespace=op.namespace,
            key=op.key,
            raw=encoded[0],
            value=encoded[1],
            created_at=old.created_at if old is not None else stamp,
            updated_at=stamp,
            updated=now,
            seq=next(self._seq),
            ttl=ttl,
            expires=None if ttl is None else now + ttl * 60.0,
            vectors=vectors if vectors is not None and len(vectors) else None,
        )
        self._data.setdefault(op.namespace, {})[op.key] = record
        if record.expires is not None:
            heapq.heappush(self._expiry, (record.expires, record.seq, record))

    def _search(
        self, op: SearchOp, now: float, query: Matrix | None
    ) -> list[SearchItem]:
        matches = parse_filter(op.filter).matches
        found = [
            record
            for namespace, bucket in self._data.items()
            if has_prefix(namespace, op.namespace_prefix)
            for record in bucket.values()
            if matches(record.value)
        ]
        end = op.offset + op.limit
        if query is None:
            newest = heapq.nsmallest(end, found, key=_Record.newest_first)
            page: list[tuple[float | None, _Record]] = [(None, r) for r in newest]
        else:
            page = _rank(query, found, end)
        page = page[op.offset : end]
        if op.refresh_ttl:
            for _, record in page:
                self._refresh(record, now)
        return [record.search_item(score) for score, record in page]

    # -- TTL -----------------------------------------------------------------

    def _refresh(self, record: _Record, now: float) -> None:
        # The heap entry is left as is; _sweep re-pushes it when it comes due.
        if self._ttl.refresh_on_read and record.ttl is not None:
            record.expires = now + record.ttl * 60.0

    def _remove(self, record: _Record) -> None:
        bucket = self._data[record.namespace]
        del bucket[record.key]
        if not bucket:
            del self._data[record.namespace]

    def _sweep(self, now: float) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, _, record = heapq.heappop(heap)
            if self._lookup(record.namespace, record.key) is not record:
                continue  # replaced or deleted since
            if record.expires is None or record.expires <= now:
                self._remove(record)
            else:
                heapq.heappush(heap, (record.expires, record.seq, record))


def _rows(matrix: Matrix | None, span: tuple[int, int] | None) -> Matrix | None:
    if matrix is None or span is None:
        return None
    return matrix[span[0] : span[1]]


def _rank(
    query: Matrix, found: list[_Record], end: int
) -> list[tuple[float | None, _Record]]:
    """Indexed records by best score (then newest), then unindexed ones, newest first."""
    indexed = [r for r in found if r.vectors is not None]
    scores = best_scores(query, [r.vectors for r in indexed if r.vectors is not None])
    ranked = sorted(
        zip(scores, indexed, strict=True),
        key=lambda pair: (-pair[0], *pair[1].newest_first()),
    )
    out: list[tuple[float | None, _Record]] = [(s, r) for s, r in ranked[:end]]
    if len(out) < end:
        rest = [r for r in found if r.vectors is None]
        newest = heapq.nsmallest(end - len(out), rest, key=_Record.newest_first)
        out.extend((None, r) for r in newest)
    return out
