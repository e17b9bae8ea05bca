"""One RedisStore search, run over as few round trips as it needs.

Every page is computed from replies that one point in time produced: a
writer that re-puts an item between two reads could otherwise make it
appear twice or not at all.

- Without a query: one FT.SEARCH, newest first. With no residual filter it
  reads the page itself (offset, limit); else a window of candidates from
  the top, widened (x4 per extra round trip) until the page is full or the
  candidates run out, so it never returns fewer results than exist.
- With a query: a KNN over every document (an item ranks by its best
  part). When the scored items do not fill the page, the next round reads
  the KNN and the items without vectors together, in one MULTI/EXEC, and
  the page is taken from that one snapshot.
- A query that embeds to the zero vector (no words) scores every item with
  vectors 0.0: they come newest first, as in InMemoryStore.

One query reaches at most the server's MAXSEARCHRESULTS results. A page
that would need results past that raises SearchLimitError rather than
coming back short. Documents that expire under a read are skipped, and the
round is read again (a few times at most) so the page does not come back
short for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from stores._base import PutOp, SearchItem
from stores._errors import SearchLimitError
from stores._namespaces import decode_namespace, has_prefix

from ._connection import Packed
from ._query import (
    Doc,
    decode_value,
    hit_doc,
    knn_command,
    namespace_of,
    newest_command,
    parse_hits,
    parse_search,
    stamp,
)
from ._ranking import rank_parts
from ._schema import PRIMARY_KINDS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from stores._base import Op, SearchOp
    from stores._filters import Filter

    from ._schema import RedisIndexSettings

_GROW: Final = 4
_HINTS: Final = 4096  # kinds of KNN whose next search starts wider, remembered
_MIN_WINDOW: Final = 64
_REREADS: Final = 3  # rounds read again when documents expired under the read

Command = tuple[Any, ...] | Packed


class _Row:
    """A hit: its fields; its value decoded and its score computed when asked for.

    A KNN reads more hits than the page keeps (one past it, more when ties
    cross its end): only the rows that are filtered or returned pay the
    JSON decoding and the score.
    """

    __slots__ = ("_scorer", "_value", "doc", "score")

    def __init__(
        self,
        doc: Doc,
        score: float | None,
        scorer: Callable[[float], float] | None = None,
    ) -> None:
        self.doc = doc
        self.score = score
        self._scorer = scorer  # from the hit's distance, when it is a KNN hit
        self._value: dict[str, Any] | None = None

    @property
    def value(self) -> dict[str, Any]:
        value = self._value
        if value is None:
            value = self._value = decode_value(self.doc[b"v"])
        return value

    def item(self) -> SearchItem:
        d = self.doc
        score = self.score
        if self._scorer is not None:
            score = self._scorer(float(d[b"d"]))
        return SearchItem(
            namespace=namespace_of(d[b"ns"]),
            key=d[b"k"].decode(),
            value=self.value,
            created_at=stamp(d[b"ca"]),
            updated_at=stamp(d[b"ua"]),
            score=score,
        )


class _Scored(msgspec.Struct, frozen=True):
    rows: list[_Row]  # best first, ties newest first; filtered; first end if exact
    complete: bool  # every scored candidate is among them
    total: int
    farthest: float = 0.0  # the largest distance the KNN returned


class WidenHints:
    """The k each kind of KNN search starts at next, when wider than its first.

    Ties at a page's end (common with a hashing embedder, where most memories
    share no word with the query) make a search read again wider: the next
    search with the same conditions and first k starts at the k the last one
    ended with. And a KNN that read every part of a namespace about as large
    as its first k (a user's few memories) starts the next one a part past
    what it read: one more memory put there since is still read at once,
    where the first k would end on a tie and read again. Only a starting
    point: a search still widens (or reads less) as it must. A store owns
    one; it remembers at most ``size`` kinds, forgetting the oldest.
    """

    __slots__ = ("_k", "_size")

    def __init__(self, size: int = _HINTS) -> None:
        self._k: dict[tuple[tuple[str, ...], int], int] = {}
        self._size = size

    def start(self, key: tuple[tuple[str, ...], int]) -> int:
        """Where a KNN of this kind (conditions, first k) starts."""
        return self._k.get(key, key[1])

    def remember(self, key: tuple[tuple[str, ...], int], start: int) -> None:
        """The next KNN of this kind starts at ``start``; at its first k if not wider."""
        if start > key[1]:
            if key not in self._k and len(self._k) >= self._size:
                del self._k[next(iter(self._k))]  # the oldest
            self._k[key] = start
        else:
            self._k.pop(key, None)


class SearchPlan:
    """One SearchOp, run over one or more round trips; each round gives commands, then replies."""

    def __init__(
        self,
        op: SearchOp,
        index: str,
        settings: RedisIndexSettings,
        conds: list[str],
        residual: Filter,
        vector: bytes | None,
        max_results: int,
        hints: WidenHints,
    ) -> None:
        self.op, self._index, self._settings = op, index, settings
        self._hints = hints
        self._conds, self._residual, self._vector = conds, residual, vector
        self._zero = vector is not None and vector == bytes(len(vector))
        self._cap = max_results
        self.end = op.offset + op.limit
        exact = not residual.conditions
        window = self.end if exact else max(_GROW * self.end, _MIN_WINDOW)
        self._window = min(window, max_results)
        # one part past the page shows whether a tie crosses its end
        multi = exact and settings.multi_part
        self._k = min(self._window * (2 if multi else 1) + 1, max_results)
        self._hint: tuple[tuple[str, ...], int] | None = None
        if vector is not None and not self._zero:
            self._hint = (tuple(conds), self._k)
            self._k = hints.start(self._hint)
        self._page: list[_Row] | None = [] if self.end == 0 else None
        self._both = False  # read the scored items and the others in one snapshot
        self._rereads = _REREADS

    @property
    def done(self) -> bool:
        """Whether the page is known."""
        return self._page is not None

    @property
    def may_widen(self) -> bool:
        """Whether the search may need another round (a query, or a filter applied here)."""
        return self._vector is not None or bool(self._residual.conditions)

    def result(self) -> list[SearchItem]:
        """The page, once done."""
        assert self._page is not None
        return [r.item() for r in self._page]

    def with_ttl(self) -> list[tuple[tuple[str, ...], str]]:
        """(namespace, key) of the page's items that have a TTL to refresh."""
        assert self._page is not None
        return [
            (decode_namespace(r.doc[b"ns"].decode()), r.doc[b"k"].decode())
            for r in self._page
            if b"t" in r.doc
        ]

    # -- commands ------------------------------------------------------------

    def commands(self) -> list[Command]:
        """The commands of the next round (none once done)."""
        if self._page is not None:
            return []
        if self._vector is None:
            return [self._newest(PRIMARY_KINDS)]
        if not self._both:
            return [self._scored()]
        return [("MULTI",), self._scored(), self._newest("pn"), ("EXEC",)]

    def _newest(self, kinds: str) -> tuple[Any, ...]:
        if self._vector is None and not self._residual.conditions:
            offset = min(self.op.offset, self._cap)  # the page itself
            count = max(0, min(self.op.limit, self._cap - offset))
        else:
            offset, count = 0, self._window
        return newest_command(self._index, self._conds, kinds, offset, count)

    def _scored(self) -> Command:
        if self._zero:  # every score is 0: the items with vectors, newest first
            return newest_command(self._index, self._conds, "pv", 0, self._window)
        assert self._vector is not None
        return knn_command(
            self._index, self._conds, self._vector, self._k, self._settings.ef_runtime
        )

    # -- replies -------------------------------------------------------------

    def feed(self, replies: list[Any]) -> None:
        """Take this round's replies; sets the page, or widens a window for another round."""
        if self._vector is None:
            self._feed_newest(replies[0])
        elif not self._both:
            self._feed_scored(replies[0])
        else:
            both = replies[3]
            if both is None:  # pragma: no cover - EXEC aborts only under WATCH
                return
            for reply in both:
                if isinstance(reply, Exception):
                    raise reply
            self._feed_both(both[0], both[1])

    def _reread(self, gone: int) -> bool:
        # Documents expired under the read: read the round again, a few times.
        if gone and self._rereads:
            self._rereads -= 1
            return True
        return False

    def _feed_newest(self, reply: list[Any]) -> None:
        total, docs, gone = parse_search(reply)
        if self._reread(gone):
            return
        rows = self._keep([_Row(d, None) for d in docs])
        if not self._residual.conditions:
            self._check_reach(min(total, self.end), "offset + limit")
            self._page = rows
        elif len(rows) >= self.end or total <= self._window:
            self._page = rows[self.op.offset : self.end]
        else:
            self._window = self._grow(self._window, total)

    def _scored_rows(self, reply: list[Any]) -> _Scored | None:
        """The scored items of a reply (filtered); None to read it again."""
        if self._zero:
            total, docs, gone = parse_search(reply)
            if self._reread(gone):
                return None
            rows = [_Row(d, 0.0) for d in docs]
            return _Scored(self._keep(rows), total <= self._window, total)
        total, hits, gone = parse_hits(reply)
        if self._reread(gone):
            return None
        distances = [float(h[1]) for h in hits]
        # Without a residual filter the page needs only its first ``end`` items.
        count = None if self._residual.conditions else self.end
        score = self._settings.score
        best = rank_parts(hits, distances, count)
        rows = self._keep([_Row(hit_doc(h), None, score) for h in best])
        farthest = max(distances, default=0.0)
        return _Scored(rows, len(hits) < self._k, total, farthest)

    def _fills(self, scored: _Scored) -> bool:
        """Whether the scored rows make the page, ties at its end broken newest
        first as in InMemoryStore: parts past the k read may tie the last row."""
        rows = scored.rows
        if len(rows) < self.end:
            return False
        if scored.complete or self._zero or self._k >= self._cap:
            return True  # past MAXSEARCHRESULTS, ties are broken as RediSearch did
        return float(rows[self.end - 1].doc[b"d"]) < scored.farthest

    def _feed_scored(self, reply: list[Any]) -> None:
        scored = self._scored_rows(reply)
        if scored is None:
            return
        if self._fills(scored):
            self._page = scored.rows[self.op.offset : self.end]
            self._remember(scored)
        elif not scored.complete:
            self._widen_scored(scored.total)
        else:  # every scored item is known and the page needs the others too
            self._both = True

    def _feed_both(self, scored_reply: list[Any], plain: list[Any]) -> None:
        scored = self._scored_rows(scored_reply)
        total, docs, gone = parse_search(plain)
        if scored is None or self._reread(gone):
            return
        if self._fills(scored):
            self._page = scored.rows[self.op.offset : self.end]
            self._remember(scored)
            return
        if not scored.complete:  # more scored items appeared since the last round
            self._widen_scored(scored.total)
            return
        rows = scored.rows
        rest = self._keep([_Row(d, None) for d in docs])
        if len(rows) + len(rest) >= self.end or total <= self._window:
            self._page = (rows + rest)[self.op.offset : self.end]
        else:
            self._window = self._grow(self._window, total)

    def _remember(self, scored: _Scored) -> None:
        # The KNN that made the page read ``scored.total`` parts with k = self._k.
        key = self._hint
        if key is None:
            return
        first, hits = key[1], scored.total
        start = self._k if self._k > first and hits >= first else first
        if scored.complete and hits + 2 > start:  # every part read, about k of them
            start = min(hits + 2, self._cap)
        self._hints.remember(key, start)

    def _widen_scored(self, total: int) -> None:
        if self._zero:
            self._window = self._grow(self._window, total)
        else:  # k parts came back: there may be more past them
            self._k = self._grow(self._k, self._k + 1)

    def _grow(self, size: int, total: int) -> int:
        # a window of candidates that did not fill the page, with more to read
        self._check_reach(min(total, size + 1), "its candidates")
        return min(size * _GROW, self._cap)

    def _check_reach(self, needed: int, what: str) -> None:
        if needed > self._cap:
            raise SearchLimitError(
                f"a search under {self.op.namespace_prefix!r} needs more than the "
                f"{self._cap:,} results one RediSearch query can reach "
                f"(MAXSEARCHRESULTS): {what} go past it. Declare the fields you "
                "filter on filterable (they are then matched inside RediSearch), "
                "narrow the namespace prefix or the offset, or raise the server's "
                "MAXSEARCHRESULTS"
            )

    def _keep(self, rows: list[_Row]) -> list[_Row]:
        if not self._residual.conditions:
            return rows
        return [r for r in rows if self._residual.matches(r.value)]


def admitted(ops: Sequence[Op], steps: Sequence[object], start: int) -> int:
    """How many of the batch's ops may be sent now (``start`` of them already are).

    A put or delete is held back while a search before it in the batch, under
    whose prefix it writes, is not done and may read again (a query, or a
    filter applied in Python): that search must not see a later op of its
    batch. Every op after a held-back one waits too, to keep the batch's
    order. Writes elsewhere (other users' namespaces, as in the store actor's
    batches) go out at once. A search without either reads its page in one
    command; only a document expiring under that read makes it read again
    (and that second read, a rare race with a TTL, may see later writes).
    """
    prefixes = [
        step.op.namespace_prefix
        for step in steps[:start]
        if isinstance(step, SearchPlan) and step.may_widen and not step.done
    ]
    end = start
    while end < len(ops):
        op, step = ops[end], steps[end]
        if isinstance(op, PutOp) and any(has_prefix(op.namespace, p) for p in prefixes):
            break
        if isinstance(step, SearchPlan) and step.may_widen and not step.done:
            prefixes.append(step.op.namespace_prefix)
        end += 1
    return end
