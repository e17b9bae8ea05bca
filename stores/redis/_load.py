"""How ``RedisSaver`` reads a thread back: its newest entries, then a snapshot.

A load is one XREVRANGE of the newest ``FIRST_PAGE`` entries; a thread
whose latest save was stored whole among them (or that is short) needs no
more. Otherwise one ``REST`` script reads the thread's snapshot and the
entries down to it (see ``_snapshots``): at most one snapshot plus fewer
than ``snapshot_every`` appended tails, two round trips in all (three when
the snapshot's save is too long to come back through Lua). A thread
without a snapshot (written before snapshots, or a chain not yet that long)
reads on in growing pages until a whole save, as it always did. If a
commit replaces the snapshot between those reads, the load starts over
(at most ``_ATTEMPTS`` times, then it reads on without the snapshot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._entries import Entry, Top, parse_entries, state_of
from ._snapshots import INLINE_SAVE_BYTES, REST, Snapshot, snapshot_key
from ._streams import FIRST_PAGE, LOAD_TTL

if TYPE_CHECKING:
    from stores._checkpoint import ThreadState

    from ._streams import ThreadStreams

_WHAT = "loading a thread"
_ATTEMPTS = 3


class _Replaced(Exception):
    """The snapshot was replaced between the two reads of a long save."""


async def load_thread(
    streams: ThreadStreams,
    thread_id: str,
    key: str,
    *,
    ttl_ms: str,
    snapshot_every: int,
) -> ThreadState:
    """The thread's state; remembers its newest entry and latest save in ``streams``.

    ``ttl_ms`` ("0": none) refreshes the thread's TTL.

    Raises:
        CorruptCheckpointError: if stored bytes fail to decode.
        StoreUnavailableError: if Redis cannot be reached.
    """
    for attempt in range(_ATTEMPTS + 1):
        try:
            return await _load(
                streams, thread_id, key, ttl_ms, snapshot_every, attempt < _ATTEMPTS
            )
        except _Replaced:
            continue
    raise AssertionError("unreachable: the last attempt reads no snapshot")


async def _load(
    streams: ThreadStreams,
    thread_id: str,
    key: str,
    ttl_ms: str,
    snapshot_every: int,
    snapshots: bool,
) -> ThreadState:
    if ttl_ms != "0":
        command = LOAD_TTL.command((key, snapshot_key(key)), (ttl_ms, FIRST_PAGE))
    else:
        command = ("XREVRANGE", key, "+", "-", "COUNT", FIRST_PAGE)
    reply, seen = await streams.send_seen(_WHAT, command)
    entries = parse_entries(reply)
    found = state_of(thread_id, entries, exhausted=len(entries) < FIRST_PAGE)
    if found is None:  # a chain of tails: the snapshot, and what came after it
        found, seen_rest = await _read_on(
            streams,
            thread_id,
            key,
            entries,
            4 * snapshot_every + FIRST_PAGE,
            snapshots=snapshots,
        )
        if seen_rest != seen:  # read across a reconnect: vouch for nothing
            streams.forget(key)
            return found[0]
    state, top = found
    streams.set_top(key, top, seen, state.latest)
    return state


async def _rest(
    streams: ThreadStreams, key: str, end: str, count: int
) -> tuple[Snapshot | None, list[Entry], int]:
    # The snapshot (save included) and the entries below ``end`` down to it,
    # or no snapshot and the ``count`` entries below ``end``; the connection
    # count (-1: the reads straddled a reconnect).
    reply, seen = await streams.send_seen(
        _WHAT,
        REST.command((key, snapshot_key(key)), (end, count, INLINE_SAVE_BYTES)),
    )
    snapshot = Snapshot.of(reply)
    if snapshot is not None and snapshot.save is None:  # too long for Lua: read it
        whole, seen_whole = await streams.send_seen(_WHAT, snapshot.whole(key))
        snapshot = snapshot.completed(whole)
        if snapshot is None:
            raise _Replaced
        if seen_whole != seen:
            seen = -1
    return snapshot, parse_entries(reply[3]), seen


async def _read_on(
    streams: ThreadStreams,
    thread_id: str,
    key: str,
    entries: list[Entry],
    count: int,
    *,
    snapshots: bool,
) -> tuple[tuple[ThreadState, Top], int]:
    # The state from ``entries`` (newest first) and older ones, and the
    # connection count of the reads (-1 if they straddled a reconnect).
    last = entries[-1]
    end = f"({last.version}-{last.seq}"
    if snapshots:
        snapshot, rest, seen = await _rest(streams, key, end, count)
    else:
        page, seen = await streams.send_seen(
            _WHAT, ("XREVRANGE", key, end, "-", "COUNT", count)
        )
        snapshot, rest = None, parse_entries(page)
    entries += rest
    matched = snapshot is not None and snapshot.stand_in(entries)
    # without a snapshot the range ended at the stream's start or at count
    exhausted = snapshot is None and len(rest) < count
    while True:
        found = state_of(thread_id, entries, exhausted=exhausted)
        if found is not None:
            return found, seen
        # no snapshot (or one that is not this stream's): page on, growing
        last, count = entries[-1], count * 4
        page, seen_page = await streams.send_seen(
            _WHAT,
            ("XREVRANGE", key, f"({last.version}-{last.seq}", "-", "COUNT", count),
        )
        if seen_page != seen:
            seen = -1
        rest = parse_entries(page)
        entries += rest
        exhausted = len(rest) < count
        if snapshot is not None and not matched:
            matched = snapshot.stand_in(entries)
