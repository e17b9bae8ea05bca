"""A RedisStore's RediSearch index: how it is made, and whether an existing one fits.

The index ``P:idx`` covers the keys that start ``P:d:{``. Every document
key has a hash tag right after ``:d:`` and prefixes hold no braces, so no
other store's documents fall under it: the index of ``"mem:t1"`` does not
take in the documents of ``"mem:t1:d:x"`` (``mem:t1:d:x:d:{...}``).

An index keeps the settings it was made with. A store opened on a prefix
whose index was made with other settings would misbehave quietly: a new
filterable field that older documents lack, vectors of another size that
are never indexed, a query field the index does not have. So
``plan_index`` compares FT.INFO with what this store would make and refuses
a mismatch with InvalidIndexConfigError, naming both sides and what to do.
An index of the previous layout (key prefix ``P:d:``, filter fields
without aliases) is made again in place; its documents need no change.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

import msgspec

from stores._errors import InvalidIndexConfigError

from ._schema import RedisIndexSettings, untag

DEFAULT_MAX_RESULTS: Final = 1_000_000
"""RediSearch's default MAXSEARCHRESULTS: the most results one search can reach."""

MAX_RESULTS_COMMAND: Final = ("FT.CONFIG", "GET", "MAXSEARCHRESULTS")
"""Asks the server how many results one search can reach."""

_HNSW_DEFAULTS: Final = {"m": 16, "ef_construction": 200}
_FILTER_FIELD: Final = re.compile(r"f\d+")
_VALUED: Final = frozenset(
    {
        "identifier", "attribute", "type", "separator", "algorithm", "data_type",
        "dim", "distance_metric", "m", "ef_construction", "ef_runtime", "epsilon",
        "block_size", "initial_cap", "weight", "phonetic",
    }
)  # fmt: skip


def doc_prefix(prefix: str) -> str:
    """The key prefix the index covers: the store's documents and nothing else."""
    return f"{prefix}:d:{{"


class _Vector(msgspec.Struct, frozen=True):
    algorithm: str
    dim: int
    metric: str
    hnsw: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        metric = "l2" if self.metric == "L2" else "cosine or ip"
        extra = "".join(f", {k} {v}" for k, v in self.hnsw)
        return f"vectors of dims {self.dim} ({self.algorithm.lower()}, {metric}{extra})"


class _Shape(msgspec.Struct, frozen=True):
    """What matters of an index: its keys, its filter fields, its vectors."""

    prefixes: tuple[str, ...]
    filterable: tuple[tuple[str, str, str], ...]  # (field, alias, kind)
    vector: _Vector | None
    base: bool = True  # has the p, m and ua fields every RedisStore index has


def _expected(prefix: str, settings: RedisIndexSettings) -> _Shape:
    vector = None
    if settings.vectors is not None:
        hnsw = ()
        if settings.algorithm == "hnsw":
            params = {**_HNSW_DEFAULTS, **settings.hnsw}
            hnsw = tuple((k, params[k]) for k in _HNSW_DEFAULTS)
        vector = _Vector(
            settings.algorithm.upper(), settings.vectors.dims, settings.metric, hnsw
        )
    return _Shape(
        prefixes=(doc_prefix(prefix),),
        filterable=tuple((f.attr, f.alias, f.kind) for f in settings.filterable),
        vector=vector,
    )


def create_command(
    name: str, prefix: str, settings: RedisIndexSettings
) -> tuple[Any, ...]:
    """The FT.CREATE of a store's index."""
    exact = ("SEPARATOR", ",", "CASESENSITIVE")
    schema: list[Any] = ["p", "TAG", *exact, "m", "TAG", *exact, "ua", "NUMERIC", "SORTABLE"]  # fmt: skip
    for f in settings.filterable:
        kind = ("TAG", *exact) if f.kind == "tag" else ("NUMERIC",)
        schema += [f.attr, "AS", f.alias, *kind]
    vectors = settings.vectors
    if vectors is not None:
        params: list[Any] = ["TYPE", "FLOAT32", "DIM", vectors.dims]
        params += ["DISTANCE_METRIC", settings.metric]
        if settings.algorithm == "hnsw":
            hnsw = {**_HNSW_DEFAULTS, **settings.hnsw}
            params += ["M", hnsw["m"], "EF_CONSTRUCTION", hnsw["ef_construction"]]
            if "ef_runtime" in hnsw:
                params += ["EF_RUNTIME", hnsw["ef_runtime"]]
        schema += ["vec", "VECTOR", settings.algorithm.upper(), len(params), *params]
    return (
        "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, doc_prefix(prefix),
        "SCHEMA", *schema,
    )  # fmt: skip


def _text(token: object) -> str:
    return token.decode() if isinstance(token, bytes) else str(token)


def _attribute(tokens: list[Any]) -> dict[str, str]:
    # FT.INFO lists an attribute as keys with values and bare flags
    out: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        key = _text(tokens[i]).lower()
        if key in _VALUED and i + 1 < len(tokens):
            out[key] = _text(tokens[i + 1])
            i += 2
        else:
            out[key] = ""
            i += 1
    return out


