"""``AsyncClosing``: ``async with`` for an object whose ``aclose`` releases it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncClosing:
    """``async with x:`` returns ``x`` and awaits ``x.aclose()`` on the way out.

    The default ``aclose`` releases nothing; a class that holds connections
    overrides it (and ``__aenter__`` where entering opens them).
    """

    __slots__ = ()

    async def aclose(self) -> None:
        """Release what this object holds; the default holds nothing."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
