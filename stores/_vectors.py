"""Index configuration, field-path extraction and cosine scoring.

Field paths name the parts of a value to embed:

- ``"$"``: the whole value, as JSON text;
- ``"a.b"`` (or ``"$.a.b"``): a nested field;
- ``"arr[*]"``: each element of a list; ``"arr[*].x"``: a field of each;
- ``"arr[0]"``, ``"arr[-1]"``: one element.

A string part is embedded as is; any other part as its JSON text. Missing
parts, ``None`` and empty strings embed nothing. An item ranks by its best
part (the maximum cosine similarity over its parts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import EllipsisType
from typing import Any, Final, TypeAlias, cast

import msgspec
import numpy as np

from ._errors import InvalidIndexConfigError
from .embeddings._hashing import Embeddings, HashingEmbeddings, ensure_embeddings

Token: TypeAlias = str | int | EllipsisType
"""One step of a field path: a dict key, a list index, or ``...`` for ``[*]``."""
FieldPath: TypeAlias = tuple[Token, ...]
"""A parsed field path; the empty tuple is ``"$"``."""
Matrix: TypeAlias = np.ndarray[Any, np.dtype[np.float32]]

_SEGMENT: Final = re.compile(r"([^.\[\]]+)((?:\[(?:\*|-?\d+)\])*)")
_BRACKET: Final = re.compile(r"\[(\*|-?\d+)\]")
_JSON: Final = msgspec.json.Encoder()


def parse_field_path(path: object) -> FieldPath:
    """Parse a field path such as ``"$"``, ``"a.b"``, ``"arr[*].x"`` or ``"arr[0]"``.

    Raises:
        InvalidIndexConfigError: if ``path`` is not a non-empty string in that syntax.
    """
    if not isinstance(path, str) or not path:
        raise InvalidIndexConfigError(
            f"field paths must be non-empty strings, got {path!r}"
        )
    if path == "$":
        return ()
    path = path.removeprefix("$.")  # JSONPath spelling of a top-level field
    tokens: list[Token] = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise InvalidIndexConfigError(
                f"bad field path {path!r}: use '$', 'a.b', 'arr[*]', 'arr[*].x' or 'arr[0]'"
            )
        tokens.append(match.group(1))
        tokens.extend(
            ... if index == "*" else int(index)
            for index in _BRACKET.findall(match.group(2))
        )
    return tuple(tokens)


def _step(nodes: list[Any], token: Token) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if isinstance(token, str):
            if isinstance(node, Mapping) and token in node:
                out.append(cast("Mapping[str, Any]", node)[token])
        elif isinstance(node, list):
            items = cast("list[Any]", node)  # JSON data
            if token is ...:
                out.extend(items)
            elif -len(items) <= token < len(items):
                out.append(items[token])
    return out


def texts_at(value: Mapping[str, Any], path: FieldPath) -> list[str]:
    """The texts to embed for ``path`` in ``value``: strings as is, other data as JSON."""
    nodes: list[Any] = [value]
    for token in path:
        nodes = _step(nodes, token)
    texts: list[str] = []
    for node in nodes:
        if node is None or node == "":
            continue
        texts.append(node if isinstance(node, str) else _JSON.encode(node).decode())
    return texts


def texts_for(value: Mapping[str, Any], paths: Sequence[FieldPath]) -> list[str]:
    """Every text to embed for ``value`` under ``paths``, in path order."""
    return [text for path in paths for text in texts_at(value, path)]


class IndexConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A validated index configuration."""

    dims: int
    embed: Embeddings
    fields: tuple[str, ...] = ("$",)
    paths: tuple[FieldPath, ...] = ((),)


_INDEX_KEYS: Final = frozenset({"dims", "embed", "fields"})


