"""Embeddings: the protocol stores call, an offline default, and adapters.

``HashingEmbeddings`` is the offline default: deterministic feature hashing
of words and character 3-grams, good enough that a query ranks text it
overlaps above text it does not. ``ensure_embeddings`` turns what users
pass as ``index["embed"]`` (an Embeddings object, a LangChain-style object
with sync ``embed_documents``, or a plain sync or async function) into an
``Embeddings``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, cast, final, runtime_checkable

from stores._errors import InvalidIndexConfigError

if TYPE_CHECKING:
    import numpy as np  # imported on first use: it takes ~70 ms


@runtime_checkable
class Embeddings(Protocol):
    """Turns texts into vectors. A store makes one ``aembed_documents`` call per batch."""

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of one query."""
        ...


# -- HashingEmbeddings ---------------------------------------------------------

_WORD: Final = re.compile(r"\w+")
_WORD_WEIGHT: Final = 1.0
# Character 3-grams make "names" close to "name" without drowning whole words.
_GRAM_WEIGHT: Final = 0.35
_PROBE_WEIGHT: Final = 0.5**0.5


def _feature_hash(feature: str) -> int:
    # blake2b, not hash(): stable across processes (PYTHONHASHSEED) and machines.
    return int.from_bytes(
        hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little"
    )


