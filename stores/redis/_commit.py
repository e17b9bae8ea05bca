"""A commit of ``RedisSaver``: one fenced XADD of the checkpoint, tail or whole.

The checkpoint entry goes at ``version-0``, one above the version the
commit expects, so Redis refuses it once anyone else committed. The save is
stored as the tail the turn appended when the saver vouches for the
previous one (``_streams``); every ``snapshot_every`` tails the same
script also writes the whole save as the thread's snapshot (``_snapshots``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from stores._checkpoint import decode_checkpoint, encode_record
from stores._errors import CheckpointConflictError, StoreUnavailableError

from ._appends import split_appended
from ._entries import parse_entries
from ._pipeline import Reconnected
from ._streams import Stale

if TYPE_CHECKING:
    from stores._checkpoint import Checkpoint

    from ._streams import Seen, ThreadStreams

_WHAT = "committing a checkpoint"


async def commit_checkpoint(
    streams: ThreadStreams,
    thread_id: str,
    key: str,
    checkpoint: Checkpoint,
    *,
    expected_version: int,
    fence: int | None,
    snapshot_every: int,
) -> None:
    """Store ``checkpoint`` (checked by the caller) as the latest of stream ``key``.

    Raises:
        CheckpointConflictError: (writing nothing) if the latest version
            is not ``expected_version``.
        FencedError: (writing nothing) if the fence moved past ``fence``.
        StoreUnavailableError: if Redis fails, or keeps reconnecting.
    """
    head = ("c", encode_record(msgspec.structs.replace(checkpoint, save=b"")))
    entry_id = f"{checkpoint.version}-0"
    for _ in range(3):  # another round only after a reconnect
        known = streams.vouched(key)
        base: Checkpoint | None = None
        if known is None or known.version != expected_version:
            # Not seen at this version since the last (re)connect: read the
            # newest entry, so that a commit from a version the thread never
            # reached (say, after a restarted Redis lost writes) is refused;
            # and store the save whole, since its base was not vouched for.
            streams.forget(key)
            known = await streams.top(key)
            if known.version != expected_version:
                if await _already_committed(streams, key, checkpoint):
                    return
                raise _conflict(thread_id, known.version, expected_version)
        else:
            base = known.latest
        body, chain, snapshot = _body(known, base, checkpoint, snapshot_every)
        try:
            seen = await streams.xadd(
                _WHAT,
                key,
                entry_id,
                head + body,
                create=expected_version == 0,
                # it leans on what was read: not across a reconnect
                epoch=known.epoch,
                fence=fence,
                snapshot=snapshot,
            )
        except Reconnected:
            streams.forget(key)  # read again, and store the save whole
            continue
        except Stale:
            streams.forget(key)
            if await _already_committed(streams, key, checkpoint):
                return
            version = (await streams.top(key)).version
            raise _conflict(thread_id, version, expected_version) from None
        streams.remember(key, entry_id, seen, latest=checkpoint, chain=chain)
        return
    raise StoreUnavailableError(
        f"committing a checkpoint of thread {thread_id!r} failed: the connection "
        "to Redis kept reconnecting; check the server and retry the run"
    )


def _body(
    known: Seen, base: Checkpoint | None, checkpoint: Checkpoint, snapshot_every: int
) -> tuple[tuple[str | bytes | int, ...], int, tuple[str, bytes] | None]:
    # The save's fields (whole, or the tail appended to ``base``), the chain
    # of tails it makes, and the snapshot to write with it (when due).
    tail = None
    if base is not None and base.checkpoint_id == checkpoint.parent_id:
        tail = split_appended(base.save, checkpoint.save)
    if tail is None:
        return ("s", checkpoint.save), 0, None
    body = ("d", tail[1], "n", tail[0])
    chain = known.chain + 1
    if chain >= snapshot_every:  # due: the same script writes it
        return body, 0, (checkpoint.checkpoint_id, checkpoint.save)
    return body, chain, None


def _conflict(thread_id: str, version: int, expected: int) -> CheckpointConflictError:
    return CheckpointConflictError(
        f"thread {thread_id!r} is at version {version}, not {expected}: a newer "
        "writer committed first; reload the thread and retry the run"
    )


async def _already_committed(
    streams: ThreadStreams, key: str, checkpoint: Checkpoint
) -> bool:
    # A retried commit (its reply was lost) finds itself the newest checkpoint.
    version = checkpoint.version
    if (await streams.top(key)).version != version:
        return False
    found = parse_entries(
        await streams.send(_WHAT, ("XRANGE", key, f"{version}-0", f"{version}-0"))
    )
    return bool(found) and (
        decode_checkpoint(found[0].fields[b"c"]).checkpoint_id
        == checkpoint.checkpoint_id
    )
