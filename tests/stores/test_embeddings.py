"""HashingEmbeddings and ensure_embeddings."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from stores._errors import InvalidIndexConfigError
from stores.embeddings._hashing import Embeddings, HashingEmbeddings, ensure_embeddings

if TYPE_CHECKING:
    from collections.abc import Sequence


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.dot(a, b))


# -- HashingEmbeddings -------------------------------------------------------------


def test_vectors_have_dims_and_unit_length() -> None:
    emb = HashingEmbeddings(dims=64)
    vectors = emb.embed_documents(["hello world", "a", "Ünïcode wörds ok"])
    assert [len(v) for v in vectors] == [64, 64, 64]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert all(isinstance(x, float) for x in vectors[0])
    assert len(HashingEmbeddings().embed_query("x")) == 256


def test_text_without_words_is_the_zero_vector() -> None:
    emb = HashingEmbeddings(dims=16)
    assert emb.embed_documents(["", "  !? "]) == [[0.0] * 16, [0.0] * 16]
    assert emb.embed_documents([]) == []


def test_deterministic_and_case_insensitive() -> None:
    a, b = HashingEmbeddings(), HashingEmbeddings()
    assert a.embed_query("My Name is Bob") == b.embed_query("my name is bob")
    assert a.embed_documents(["x y", "z"]) == [a.embed_query("x y"), a.embed_query("z")]


def test_same_vectors_in_another_process_with_another_hash_seed() -> None:
    code = "import json; from stores.embeddings._hashing import HashingEmbeddings as H; print(json.dumps(H(32).embed_query('stable across processes')))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=os.getcwd(),
        timeout=15,
    ).stdout
    assert json.loads(out) == HashingEmbeddings(32).embed_query(
        "stable across processes"
    )


@pytest.mark.parametrize(
    ("query", "near", "far"),
    [
        ("what is my name", "my name is Bob", "I like pizza"),
        ("pizza", "I like pizza", "my name is Bob"),
        ("favourite foods", "my favourite food is sushi", "the weather is cold"),
        ("dark mode", "The user prefers dark mode", "I like pizza"),
        ("running", "I run every morning", "I like pizza"),
    ],
)
def test_overlapping_text_is_closer(query: str, near: str, far: str) -> None:
    emb = HashingEmbeddings()
    q, n, f = emb.embed_documents([query, near, far])
    assert cosine(q, n) > cosine(q, f)
    assert cosine(q, n) > 0.1


async def test_async_twins_match_sync() -> None:
    emb = HashingEmbeddings(32)
    assert await emb.aembed_documents(["a b", "c"]) == emb.embed_documents(["a b", "c"])
    assert await emb.aembed_query("a b") == emb.embed_query("a b")
    assert isinstance(emb, Embeddings)


def test_embed_array_matches_embed_documents() -> None:
    emb = HashingEmbeddings(32)
    texts = ["one two", "", "three"]
    assert np.array_equal(emb.embed_array(texts), np.array(emb.embed_documents(texts)))


@pytest.mark.parametrize("dims", [0, -1, 2.5, True, "8"])
def test_bad_dims_are_rejected(dims: Any) -> None:
    with pytest.raises(InvalidIndexConfigError, match="dims must be a positive int"):
        HashingEmbeddings(dims)


# -- ensure_embeddings -------------------------------------------------------------

HASH = HashingEmbeddings(8)


class LangChainStyle:
    def __init__(self) -> None:
        self.threads: list[int] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.threads.append(threading.get_ident())
        return HASH.embed_documents(texts)


class AsyncOnlyDocuments:
    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return HASH.embed_documents(texts)


class AsyncCallable:
    async def __call__(self, texts: list[str]) -> list[list[float]]:
        return HASH.embed_documents(texts)


async def async_fn(texts: list[str], *, scale: float = 1.0) -> list[list[float]]:
    return [[x * scale for x in v] for v in HASH.embed_documents(texts)]


def sync_fn(texts: list[str]) -> list[list[float]]:
    return HASH.embed_documents(texts)


def test_embeddings_objects_pass_through() -> None:
    emb = HashingEmbeddings(8)
    assert ensure_embeddings(emb) is emb


@pytest.mark.parametrize(
    "make",
    [
        LangChainStyle,
        AsyncOnlyDocuments,
        AsyncCallable,
        lambda: async_fn,
        lambda: functools.partial(async_fn, scale=1.0),
        lambda: sync_fn,
        lambda: lambda texts: HASH.embed_documents(texts),  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType] -- a bare lambda on purpose
    ],
    ids=[
        "langchain",
        "async-docs-only",
        "async-callable",
        "async-fn",
        "async-partial",
        "sync-fn",
        "lambda",
    ],
)
async def test_accepted_shapes_embed_documents_and_queries(make: Any) -> None:
    emb = ensure_embeddings(make())
    assert isinstance(emb, Embeddings)
    assert await emb.aembed_documents(["a b", "c"]) == HASH.embed_documents(
        ["a b", "c"]
    )
    assert await emb.aembed_query("a b") == HASH.embed_query("a b")


async def test_sync_embedders_run_in_a_worker_thread() -> None:
    obj = LangChainStyle()
    await ensure_embeddings(obj).aembed_documents(["x"])
    assert obj.threads
    assert obj.threads[0] != threading.get_ident()


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ("text-embedding-3-small", "'provider:model'"),
        ("cohere:embed-english-v3.0", "pip install langchain langchain-cohere"),
        (42, "embed must be an Embeddings object"),
        (None, "embed must be an Embeddings object"),
        (HashingEmbeddings, "instance, not the class HashingEmbeddings"),
    ],
)
def test_unsupported_embed_is_rejected(obj: Any, match: str) -> None:
    with pytest.raises(InvalidIndexConfigError, match=match):
        ensure_embeddings(obj)


def too_few(texts: list[str]) -> list[list[float]]:
    return [[1.0]]


def a_number(texts: list[str]) -> int:
    return 3


def a_string(texts: list[str]) -> str:
    return "vectors"


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (too_few, "returned 1 vectors for 2 texts"),
        (a_number, "must return a list of vectors"),
        (a_string, "must return a list of vectors"),
    ],
)
async def test_adapters_check_the_vector_count(fn: Any, match: str) -> None:
    with pytest.raises(InvalidIndexConfigError, match=match):
        await ensure_embeddings(fn).aembed_documents(["a", "b"])
