"""A thread's history on Redis: ``alist`` and ``aget`` of ``RedisSaver``.

Every checkpoint stays in the thread's stream (entry ``v-0``), snapshots
or not (see ``_snapshots``): history reads scan the stream, newest first,
and return checkpoints without their saves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._entries import checkpoints_of, parse_entries

if TYPE_CHECKING:
    from stores._checkpoint import Checkpoint

    from ._streams import ThreadStreams


async def list_checkpoints(
    streams: ThreadStreams, key: str, *, limit: int | None, before: int | None
) -> list[Checkpoint]:
    """Checkpoints of stream ``key`` newest first; ``before`` keeps versions below it.

    One round trip for the whole history; with a ``limit``, a read of
    about that many entries (more only where task records sit between
    checkpoints).

    Raises:
        ValueError: for a negative or non-int ``limit``.
        CorruptCheckpointError: if stored bytes fail to decode.
    """
    if limit is not None and (type(limit) is not int or limit < 0):  # user input
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    if limit == 0:
        return []
    end = "+" if before is None else f"({int(before)}-0"
    found: list[Checkpoint] = []
    count = None if limit is None else limit + 8
    while True:
        page = () if count is None else ("COUNT", count)
        entries = parse_entries(
            await streams.send(
                "listing checkpoints", ("XREVRANGE", key, end, "-", *page)
            )
        )
        found += checkpoints_of(entries)
        if limit is None or count is None or len(entries) < count:
            return found if limit is None else found[:limit]
        if len(found) >= limit:
            return found[:limit]
        end, count = f"({entries[-1].version}-{entries[-1].seq}", count * 4


async def get_checkpoint(
    streams: ThreadStreams, key: str, checkpoint_id: str
) -> Checkpoint | None:
    """One checkpoint of stream ``key`` by id (without its save), or None.

    Raises:
        CorruptCheckpointError: if stored bytes fail to decode.
    """
    reply = await streams.send("reading a checkpoint", ("XREVRANGE", key, "+", "-"))
    needle = checkpoint_id.encode()
    candidates = [
        e for e in parse_entries(reply) if e.seq == 0 and needle in e.fields[b"c"]
    ]
    return next(
        (c for c in checkpoints_of(candidates) if c.checkpoint_id == checkpoint_id),
        None,
    )
