"""Embeddings: the protocol stores call, and adapters for plain callables.

(HashingEmbeddings and ensure_embeddings are added here by the stores work.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embeddings(Protocol):
    """Turns texts into vectors. A store makes one ``aembed_documents`` call per batch."""

    async def aembed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of one query."""
        ...
