"""Pure helpers shared by the stores: namespace keys, listing, and TTL config.

Nothing here does I/O, so InMemoryStore and RedisStore get identical
semantics for namespace matching, ``list_namespaces`` and TTL settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final, cast

import msgspec

from ._base import ListNamespacesOp, Namespace
from ._validation import MAX_TTL_MINUTES, validate_ttl

WILDCARD: Final = "*"
"""In a ``list_namespaces`` prefix or suffix, matches any one label."""

SEPARATOR: Final = "."
"""Joins namespace labels; labels never contain it, so the join is reversible."""


def encode_namespace(namespace: Namespace) -> str:
    """The namespace as one string, labels joined by '.'."""
    return SEPARATOR.join(namespace)


def decode_namespace(text: str) -> Namespace:
    """Inverse of ``encode_namespace``."""
    return tuple(text.split(SEPARATOR))


def has_prefix(namespace: Namespace, prefix: Namespace) -> bool:
    """Whether ``prefix`` matches the first labels of ``namespace``, whole labels only."""
    return namespace[: len(prefix)] == prefix


def _labels_match(labels: Namespace, pattern: Namespace) -> bool:
    return all(p in (WILDCARD, label) for label, p in zip(labels, pattern, strict=True))


def namespace_matches(
    namespace: Namespace, prefix: Namespace | None, suffix: Namespace | None
) -> bool:
    """Whether ``namespace`` starts with ``prefix`` and ends with ``suffix`` ('*' is any label)."""
    if prefix:
        if len(namespace) < len(prefix):
            return False
        if not _labels_match(namespace[: len(prefix)], prefix):
            return False
    if suffix:
        if len(namespace) < len(suffix):
            return False
        if not _labels_match(namespace[-len(suffix) :], suffix):
            return False
    return True


def select_namespaces(
    namespaces: Iterable[Namespace], op: ListNamespacesOp
) -> list[Namespace]:
    """Apply a ``ListNamespacesOp`` to the namespaces that hold items.

    Matches prefix and suffix on the full namespace, then truncates to
    ``max_depth`` labels, deduplicates, sorts, and pages.
    """
    found: set[Namespace] = set()
    for ns in namespaces:
        if namespace_matches(ns, op.prefix, op.suffix):
            found.add(ns[: op.max_depth] if op.max_depth is not None else ns)
    return sorted(found)[op.offset : op.offset + op.limit]


class TTLConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A store's TTL settings: a default in minutes and whether reads refresh it."""

    default_ttl: float | None = None
    refresh_on_read: bool = True


_TTL_KEYS: Final = frozenset(
    {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
)


def parse_ttl_config(ttl: object) -> TTLConfig:
    """Parse a store's ``ttl=``: None, minutes, or ``{"default_ttl": m, "refresh_on_read": b}``.

    ``sweep_interval_minutes`` is accepted for LangGraph compatibility and
    ignored: expired items are invisible at once and swept as operations run.

    Raises:
        ValueError: for any other shape, with what is accepted.
    """
    if ttl is None:
        return TTLConfig()
    if not isinstance(ttl, Mapping):
        return TTLConfig(default_ttl=_minutes(ttl, "ttl"))
    settings = cast("Mapping[object, object]", ttl)  # user input, checked below
    unknown = sorted(str(k) for k in settings if k not in _TTL_KEYS)
    if unknown:
        raise ValueError(
            f"unknown ttl settings {unknown}; use minutes or "
            "{'default_ttl': minutes, 'refresh_on_read': bool}"
        )
    refresh = settings.get("refresh_on_read", True)
    if not isinstance(refresh, bool):
        raise ValueError(f"ttl refresh_on_read must be a bool, got {refresh!r}")
    sweep = settings.get("sweep_interval_minutes")
    if sweep is not None:
        _minutes(sweep, "ttl sweep_interval_minutes")
    default = settings.get("default_ttl")
    return TTLConfig(
        default_ttl=None if default is None else _minutes(default, "ttl default_ttl"),
        refresh_on_read=refresh,
    )


def _minutes(value: object, what: str) -> float:
    try:
        minutes = validate_ttl(value)
    except ValueError:
        raise ValueError(
            f"{what} is in minutes and must be a positive number up to "
            f"{MAX_TTL_MINUTES:.0e}, got {value!r}"
        ) from None
    if minutes is None or not math.isfinite(
        minutes
    ):  # pragma: no cover - validate_ttl refuses both
        raise ValueError(
            f"{what} is in minutes and must be a positive number, got {value!r}"
        )
    return minutes
