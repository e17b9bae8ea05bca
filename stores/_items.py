"""What a store holds and returns: ``Item``, ``SearchItem`` and the ``Namespace`` type."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import msgspec

Namespace: TypeAlias = tuple[str, ...]


class Item(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A stored value with its namespace, key and timestamps."""

    namespace: Namespace
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def dict(self) -> dict[str, Any]:
        """The item as a plain dict (LangGraph's ``Item.dict()``)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class SearchItem(Item, frozen=True, kw_only=True):
    """An item returned by search; ``score`` is similarity (higher is closer), None without a query."""

    score: float | None = None

    def dict(self) -> dict[str, Any]:
        """The item as a plain dict, with its score."""
        return {**super().dict(), "score": self.score}