def parse_index_config(index: object) -> IndexConfig | None:
    """Validate a store's ``index=`` config: ``{"dims": int, "embed": ..., "fields": [...]}``.

    Raises:
        InvalidIndexConfigError: naming the missing or malformed setting.
    """
    if index is None:
        return None
    if not isinstance(index, Mapping):
        raise InvalidIndexConfigError(
            f"index must be a dict like {{'dims': 256, 'embed': HashingEmbeddings()}}, got {index!r}"
        )
    config = cast("Mapping[object, object]", index)  # user input, checked below
    keys = sorted(map(str, config))
    if (
        any(k not in _INDEX_KEYS for k in config)
        or "dims" not in config
        or "embed" not in config
    ):
        raise InvalidIndexConfigError(
            f"index needs 'dims' and 'embed', optionally 'fields'; got keys {keys}"
        )
    dims = config["dims"]
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise InvalidIndexConfigError(
            f"index 'dims' must be a positive int, got {dims!r}"
        )
    embed = ensure_embeddings(config["embed"])
    if isinstance(embed, HashingEmbeddings) and embed.dims != dims:
        raise InvalidIndexConfigError(
            f"index 'dims' is {dims} but the embedder makes {embed.dims}-dim vectors"
        )
    fields = config.get("fields", ["$"])
    if not isinstance(fields, list | tuple) or not fields:
        raise InvalidIndexConfigError(
            f"index 'fields' must be a non-empty list of paths like ['$'] or ['text', 'tags[*]'], got {fields!r}"
        )
    names = tuple(cast("Sequence[object]", fields))
    paths = tuple(parse_field_path(p) for p in names)  # checks each is a str
    return IndexConfig(
        dims=dims, embed=embed, fields=cast("tuple[str, ...]", names), paths=paths
    )


async def embed_texts(config: IndexConfig, texts: Sequence[str]) -> Matrix:
    """Embed ``texts`` in one call; rows are L2-normalised float32.

    Raises:
        InvalidIndexConfigError: if the embedder returns the wrong number or
            length of vectors, or non-numbers.
    """
    if not texts:
        return np.zeros((0, config.dims), dtype=np.float32)
    embed = config.embed
    if isinstance(embed, HashingEmbeddings):
        raw: object = embed.embed_array(texts)  # fast path: no list round trip
    else:
        raw = await embed.aembed_documents(list(texts))
    return _checked_rows(raw, len(texts), config.dims)


def _checked_rows(raw: object, count: int, dims: int) -> Matrix:
    # What the embedder returned, as ``count`` unit-length float32 rows.
    try:
        matrix = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidIndexConfigError(
            f"embed returned malformed vectors: {exc}"
        ) from exc
    if matrix.shape != (count, dims):
        raise InvalidIndexConfigError(
            f"embed returned an array of shape {matrix.shape} for {count} texts; "
            f"expected {count} vectors of index dims {dims}"
        )
    if not np.isfinite(matrix).all():
        raise InvalidIndexConfigError(
            "embed returned vectors with NaN or infinite values"
        )
    return normalize_rows(matrix)


def warm_up(dims: int) -> None:
    """Run the vector path once on a zero row, so the first batch pays no first-call costs.

    numpy's first ``asarray``/``isfinite``/``linalg.norm``/``divide`` in a
    process take about 0.1 ms more than later ones; stores call this when
    they open, as they load their scripts.
    """
    _checked_rows([[0.0] * dims], 1, dims)


def normalize_rows(matrix: Matrix) -> Matrix:
    """Rows scaled to unit length; zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def best_scores(query: Matrix, parts: Sequence[Matrix]) -> list[float]:
    """For each item's part matrix, the best cosine similarity to ``query``, in [-1, 1].

    ``query`` is one normalised row; each entry of ``parts`` has at least one row.
    """
    if not parts:
        return []
    stacked = np.concatenate(parts, axis=0)
    sims = stacked @ query.reshape(-1)
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    best = np.maximum.reduceat(sims, starts)
    return np.clip(best, -1.0, 1.0).astype(float).tolist()
