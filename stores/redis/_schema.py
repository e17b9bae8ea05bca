"""RedisStore's index settings, document layout and RediSearch schema.

One item is one or more HASH documents under one hash tag, all in one
RediSearch index (``P:idx`` over keys ``P:d:``)::

    P:d:{h}      the item (h: a digest of namespace and key)
    P:d:{h}:<i>  its embedded part i (i >= 1), when it has several

Every document carries the whole item (namespace ``ns``, key ``k``, JSON
value ``v``, ``ca``/``ua`` timestamps in microseconds, TTL minutes ``t``)
plus the indexed fields: ``p`` (a TAG of every namespace prefix, so a
prefix matches whole labels), ``m`` (``pv``/``pn``: the item with/without a
vector, ``s``: an extra part), the filterable fields ``f0, f1, ...`` and
the vector ``vec``. A KNN search over all documents finds an item by its
best part and returns it in the same reply; other searches ask for ``m``
``pv|pn``, one document per item.

TAG values are written in a private alphabet (``[A-Za-z0-9_]``, everything
else as ``_XX`` hex), so separators, spaces, case and query syntax in
labels or values can never break or widen a match. An encoding longer than
``TAG_LIMIT`` characters is replaced by a digest of the text (see ``tag``):
RediSearch cuts indexed TAG values at 4,096 characters but not queried ones,
so long values compared by their first 4,096 characters, and a namespace
could see another's items. The index itself (FT.CREATE, and checking an
existing one against the store's settings) is in ``_index``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias, cast

import msgspec

from stores._errors import InvalidIndexConfigError
from stores._field_paths import multi_part
from stores._filters import is_missing, lookup
from stores._vectors import IndexConfig, parse_index_config

from ._connection import Script

FilterKind: TypeAlias = Literal["tag", "numeric"]

_SAFE: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)
_TAG_TABLE: Final = tuple(chr(b) if b in _SAFE else f"_{b:02X}" for b in range(256))
_REDIS_KEYS: Final = frozenset({"filterable", "distance_type", "algorithm", "hnsw"})
_METRICS: Final = {"cosine": "IP", "ip": "IP", "l2": "L2"}
_HNSW_KEYS: Final = frozenset({"m", "ef_construction", "ef_runtime"})
_MSGPACK: Final = msgspec.msgpack.Encoder()

PRIMARY_KINDS: Final = "pv|pn"
"""The ``m`` TAG values of an item's own document (with / without a vector)."""


TAG_LIMIT: Final = 128
"""The longest TAG value written in the plain alphabet; longer ones become a digest."""


def tag(text: str) -> str:
    """``text`` in the TAG alphabet: safe to index and to query, distinct texts never equal.

    Each UTF-8 byte outside ``[A-Za-z0-9]`` is ``_`` and two uppercase hex
    digits. The empty string becomes ``_empty``; an encoding longer than
    ``TAG_LIMIT`` becomes ``_h`` and the 128-bit blake2b digest of the
    text, in lowercase hex. An escape never has a lowercase letter after
    the ``_``, so neither form can equal a plain encoding, and every value
    stays far below RediSearch's 4,096-character cut. Callers validate that
    ``text`` is valid Unicode (no lone surrogates).
    """
    data = text.encode()
    encoded = "".join([_TAG_TABLE[b] for b in data])
    if len(encoded) > TAG_LIMIT:
        return "_h" + hashlib.blake2b(data, digest_size=16).hexdigest()
    return encoded or "_empty"


def untag(value: str) -> str:
    """The text of a plain ``tag`` encoding (for messages); a digest comes back as ``<digest …>``."""
    if value == "_empty":
        return ""
    if value.startswith("_h"):
        return f"<digest {value[2:10]}…>"
    out, i = bytearray(), 0
    while i < len(value):
        if value[i] == "_":
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
        else:
            out += value[i].encode()
            i += 1
    return out.decode(errors="replace")


class FilterField(msgspec.Struct, frozen=True, kw_only=True):
    """A value field indexed for filter push-down."""

    name: str
    """The dotted path as the user wrote it, e.g. ``"meta.lang"``."""
    path: tuple[str, ...]
    kind: FilterKind
    attr: str
    """The document field: ``f0``, ``f1``, ..."""
    alias: str
    """The index attribute queries name: ``f_`` and the name in the TAG
    alphabet, so the index records which path each field holds."""


class RedisIndexSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What RedisStore adds to the shared index config."""

    vectors: IndexConfig | None = None
    distance: str = "cosine"
    algorithm: Literal["hnsw", "flat"] = "flat"
    chosen: bool = False
    """Whether ``algorithm`` (or ``hnsw``) was given. An unchosen store takes an
    existing index as it was made: indexes made before the default became
    ``flat`` are HNSW."""
    hnsw: dict[str, int] = {}
    filterable: tuple[FilterField, ...] = ()

    @property
    def metric(self) -> str:
        """The RediSearch metric. Vectors are stored unit length, so cosine is IP (and a zero vector scores 0, not NaN)."""
        return _METRICS[self.distance]

    def score(self, distance: float) -> float:
        """Cosine similarity from a RediSearch distance between unit vectors, in [-1, 1].

        float32 rounding can put an exact match a hair past 1.0; InMemoryStore
        clips the same way.
        """
        sim = 1.0 - distance / 2.0 if self.distance == "l2" else 1.0 - distance
        return min(1.0, max(-1.0, sim))

    @property
    def ef_runtime(self) -> int | None:
        """The HNSW ``ef_runtime`` to pass with every KNN query, if configured."""
        return self.hnsw.get("ef_runtime") if self.algorithm == "hnsw" else None

    @property
    def multi_part(self) -> bool:
        """Whether the configured fields can give an item several parts."""
        if self.vectors is None:
            return False
        paths = self.vectors.paths
        return len(paths) > 1 or any(multi_part(p) for p in paths)

    def field(self, path: tuple[str, ...]) -> FilterField | None:
        """The filterable field at ``path``, if declared."""
        for f in self.filterable:
            if f.path == path:
                return f
        return None


def parse_settings(index: object, filterable: object) -> RedisIndexSettings:
    """Split RedisStore's ``index=`` into the shared config and Redis settings.

    Redis adds ``filterable`` (``{"field": "tag" | "numeric"}``),
    ``distance_type`` (``cosine``, ``l2``, ``ip``), ``algorithm`` (``hnsw``,
    ``flat``) and ``hnsw`` (``{"m", "ef_construction", "ef_runtime"}``).
    ``filterable`` may also be passed on its own, for a store without vectors.

    Raises:
        InvalidIndexConfigError: naming the malformed setting.
    """
    extra: dict[str, object] = {}
    if isinstance(index, Mapping):
        config = cast("Mapping[str, object]", index)
        extra = {k: v for k, v in config.items() if k in _REDIS_KEYS}
        rest = {k: v for k, v in config.items() if k not in _REDIS_KEYS}
        index = rest if rest or not extra else None  # only Redis settings: no vectors
    if filterable is not None and "filterable" in extra:
        raise InvalidIndexConfigError(
            "pass 'filterable' either in index= or as filterable=, not both"
        )
    vectors = parse_index_config(index)
    distance = extra.get("distance_type", "cosine")
    if distance not in _METRICS:
        raise InvalidIndexConfigError(
            f"index 'distance_type' must be 'cosine', 'l2' or 'ip', got {distance!r}"
        )
    hnsw = _parse_hnsw(extra.get("hnsw"))
    # flat by default, as LangGraph's RedisStore: an exact scan that costs a
    # put nothing, where HNSW's graph insert is most of a put's time
    algorithm = extra.get("algorithm", "hnsw" if hnsw else "flat")
    if algorithm not in ("hnsw", "flat"):
        raise InvalidIndexConfigError(
            f"index 'algorithm' must be 'hnsw' or 'flat', got {algorithm!r}"
        )
    if hnsw and algorithm != "hnsw":
        raise InvalidIndexConfigError(
            f"index 'hnsw' parameters {hnsw!r} need algorithm 'hnsw', got {algorithm!r}"
        )
    return RedisIndexSettings(
        vectors=vectors,
        distance=cast("str", distance),
        algorithm=algorithm,
        chosen="algorithm" in extra or bool(hnsw),
        hnsw=hnsw,
        filterable=_parse_filterable(extra.get("filterable", filterable)),
    )


def _parse_hnsw(hnsw: object) -> dict[str, int]:
    if hnsw is None:
        return {}
    if not isinstance(hnsw, Mapping):
        raise InvalidIndexConfigError(
            f"index 'hnsw' must be a dict like {{'m': 16}}, got {hnsw!r}"
        )
    params = cast("Mapping[object, object]", hnsw)
    for name, value in params.items():
        if (
            name not in _HNSW_KEYS
            or isinstance(value, bool)
            or not isinstance(value, int)
            or value < 1
        ):
            raise InvalidIndexConfigError(
                f"index 'hnsw' takes positive ints for {sorted(_HNSW_KEYS)}, got {name!r}: {value!r}"
            )
    return cast("dict[str, int]", dict(params))


def _parse_filterable(spec: object) -> tuple[FilterField, ...]:
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise InvalidIndexConfigError(
            f"'filterable' must be a dict like {{'kind': 'tag', 'n': 'numeric'}}, got {spec!r}"
        )
    fields: list[FilterField] = []
    for i, (name, kind) in enumerate(cast("Mapping[object, object]", spec).items()):
        path = tuple(name.split(".")) if isinstance(name, str) else ()
        if not path or not all(path) or any(p.startswith("$") for p in path):
            raise InvalidIndexConfigError(
                f"'filterable' keys are field paths like 'kind' or 'meta.lang', got {name!r}"
            )
        if kind not in ("tag", "numeric"):
            raise InvalidIndexConfigError(
                f"'filterable' kinds are 'tag' or 'numeric', got {name!r}: {kind!r}"
            )
        name = cast("str", name)
        try:
            alias = f"f_{tag(name)}"
        except UnicodeEncodeError:
            raise InvalidIndexConfigError(
                f"'filterable' key {name!r} holds a lone surrogate; use valid Unicode text"
            ) from None
        fields.append(
            FilterField(name=name, path=path, kind=kind, attr=f"f{i}", alias=alias)
        )
    return tuple(fields)


def is_number(x: object) -> bool:
    """A JSON number: int or float, not bool."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def as_double(x: float) -> float | None:
    """``x`` as the double RediSearch compares, or None past the double range.

    A float is itself (store values are finite); an int is rounded to the
    nearest double, so 2**53 + 1 compares as 2**53.
    """
    try:
        return float(x)
    except OverflowError:
        return None


