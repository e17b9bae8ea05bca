"""Index configuration, field-path extraction and cosine scoring.

Field paths name the parts of a value to embed, in LangGraph's syntax
(``"$"``, ``"a.b"``, ``"a.*"``, ``"{a,b.c}"``, ``"arr[*].x"``, ``"arr[0]"``);
``stores/_field_paths.py`` parses them and gives each part's text. An item
ranks by its best part (the maximum cosine similarity over its parts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast

import msgspec

from ._errors import InvalidIndexConfigError
from ._field_paths import (
    STAR as STAR,
    FieldPath as FieldPath,
    Token as Token,
    parse_field_path as parse_field_path,
    texts_at as texts_at,
)
from .embeddings._hashing import Embeddings, HashingEmbeddings, ensure_embeddings

if TYPE_CHECKING:
    import numpy as np

Matrix: TypeAlias = "np.ndarray[Any, np.dtype[np.float32]]"
"""numpy is imported on the first embedding, not with the stores: a process
that never embeds (or only talks to Redis) does not pay its ~70 ms import."""


def texts_for(value: Mapping[str, Any], paths: Sequence[FieldPath]) -> list[str]:
    """Every text to embed for ``value`` under ``paths``, in path order."""
    return [text for path in paths for text in texts_at(value, path)]


class IndexConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A validated index configuration; ``config["dims"]`` reads it as LangGraph's mapping."""

    dims: int
    embed: Embeddings
    fields: tuple[str, ...] = ("$",)
    paths: tuple[FieldPath, ...] = ((),)
    given_embed: Any = None
    """The ``embed`` the user passed (``config["embed"]`` returns it, as LangGraph does)."""

    def __getitem__(self, key: str) -> Any:
        if key == "embed":
            return self.embed if self.given_embed is None else self.given_embed
        if key == "fields":
            return list(self.fields)
        if key == "dims":
            return self.dims
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``config[key]``, or ``default`` for a key LangGraph's mapping may lack."""
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        """The keys of LangGraph's index-config mapping."""
        return ["dims", "embed", "fields"]


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
        dims=dims,
        embed=embed,
        fields=cast("tuple[str, ...]", names),
        paths=paths,
        given_embed=config["embed"],
    )


async def embed_texts(config: IndexConfig, texts: Sequence[str]) -> Matrix:
    """Embed ``texts`` in one call; rows are L2-normalised float32.

    Raises:
        InvalidIndexConfigError: if the embedder returns the wrong number or
            length of vectors, or non-numbers.
    """
    import numpy as np

    if not texts:
        return np.zeros((0, config.dims), dtype=np.float32)
    embed = config.embed
    if isinstance(embed, HashingEmbeddings):
        raw: object = embed.embed_array(texts)  # fast path: no list round trip
    else:
        raw = await embed.aembed_documents(list(texts))
    return _checked_rows(raw, len(texts), config.dims)


def _checked_rows(raw: object, count: int, dims: int) -> Matrix:
    import numpy as np

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
    # normalize_rows, bit for bit, with the finiteness check folded in for
    # the usual rows: a row's sum of squares is finite and positive only if
    # every value is finite and one is not zero. Anything else (a zero row,
    # a NaN, finite values whose squares overflow) is looked at value by value.
    squares = _squares(matrix)
    if count == 1:
        low = high = squares.item()
    else:
        low, high = squares.min().item(), squares.max().item()
    if low > 0.0 and high < math.inf:
        return cast("Matrix", matrix / np.sqrt(squares))
    if not np.isfinite(matrix).all():
        raise InvalidIndexConfigError(
            "embed returned vectors with NaN or infinite values"
        )
    return _divide(matrix, np.sqrt(squares))


def warm_up(dims: int) -> None:
    """Run the vector path once on a zero row, so the first batch pays no first-call costs.

    numpy's first ``asarray``/``isfinite``/``linalg.norm``/``divide`` in a
    process take about 0.1 ms more than later ones; stores call this when
    they open, as they load their scripts.
    """
    _checked_rows([[0.0] * dims], 1, dims)


def normalize_rows(matrix: Matrix) -> Matrix:
    """Rows scaled to unit length; zero rows stay zero."""
    import numpy as np

    # np.linalg.norm(matrix, axis=1, keepdims=True) computes exactly this for
    # real rows, behind ~20 lines of Python per call
    return _divide(matrix, np.sqrt(_squares(matrix)))


def _squares(matrix: Matrix) -> Matrix:
    import numpy as np

    return np.add.reduce(matrix * matrix, axis=1, keepdims=True)


def _divide(matrix: Matrix, norms: Matrix) -> Matrix:
    import numpy as np

    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def best_scores(query: Matrix, parts: Sequence[Matrix]) -> list[float]:
    """For each item's part matrix, the best cosine similarity to ``query``, in [-1, 1].

    ``query`` is one normalised row; each entry of ``parts`` has at least one row.
    """
    import numpy as np

    if not parts:
        return []
    stacked = np.concatenate(parts, axis=0)
    sims = stacked @ query.reshape(-1)
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    best = np.maximum.reduceat(sims, starts)
    return np.clip(best, -1.0, 1.0).astype(float).tolist()


def embed_paths(
    config: IndexConfig | None, index: Literal[False] | list[str] | None
) -> tuple[FieldPath, ...]:
    """The parsed paths a put embeds; a list is parsed (and checked) even without an index."""
    if isinstance(index, list):
        paths = tuple(parse_field_path(p) for p in index)
        return paths if config is not None else ()
    if config is None or index is False:
        return ()
    return config.paths
