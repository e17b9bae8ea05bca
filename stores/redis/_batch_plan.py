"""One RedisStore batch, planned: the texts to embed and the step each op becomes.

A step knows the commands its op sends in each round trip and decodes their
replies; most ops are one command in the first round (``Single``), a search
is a ``SearchPlan`` (``_search``). Nothing here does I/O.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

import msgspec

from stores._ops import ListNamespacesOp, PutOp, SearchOp
from stores._vectors import embed_paths, texts_for

from ._query import decode_value
from ._schema import PRIMARY_KINDS, PUT_SCRIPT, filter_values, namespace_tags, tag

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from stores._ops import Op, Result
    from stores._vectors import Matrix

    from ._schema import RedisIndexSettings
    from ._wire import Packed

Encoded: TypeAlias = tuple[bytes, dict[str, Any]]
"""A put's value as JSON bytes, and the decoded copy that paths and filters read."""
_JSON: Final = msgspec.json.Encoder()


class Step(Protocol):
    """One op of a batch: commands per round trip until done, then its result."""

    @property
    def done(self) -> bool: ...
    def commands(self) -> list[tuple[Any, ...] | Packed]: ...
    def feed(self, replies: list[Any]) -> None: ...
    def result(self) -> Result: ...


class Single:
    """An op answered by one command in the first round."""

    def __init__(
        self, command: tuple[Any, ...], decode: Callable[[Any], Result] | None = None
    ) -> None:
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


class Stamps:
    """Microsecond timestamps, strictly increasing within this store."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns() // 1000, self._last + 1)
        return self._last


def encode(value: dict[str, Any]) -> Encoded:
    """JSON bytes, and the decoded copy that paths and filters read (as InMemoryStore does)."""
    raw = _JSON.encode(value)
    return raw, decode_value(raw)


def rows(matrix: Matrix | None, span: tuple[int, int] | None) -> Matrix | None:
    """The rows of ``matrix`` that belong to one op (None when it embeds nothing)."""
    if matrix is None or span is None:
        return None
    return matrix[span[0] : span[1]]


def batch_texts(
    settings: RedisIndexSettings, ops: Sequence[Op], values: dict[int, Encoded]
) -> tuple[list[str], dict[int, tuple[int, int]]]:
    """Every text to embed, and each op's rows; validates paths before any I/O.

    Raises:
        InvalidIndexConfigError: for a bad ``index`` path of a put.
    """
    texts: list[str] = []
    spans: dict[int, tuple[int, int]] = {}
    for i, op in enumerate(ops):
        found: list[str] = []
        if isinstance(op, PutOp) and op.value is not None:
            paths = embed_paths(settings.vectors, op.index)
            found = texts_for(values[i][1], paths) if paths else []
        elif isinstance(op, SearchOp) and op.query is not None and settings.vectors:
            found = [op.query]
        if found:
            spans[i] = (len(texts), len(texts) + len(found))
            texts += found
    return texts, spans


def put_command(
    op: PutOp,
    value: Encoded,
    vectors: Matrix | None,
    *,
    key: str,
    stamp: int,
    ttl: float | None,
    settings: RedisIndexSettings,
) -> tuple[Any, ...]:
    """The PUT script call writing ``op`` at ``key`` (its parts at ``key:<i>``); ``ttl`` in minutes."""
    raw, copy = value
    blobs = [] if vectors is None else [row.tobytes() for row in vectors]
    fields: list[Any] = ["ns", ".".join(op.namespace), "k", op.key, "v", raw]
    fields += ["ua", stamp, "p", namespace_tags(op.namespace)]
    if ttl is not None:
        fields += ["t", repr(ttl)]
    fields += filter_values(settings, copy)
    keys = [key, *(f"{key}:{i}" for i in range(1, len(blobs)))]
    # at least 1 ms: "0" means no TTL to the script
    ttl_ms = max(1, math.ceil(ttl * 60_000)) if ttl is not None else 0
    return PUT_SCRIPT.command(
        keys, [stamp, ttl_ms, len(blobs), len(fields) // 2, *fields, *blobs]
    )


def list_command(index_name: str, op: ListNamespacesOp) -> tuple[Any, ...]:
    """The FT.AGGREGATE listing the namespaces under the literal head of ``op.prefix``."""
    lead: list[str] = []
    for label in op.prefix or ():
        if label == "*":
            break
        lead.append(label)
    query = f"@m:{{{PRIMARY_KINDS}}}" + (
        f" @p:{{{tag('.'.join(lead))}}}" if lead else ""
    )
    return (
        "FT.AGGREGATE", index_name, query,
        "LOAD", 1, "@ns", "GROUPBY", 1, "@ns", "DIALECT", 2,
    )  # fmt: skip
