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
    from ._query import Doc


def rank_parts(hits: list[Doc], distances: list[float], count: int | None) -> list[Doc]:
    """Each item's best part among ``hits``, best first; the first ``count`` (all if None).

    ``distances[i]`` is ``hits[i]``'s distance. Parts at the same distance
    come newest-updated first; parts alike in both keep RediSearch's order
    (two stable sorts, the tie-break first).
    """
    n = len(hits)
    updated = [int(d[b"ua"]) for d in hits]
    order = sorted(range(n), key=updated.__getitem__, reverse=True)  # stable
    order.sort(key=distances.__getitem__)
    seen: set[tuple[bytes, bytes]] = set()
    best: list[Doc] = []
    limit = n if count is None else count
    for i in order:
        d = hits[i]
        ident = (d[b"ns"], d[b"k"])
        if ident not in seen:
            seen.add(ident)
            best.append(d)
            if len(best) >= limit:
                break
    return best