def _found(info: list[Any]) -> _Shape:
    fields = dict(zip(map(_text, info[::2]), info[1::2], strict=False))
    definition: list[Any] = fields.get("index_definition") or []
    spec = dict(zip(map(_text, definition[::2]), definition[1::2], strict=False))
    attributes: list[list[Any]] = fields.get("attributes") or []
    attrs = [_attribute(a) for a in attributes]
    by_id = {a.get("identifier", ""): a for a in attrs}
    base = all(
        by_id.get(i, {}).get("type") == t
        for i, t in (("p", "TAG"), ("m", "TAG"), ("ua", "NUMERIC"))
    )
    filterable = tuple(
        (a["identifier"], a.get("attribute", ""), a.get("type", "").lower())
        for a in attrs
        if _FILTER_FIELD.fullmatch(a.get("identifier", ""))
    )
    vector = None
    if (v := by_id.get("vec")) is not None:
        algorithm = v.get("algorithm", "").upper()
        hnsw = ()
        if algorithm == "HNSW":
            hnsw = tuple((k, int(v.get(k, d) or d)) for k, d in _HNSW_DEFAULTS.items())
        vector = _Vector(
            algorithm,
            int(v.get("dim") or 0),
            v.get("distance_metric", "").upper(),
            hnsw,
        )
    found_prefixes: list[Any] = spec.get("prefixes") or []
    prefixes = tuple(_text(p) for p in found_prefixes)
    return _Shape(prefixes=prefixes, filterable=filterable, vector=vector, base=base)


def plan_index(
    info: object, name: str, prefix: str, settings: RedisIndexSettings
) -> list[tuple[Any, ...]]:
    """The commands that make the index fit (none if it does), from the FT.INFO reply.

    ``info`` is the reply, or the error Redis returned in its place (no
    such index: make it).

    Raises:
        InvalidIndexConfigError: the index exists with other settings.
    """
    if isinstance(info, Exception) or not isinstance(info, list):
        return [create_command(name, prefix, settings)]
    found = _found(cast("list[Any]", info))
    if (
        not settings.chosen
        and settings.vectors is not None
        and found.vector is not None
        and found.vector.algorithm == "HNSW"
    ):  # made under the old default: take it as it is (and remake it so)
        settings = msgspec.structs.replace(
            settings, algorithm="hnsw", hnsw=dict(found.vector.hnsw)
        )
    create, expected = (
        create_command(name, prefix, settings),
        _expected(prefix, settings),
    )
    if found == expected:
        return []
    old = msgspec.structs.replace(
        expected,
        prefixes=(f"{prefix}:d:",),
        filterable=tuple((f, f, kind) for f, _, kind in expected.filterable),
    )
    if found == old:  # the previous layout: the same documents, made again
        return [("FT.DROPINDEX", name), create]
    raise InvalidIndexConfigError(_mismatch(name, prefix, found, expected))


def _describe_filterable(fields: tuple[tuple[str, str, str], ...]) -> str:
    if not fields:
        return "no filterable fields"
    names = [
        f"{untag(alias[2:])!r} ({kind})"
        if alias.startswith("f_")
        else f"{field} ({kind})"
        for field, alias, kind in fields
    ]
    return "filterable fields " + ", ".join(names)


def _mismatch(name: str, prefix: str, found: _Shape, expected: _Shape) -> str:
    theirs: list[str] = []
    ours: list[str] = []
    if not found.base or found.prefixes not in (expected.prefixes, (f"{prefix}:d:",)):
        theirs.append(
            f"keys under {list(found.prefixes)} (not a RedisStore index of this prefix)"
        )
        ours.append(f"keys under {list(expected.prefixes)}")
    if found.vector != expected.vector:
        theirs.append(found.vector.describe() if found.vector else "no vectors")
        ours.append(
            expected.vector.describe() if expected.vector else "no vectors (no index=)"
        )
    if found.filterable != expected.filterable:
        theirs.append(_describe_filterable(found.filterable))
        ours.append(_describe_filterable(expected.filterable))
    return (
        f"RedisStore(prefix={prefix!r}): the index {name!r} in Redis was made with "
        f"{'; '.join(theirs)}, but this store has {'; '.join(ours)}. An index keeps "
        "the settings it was made with: open the store with those settings, or use "
        "another prefix= for these; to start over, drop the index and its items "
        f"(FT.DROPINDEX {name} DD)."
    )


def check_created(replies: list[Any]) -> bool:
    """Whether another process made the index first (FT.CREATE found it).

    Raises the first other error of the index commands; an index already
    dropped (by a concurrent maker) is not one.
    """
    raced = False
    for reply in replies:
        if isinstance(reply, Exception):
            text = str(reply).lower()
            if "already exists" in text:
                raced = True
            elif "unknown index" not in text and "no such index" not in text:
                raise reply
    return raced


def parse_max_results(reply: object) -> int:
    """MAXSEARCHRESULTS from the FT.CONFIG GET reply (the default if it has none)."""
    try:
        value = int(reply[0][1])  # pyright: ignore[reportIndexIssue, reportUnknownArgumentType, reportArgumentType] -- [[name, value]], checked by the except
    except (TypeError, ValueError, IndexError):
        return DEFAULT_MAX_RESULTS
    return value if value > 0 else DEFAULT_MAX_RESULTS
