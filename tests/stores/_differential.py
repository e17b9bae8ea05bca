"""Helpers of the differential tests: an exact embedder and a comparable view of results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stores._base import Result


class OneHot:
    """Embeds a text as the one-hot vector of its first letter among a-h (zero if none).

    Scores are then exactly 0 or 1 in float32 and float64 alike, so both
    stores rank the same way, ties broken newest first.
    """

    dims = 8

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        return self._one(text)

    def _one(self, text: str) -> list[float]:
        row = [0.0] * self.dims
        for ch in text.lower():
            if "a" <= ch <= "h":
                row[ord(ch) - ord("a")] = 1.0
                break
        return row


def one_hot_index(**extra: Any) -> dict[str, Any]:
    return {
        "dims": 8,
        "embed": OneHot(),
        "fields": ["text"],
        "algorithm": "flat",
        **extra,
    }


def view(result: Result) -> Any:
    """A result as plain data both stores must agree on (timestamps aside)."""
    if isinstance(result, list):
        return [
            (
                r.namespace,
                r.key,
                r.value,
                None if r.score is None else round(r.score, 5),
            )
            if hasattr(r, "key")
            else r
            for r in result  # pyright: ignore[reportUnknownVariableType]
        ]
    if result is None:
        return None
    return (result.namespace, result.key, result.value)  # type: ignore[union-attr]
