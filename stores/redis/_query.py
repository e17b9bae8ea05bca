"""RedisStore searches: filter push-down, FT.SEARCH commands, and paging.

A filter condition on a field declared filterable is pushed down to
RediSearch when the index answers it exactly as ``Filter.matches`` would
(tag: ``$eq``/``$ne`` of a string; numeric: any operator on a number). The
rest is the *residual*, applied here before offset and limit: the search
then reads a window of candidates in result order and widens it (x4 per
extra round trip) until the page is full or the candidates run out, so it
never returns fewer results than exist.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import msgspec

from stores._base import Item, SearchItem
from stores._filters import Condition, Filter
from stores._namespaces import decode_namespace, select_namespaces

from ._connection import Packed, pack_args
from ._schema import PRIMARY_KINDS, is_number, number_text, tag

if TYPE_CHECKING:
    from stores._base import GetOp, ListNamespacesOp, Namespace, SearchOp

    from ._schema import FilterField, RedisIndexSettings

FIELDS: Final = ("ns", "k", "v", "ca", "ua", "t")
"""Document fields a search returns: enough to build the item."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_VALUE: Final = msgspec.json.Decoder(dict[str, Any])
_GROW: Final = 4
_MIN_WINDOW: Final = 64

Doc = dict[bytes, bytes]


def stamp_to_datetime(micros: bytes | int) -> datetime:
    """A microsecond timestamp as an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(microseconds=int(micros))


# Searches return the same items over and over: convert each stamp once.
_stamp: Final = functools.lru_cache(maxsize=1 << 14)(stamp_to_datetime)


@functools.lru_cache(maxsize=4096)
def _namespace(raw: bytes) -> tuple[str, ...]:
    # the same few namespaces come back in every search: decode each once
    return decode_namespace(raw.decode())


def decode_value(data: bytes) -> dict[str, Any]:
    """A stored JSON value."""
    return _VALUE.decode(data)


def compile_filter(
    flt: Filter, settings: RedisIndexSettings
) -> tuple[list[str], Filter]:
    """Split ``flt`` into RediSearch clauses (exact) and a residual filter for Python."""
    clauses: list[str] = []
    residual: list[Condition] = []
    for condition in flt.conditions:
        field = settings.field(condition.path)
        clause = _clause(field, condition) if field is not None else None
        if clause is None:
            residual.append(condition)
        else:
            clauses.append(clause)
    return clauses, Filter(conditions=tuple(residual))


def _clause(field: FilterField, c: Condition) -> str | None:
    at = f"@{field.attr}"
    if field.kind == "tag":
        if not isinstance(c.operand, str) or c.op not in ("$eq", "$ne"):
            return None
        match = f"{at}:{{{tag(c.operand)}}}"
        return match if c.op == "$eq" else f"-{match}"
    if not is_number(c.operand):
        return None
    x = number_text(c.operand)
    ranges = {
        "$eq": f"[{x} {x}]",
        "$ne": f"[{x} {x}]",
        "$gt": f"[({x} +inf]",
        "$gte": f"[{x} +inf]",
        "$lt": f"[-inf ({x}]",
        "$lte": f"[-inf {x}]",
    }
    return f"{'-' if c.op == '$ne' else ''}{at}:{ranges[c.op]}"


def where(prefix: tuple[str, ...], clauses: list[str]) -> list[str]:
    """The namespace-prefix clause (whole labels) and the pushed-down filter clauses."""
    head = [f"@p:{{{tag('.'.join(prefix))}}}"] if prefix else []
    return head + clauses


def newest_command(
    index: str, conds: list[str], kinds: str, offset: int, count: int
) -> tuple[Any, ...]:
    """FT.SEARCH for items (``m`` in ``kinds``), newest-updated first."""
    query = " ".join([f"@m:{{{kinds}}}", *conds])
    return (
        "FT.SEARCH", index, query,
        "RETURN", len(FIELDS), *FIELDS,
        "SORTBY", "ua", "DESC",
        "LIMIT", offset, count,
        "DIALECT", 2,
    )  # fmt: skip


def knn_args(index: str, conds: list[str], vector: bytes, k: int) -> tuple[Any, ...]:
    """The arguments of FT.SEARCH for the ``k`` documents nearest to ``vector``."""
    return (
        "FT.SEARCH", index, _knn_query(conds, k),
        "PARAMS", 2, "B", vector,
        *_knn_tail(k),
    )  # fmt: skip


def _knn_query(conds: list[str], k: int) -> str:
    if conds:
        return f"({' '.join(conds)})=>[KNN {k} @vec $B AS d]"
    return f"*=>[KNN {k} @vec $B AS d]"


def _knn_tail(k: int) -> tuple[Any, ...]:
    return (
        "RETURN", len(FIELDS) + 1, *FIELDS, "d",
        "SORTBY", "d", "ASC",
        "LIMIT", 0, k,
        "DIALECT", 2,
    )  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _knn_frame(index: str, query: str, k: int) -> tuple[bytes, bytes]:
    # Everything but the vector, packed once: a turn's search differs from
    # the last one with the same namespace only in its vector.
    head = b"*%d\r\n" % (len(_knn_tail(k)) + 7) + pack_args(
        ("FT.SEARCH", index, query, "PARAMS", 2, "B")
    )
    return head, pack_args(_knn_tail(k))


def knn_command(index: str, conds: list[str], vector: bytes, k: int) -> Packed:
    """FT.SEARCH for the ``k`` documents (item parts) nearest to ``vector``, packed."""
    head, tail = _knn_frame(index, _knn_query(conds, k), k)
    return Packed(b"%b$%d\r\n%b\r\n%b" % (head, len(vector), vector, tail))


def parse_search(reply: list[Any]) -> tuple[int, list[Doc]]:
    """The total count and the documents' fields of an FT.SEARCH reply (RESP2)."""
    # one iterator per document, paired with itself: half the cost of slicing
    pairs = map(iter, reply[2::2])
    return int(reply[0]), [dict(zip(it, it)) for it in pairs]  # noqa: B905 -- RESP field lists are even