def number_text(x: float) -> str:
    """A number as RediSearch parses it: the double nearest ``x``, in its shortest repr.

    Callers pass numbers within the double range (see ``as_double``).
    """
    if isinstance(x, int) and -(2**53) <= x <= 2**53:
        return str(x)  # exact, and how people write it
    return repr(float(x))


def indexed_number(x: float) -> str:
    """A value's number as written to a NUMERIC field: an int past the double
    range is +-inf (RediSearch drops a document whose number it cannot parse)."""
    if as_double(x) is None:
        return "inf" if x > 0 else "-inf"
    return number_text(x)


def filter_values(settings: RedisIndexSettings, value: Mapping[str, Any]) -> list[str]:
    """Field/value pairs of the filterable fields present in ``value``.

    A tag field is written only for a string, a numeric one only for a
    number (not a bool), so the index holds exactly what a pushed-down
    condition may match.
    """
    out: list[str] = []
    for f in settings.filterable:
        found = lookup(value, f.path)
        if is_missing(found):
            continue
        if f.kind == "tag" and isinstance(found, str):
            out += [f.attr, tag(found)]
        elif f.kind == "numeric" and is_number(found):
            out += [f.attr, indexed_number(found)]
    return out


def namespace_tags(namespace: tuple[str, ...]) -> str:
    """The ``p`` field: every prefix of the namespace as a tag, comma-separated."""
    return ",".join(tag(".".join(namespace[: i + 1])) for i in range(len(namespace)))


def item_key(prefix: str, namespace: tuple[str, ...], key: str) -> str:
    """The Redis key of an item's document; its parts append ``:<i>``."""
    digest = hashlib.blake2b(
        _MSGPACK.encode((namespace, key)), digest_size=12
    ).hexdigest()
    return f"{prefix}:d:{{{digest}}}"


# -- the Lua scripts that write and read that layout, one item each -----------

# KEYS: the item, then its parts 1..n-1. ARGV: stamp, ttl ms ("0": none),
# vector count n, field pair count, the field pairs, then the n vectors.
PUT_SCRIPT: Final = Script("""
local key = KEYS[1]
local prev = redis.call('HMGET', key, 'ca', 'n')
local ca = prev[1] or ARGV[1]
local old = tonumber(prev[2] or '0')
local ttl = tonumber(ARGV[2])
local nvec = tonumber(ARGV[3])
local last = 4 + 2 * tonumber(ARGV[4])
local function write(k, kind, i, parts)
  -- an update starts from an empty hash (old fields must not linger); a
  -- new item's main hash does not exist, so it skips the DEL
  if prev[1] or i > 1 then redis.call('DEL', k) end
  local args = {'HSET', k, 'ca', ca, 'm', kind}
  for j = 5, last do args[#args + 1] = ARGV[j] end
  if i <= nvec then args[#args + 1] = 'vec'; args[#args + 1] = ARGV[last + i] end
  if parts then args[#args + 1] = 'n'; args[#args + 1] = parts end
  redis.call(unpack(args))
  if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
end
local kind = 'pn'
if nvec > 0 then kind = 'pv' end
write(key, kind, 1, math.max(nvec - 1, 0))
for i = 2, nvec do write(KEYS[i], 's', i, nil) end
for i = math.max(nvec, 1), old do redis.call('DEL', key .. ':' .. i) end
return 1
""")

DELETE_SCRIPT: Final = Script("""
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
redis.call('DEL', KEYS[1])
for i = 1, n do redis.call('DEL', KEYS[1] .. ':' .. i) end
return 1
""")

# ARGV[1]: "1" to refresh the TTL of the item and its parts.
GET_SCRIPT: Final = Script("""
local f = redis.call('HMGET', KEYS[1], 'v', 'ca', 'ua', 't', 'n')
if ARGV[1] == '1' and f[4] then
  local ms = math.max(1, math.ceil(tonumber(f[4]) * 60000))
  redis.call('PEXPIRE', KEYS[1], ms)
  for i = 1, tonumber(f[5] or '0') do redis.call('PEXPIRE', KEYS[1] .. ':' .. i, ms) end
end
return f
""")

SCRIPTS: Final = (PUT_SCRIPT, DELETE_SCRIPT, GET_SCRIPT)
