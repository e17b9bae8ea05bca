"""RedisStore searches: filter push-down, FT.SEARCH commands, and their replies.

A filter condition on a field declared filterable is pushed down to
RediSearch when the index answers it exactly as ``Filter.matches`` would
(tag: ``$eq``/``$ne`` of a string; numeric: any operator on a number in
the double range, compared as doubles). The rest is the *residual*, applied
in Python before offset and limit (see ``_search.SearchPlan``).

A document that expires while RediSearch reads it comes back without
fields (FT.SEARCH) or with a nil field (FT.AGGREGATE): parsing skips it and
counts it, so the search can read again instead of failing.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import msgspec

from stores._base import Item
from stores._filters import Condition, Filter
from stores._namespaces import decode_namespace, select_namespaces

from ._connection import Packed, pack_args
from ._schema import as_double, is_number, number_text, tag

if TYPE_CHECKING:
    from stores._base import GetOp, ListNamespacesOp, Namespace

    from ._schema import FilterField, RedisIndexSettings

FIELDS: Final = ("ns", "k", "v", "ca", "ua", "t")
"""Document fields a search returns: enough to build the item."""
_NEEDED: Final = len(FIELDS) - 1  # all but the optional TTL

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_VALUE: Final = msgspec.json.Decoder(dict[str, Any])

Doc = dict[bytes, bytes]


def stamp_to_datetime(micros: bytes | int) -> datetime:
    """A microsecond timestamp as an aware UTC datetime, exactly."""
    return _EPOCH + timedelta(microseconds=int(micros))


# Searches return the same items over and over: convert each stamp once.
stamp: Final = functools.lru_cache(maxsize=1 << 14)(stamp_to_datetime)


@functools.lru_cache(maxsize=4096)
def namespace_of(raw: bytes) -> tuple[str, ...]:
    """A document's ``ns`` field as a namespace (the same few recur: each decoded once)."""
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
    at = f"@{field.alias}"
    if field.kind == "tag":
        if not isinstance(c.operand, str) or c.op not in ("$eq", "$ne"):
            return None
        match = f"{at}:{{{tag(c.operand)}}}"
        return match if c.op == "$eq" else f"-{match}"
    if not is_number(c.operand) or as_double(c.operand) is None:
        return None  # past the double range: compared exactly, in Python
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


def knn_args(
    index: str,
    conds: list[str],
    vector: bytes,
    k: int,
    ef_runtime: int | None = None,
) -> tuple[Any, ...]:
    """The arguments of FT.SEARCH for the ``k`` documents nearest to ``vector``."""
    return (
        "FT.SEARCH", index, _knn_query(conds, k, ef_runtime),
        "PARAMS", 2, "B", vector,
        *_knn_tail(k),
    )  # fmt: skip


def _knn_query(conds: list[str], k: int, ef_runtime: int | None) -> str:
    ef = f" EF_RUNTIME {ef_runtime}" if ef_runtime is not None else ""
    where = f"({' '.join(conds)})" if conds else "*"
    return f"{where}=>[KNN {k} @vec $B{ef} AS d]"


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


def knn_command(
    index: str,
    conds: list[str],
    vector: bytes,
    k: int,
    ef_runtime: int | None = None,
) -> Packed:
    """FT.SEARCH for the ``k`` documents (item parts) nearest to ``vector``, packed."""
    head, tail = _knn_frame(index, _knn_query(conds, k, ef_runtime), k)
    return Packed(b"%b$%d\r\n%b\r\n%b" % (head, len(vector), vector, tail))


def parse_search(reply: list[Any]) -> tuple[int, list[Doc], int]:
    """The total count, the documents' fields, and how many documents expired under the read.

    (FT.SEARCH, RESP2.) A document whose key expired between the index
    lookup and the read has no fields; it is left out and counted.
    """
    docs: list[Doc] = []
    gone = 0
    for fields in reply[2::2]:
        if not fields:
            gone += 1
            continue
        it = iter(fields)  # paired with itself: half the cost of two slices
        doc = dict(zip(it, it))  # noqa: B905 -- RESP field lists are even
        if len(doc) < _NEEDED:
            gone += 1
        else:
            docs.append(doc)
    return int(reply[0]), docs, gone


Hit = list[bytes]
"""A KNN hit's fields as RediSearch returns them: name, value, ... with the
distance ``d`` first, then RETURN order (``ns k v ca ua``, ``t`` when set);
``hit_doc`` makes the dict."""

_HEAD: Final = [name.encode() for name in ("d", *FIELDS[:_NEEDED])]
_ORDER: Final = [name.encode() for name in ("d", *FIELDS)]


def parse_hits(reply: list[Any]) -> tuple[int, list[Hit], int]:
    """A KNN reply's total count, its hits, and how many documents expired under the read.

    A hit's fields stay a list: ranking reads its distance (first), updated
    stamp (``ua``), namespace and key by position, and only the hits a page
    keeps become dicts. A hit whose fields come in another order is put in
    that order; one that expired (no fields, or one of ``ns k v ca ua d``
    missing) is left out and counted.
    """
    hits: list[Hit] = []
    gone = 0
    for fields in reply[2::2]:
        if not fields:
            gone += 1
        elif fields[0:12:2] == _HEAD and (
            len(fields) == 12 or (len(fields) == 14 and fields[12] == b"t")
        ):
            hits.append(fields)  # the order RediSearch returns: the usual case
        elif (hit := _in_order(fields)) is None:
            gone += 1
        else:
            hits.append(hit)
    return int(reply[0]), hits, gone


def _in_order(fields: list[bytes]) -> Hit | None:
    it = iter(fields)
    doc: Doc = dict(zip(it, it))  # noqa: B905 -- RESP field lists are even
    hit: Hit = []
    for name in _ORDER:
        value = doc.get(name)
        if value is not None:
            hit += (name, value)
        elif name != b"t":
            return None
    return hit


def hit_doc(hit: Hit) -> Doc:
    """A hit's fields as a dict."""
    it = iter(hit)
    return dict(zip(it, it))  # noqa: B905 -- RESP field lists are even


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
    """The namespaces of an FT.AGGREGATE reply, selected as ``op`` asks.

    A group whose ``ns`` is nil comes from documents that expired under
    the read: it is skipped.
    """
    found: list[Namespace] = []
    for row in reply[1:]:
        ns = dict(zip(row[::2], row[1::2], strict=True)).get(b"ns")
        if ns is not None:
            found.append(decode_namespace(ns.decode()))
    return select_namespaces(found, op)
