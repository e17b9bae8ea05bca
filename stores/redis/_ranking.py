"""How a KNN's hits rank as items: best part first, ties newest first.

RediSearch returns item parts (one document per embedded field path)
nearest first; an item ranks by its best part, and parts at the same
distance break newest-updated first, as in InMemoryStore. A KNN whose
page ends on a tie reads wider than the page (with a hashing embedder most
memories tie), so this runs per hit: it sorts with C-level keys and stops
once it has the items a page needs. Nothing here does I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._query import Hit


def rank_parts(hits: list[Hit], distances: list[float], count: int | None) -> list[Hit]:
    """Each item's best part among ``hits``, best first; the first ``count`` (all if None).

    ``distances[i]`` is ``hits[i]``'s distance. Parts at the same distance
    come newest-updated first; parts alike in both keep RediSearch's order
    (two stable sorts, the tie-break first).
    """
    n = len(hits)
    updated = [int(h[11]) for h in hits]  # ua (see parse_hits)
    order = sorted(range(n), key=updated.__getitem__, reverse=True)  # stable
    order.sort(key=distances.__getitem__)
    seen: set[tuple[bytes, bytes]] = set()
    best: list[Hit] = []
    limit = n if count is None else count
    for i in order:
        h = hits[i]
        ident = (h[3], h[5])  # ns, k
        if ident not in seen:
            seen.add(ident)
            best.append(h)
            if len(best) >= limit:
                break
    return best