class _Row(msgspec.Struct, frozen=True):
    doc: Doc
    value: dict[str, Any]
    score: float | None

    def item(self) -> SearchItem:
        d = self.doc
        return SearchItem(
            namespace=_namespace(d[b"ns"]),
            key=d[b"k"].decode(),
            value=self.value,
            created_at=_stamp(d[b"ca"]),
            updated_at=_stamp(d[b"ua"]),
            score=self.score,
        )


class SearchPlan:
    """One SearchOp, run over one or more round trips; each round gives commands, then replies."""

    def __init__(
        self,
        op: SearchOp,
        index: str,
        settings: RedisIndexSettings,
        conds: list[str],
        residual: Filter,
        vector: bytes | None,
    ) -> None:
        self.op, self._index, self._settings = op, index, settings
        self._conds, self._residual, self._vector = conds, residual, vector
        self.end = op.offset + op.limit
        exact = not residual.conditions
        self._window = self.end if exact else max(_GROW * self.end, _MIN_WINDOW)
        self._k = self._window * (2 if exact and settings.multi_part else 1)
        self._page: list[_Row] | None = [] if self.end == 0 else None
        self._indexed: list[_Row] | None = None  # scored rows, once known complete

    @property
    def done(self) -> bool:
        """Whether the page is known."""
        return self._page is not None

    def result(self) -> list[SearchItem]:
        """The page, once done."""
        assert self._page is not None
        return [r.item() for r in self._page]

    def with_ttl(self) -> list[tuple[tuple[str, ...], str]]:
        """(namespace, key) of the page's items that have a TTL to refresh."""
        assert self._page is not None
        return [
            (decode_namespace(r.doc[b"ns"].decode()), r.doc[b"k"].decode())
            for r in self._page
            if b"t" in r.doc
        ]

    def commands(self) -> list[tuple[Any, ...] | Packed]:
        """The commands of the next round (none once done)."""
        if self._page is not None:
            return []
        exact_page = not self._residual.conditions and self._vector is None
        offset, count = (
            (self.op.offset, self.op.limit) if exact_page else (0, self._window)
        )
        if self._vector is None:
            return [
                newest_command(self._index, self._conds, PRIMARY_KINDS, offset, count)
            ]
        if self._indexed is None:
            return [knn_command(self._index, self._conds, self._vector, self._k)]
        # Items without vectors rank after every scored one: they are read
        # only when the scored ones do not fill the page.
        return [newest_command(self._index, self._conds, "pn", 0, self._window)]

    def feed(self, replies: list[Any]) -> None:
        """Take this round's replies; sets ``result`` or widens the windows for another round."""
        if self._vector is None:
            total, docs = parse_search(replies[0])
            rows = self._keep([_Row(d, decode_value(d[b"v"]), None) for d in docs])
            if not self._residual.conditions:
                self._page = rows
            elif len(rows) >= self.end or total <= self._window:
                self._page = rows[self.op.offset : self.end]
            else:
                self._window *= _GROW
            return
        self._feed_knn(replies)

    def _feed_knn(self, replies: list[Any]) -> None:
        if self._indexed is None:
            _, hits = parse_search(replies[0])
            indexed = self._keep(self._best_parts(hits))
            if len(indexed) >= self.end:
                self._page = indexed[self.op.offset : self.end]
            elif len(hits) >= self._k:  # more parts may exist beyond k
                self._k *= _GROW
            else:
                self._indexed = indexed  # next round: the items without vectors
            return
        indexed = self._indexed
        total, docs = parse_search(replies[0])
        plain = self._keep([_Row(d, decode_value(d[b"v"]), None) for d in docs])
        if len(indexed) + len(plain) >= self.end or total <= self._window:
            self._page = (indexed + plain)[self.op.offset : self.end]
        else:
            self._window *= _GROW

    def _best_parts(self, hits: list[Doc]) -> list[_Row]:
        ranked = sorted(hits, key=lambda d: (float(d[b"d"]), -int(d[b"ua"])))
        seen: set[tuple[bytes, bytes]] = set()
        rows: list[_Row] = []
        score = self._settings.score
        for d in ranked:
            ident = (d[b"ns"], d[b"k"])
            if ident not in seen:
                seen.add(ident)
                rows.append(_Row(d, decode_value(d[b"v"]), score(float(d[b"d"]))))
        return rows

    def _keep(self, rows: list[_Row]) -> list[_Row]:
        if not self._residual.conditions:
            return rows
        return [r for r in rows if self._residual.matches(r.value)]


def decode_item(op: GetOp, reply: list[Any]) -> Item | None:
    """The item of a get script's reply (value, created, updated, ...), or None."""
    value, created, updated = reply[0], reply[1], reply[2]
    if value is None:
        return None
    return Item(
        namespace=op.namespace,
        key=op.key,
        value=decode_value(value),
        created_at=stamp_to_datetime(created),
        updated_at=stamp_to_datetime(updated),
    )


def decode_namespaces(op: ListNamespacesOp, reply: list[Any]) -> list[Namespace]:
    """The namespaces of an FT.AGGREGATE reply, selected as ``op`` asks."""
    found = [
        decode_namespace(dict(zip(r[::2], r[1::2], strict=True))[b"ns"].decode())
        for r in reply[1:]
    ]
    return select_namespaces(found, op)