@functools.lru_cache(maxsize=1 << 16)
def _word_buckets(word: str, dims: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Signed buckets of one word: the word itself and its boundary 3-grams."""
    padded = f"<{word}>"
    features = [("w:" + word, _WORD_WEIGHT)]
    features.extend(
        ("c:" + padded[i : i + 3], _GRAM_WEIGHT) for i in range(len(padded) - 2)
    )
    cols: list[int] = []
    vals: list[float] = []
    for feature, weight in features:
        h = _feature_hash(feature)
        # Two signed probes per feature (from the two 32-bit halves): one
        # unlucky collision then moves a short text half as far.
        for probe in (h & 0xFFFFFFFF, h >> 32):
            cols.append(probe % dims)
            vals.append(_PROBE_WEIGHT * (weight if probe >> 31 else -weight))
    return tuple(cols), tuple(vals)


@final
class HashingEmbeddings:
    """Offline, deterministic embeddings by signed feature hashing.

    Features are lowercase word unigrams and character 3-grams of each word
    (with ``<``/``>`` boundaries), each hashed with blake2b into two signed
    buckets of ``dims``, then L2-normalised. Text with no word characters embeds as the
    zero vector. Computation is inline and CPU-only: nothing blocks on I/O
    and cancellation has nothing to undo. Raises nothing for any string input.
    """

    def __init__(self, dims: int = 256) -> None:
        """Create an embedder producing ``dims``-dimensional vectors.

        Raises:
            InvalidIndexConfigError: if ``dims`` is not a positive int.
        """
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:  # pyright: ignore[reportUnnecessaryIsInstance] -- user input
            raise InvalidIndexConfigError(f"dims must be a positive int, got {dims!r}")
        self.dims: Final = dims

    def __repr__(self) -> str:
        return f"HashingEmbeddings(dims={self.dims})"

    def embed_array(
        self, texts: Sequence[str]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """``embed_documents`` as a ``(len(texts), dims)`` array, without list conversion."""
        import numpy as np

        dims = self.dims
        flat: list[int] = []
        vals: list[float] = []
        for row, text in enumerate(texts):
            base = row * dims
            for word in _WORD.findall(text.lower()):
                word_cols, word_vals = _word_buckets(word, dims)
                flat.extend(base + c for c in word_cols)
                vals.extend(word_vals)
        size = len(texts) * dims
        matrix = np.bincount(
            np.asarray(flat, dtype=np.intp),
            weights=np.asarray(vals, dtype=np.float64),
            minlength=size,
        ).astype(np.float64, copy=False)
        matrix = matrix.reshape(len(texts), dims)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector (or zero vector) per text, in order."""
        result: list[list[float]] = self.embed_array(texts).tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query text."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Async twin of ``embed_documents`` (computed inline)."""
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of ``embed_query`` (computed inline)."""
        return self.embed_query(text)


# -- adapters ------------------------------------------------------------------

EmbedFn = Callable[[list[str]], Any]


def _checked(result: object, count: int) -> list[list[float]]:
    if not isinstance(result, Iterable) or isinstance(result, str | bytes | Mapping):
        kind = type(cast("object", result)).__name__
        raise InvalidIndexConfigError(
            f"embed must return a list of vectors, got {kind}"
        )
    vectors = list(cast("Iterable[list[float]]", result))  # rows checked by the store
    if len(vectors) != count:
        raise InvalidIndexConfigError(
            f"embed returned {len(vectors)} vectors for {count} texts; return one per text"
        )
    return vectors


@final
class _SyncFnEmbeddings:
    """Runs a blocking embed function in a worker thread so the loop keeps going."""

    def __init__(self, fn: EmbedFn) -> None:
        self._fn = fn

    def __repr__(self) -> str:
        return f"SyncEmbeddings({self._fn!r})"

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        import anyio.to_thread

        batch = list(texts)
        result = await anyio.to_thread.run_sync(self._fn, batch)
        return _checked(result, len(batch))

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


@final
class _AsyncFnEmbeddings:
    """Awaits an async embed function."""

    def __init__(self, fn: Callable[[list[str]], Any]) -> None:
        self._fn = fn

    def __repr__(self) -> str:
        return f"AsyncEmbeddings({self._fn!r})"

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        batch = list(texts)
        return _checked(await self._fn(batch), len(batch))

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]


def _is_async_callable(fn: object) -> bool:
    while isinstance(fn, functools.partial):
        fn = cast("functools.partial[object]", fn).func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 -- a callable object's method
    return call is not None and inspect.iscoroutinefunction(call)


def _inherits_langchain_default(obj: object) -> bool:
    """True when ``aembed_documents`` is langchain_core's default (asyncio's executor).

    That default cannot run on trio; the sync ``embed_documents`` in a worker
    thread does the same on either backend.
    """
    for cls in type(obj).__mro__:
        if "aembed_documents" in vars(cls):
            return cls.__module__.startswith("langchain_core.")
    return False


def ensure_embeddings(obj: object) -> Embeddings:
    """Return ``obj`` as an ``Embeddings``.

    Accepts an Embeddings object (anything with async ``aembed_documents``),
    an object with a sync ``embed_documents`` (LangChain style, run in a
    worker thread), a plain sync or async function
    ``fn(texts: list[str]) -> list[list[float]]``, or a ``"provider:model"``
    string (``"openai:text-embedding-3-small"``; other providers through
    LangChain's ``init_embeddings``).

    Raises:
        InvalidIndexConfigError: for anything else (e.g. a bare model name
            or a class instead of an instance).
    """
    if isinstance(obj, str):
        from ._providers import embeddings_from_string

        obj = embeddings_from_string(obj)
    if isinstance(obj, type):
        raise InvalidIndexConfigError(
            f"embed must be an instance, not the class {obj.__name__}; e.g. {obj.__name__}()"
        )
    langchain_default = _inherits_langchain_default(obj)
    if isinstance(obj, Embeddings) and not langchain_default:
        return obj
    adocs = getattr(obj, "aembed_documents", None)
    if callable(adocs) and not langchain_default:
        return _AsyncFnEmbeddings(adocs)
    docs = getattr(obj, "embed_documents", None)
    if callable(docs):
        return _SyncFnEmbeddings(docs)
    if callable(obj) and not isinstance(obj, str | bytes):
        if _is_async_callable(obj):
            return _AsyncFnEmbeddings(obj)
        return _SyncFnEmbeddings(obj)
    raise InvalidIndexConfigError(
        f"embed must be an Embeddings object (with async aembed_documents), an object "
        f"with a sync embed_documents, or a function texts -> vectors; got {obj!r}"
    )
