"""Snapshots: what bounds the chain of appended saves a load reads.

A conversation's commits store only what each turn appended (``_appends``),
so a thread's latest save is rebuilt from the last whole save and every
tail after it. Every ``snapshot_every`` appended tails, the commit that is
due also writes the whole save to the thread's snapshot key ``P:{T}:snap``
(same hash tag, so same cluster slot), in the **same script** as its XADD:
the snapshot exists exactly when its entry does, and a refused commit
(a conflict, a fence) writes neither. The stream keeps the tail, so the
history is unchanged; the key holds one snapshot, overwritten by the next.

A load that does not find a whole save among the newest entries reads the
snapshot and the entries down to it in one script (``REST``); the snapshot
stands in for the save of its entry (matched by entry id and checkpoint
id, so a leftover key from an older stream is ignored). A save longer than
``INLINE_SAVE_BYTES`` is left out of the script's reply and read by a
plain HMGET (one more round trip: Lua would copy it twice more), checked to
be of the same snapshot. A thread written before snapshots has no key: it
loads by reading on, as it always did, and its next commit writes one.

Fields of the snapshot hash: ``v`` the entry id (``version-0``), ``i`` the
checkpoint id, ``s`` the whole save.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from stores._checkpoint import decode_checkpoint

from ._entries import Entry
from ._wire import Script

SNAPSHOT_EVERY: Final = 128
"""Default of ``RedisSaver(snapshot_every=...)``: appended tails between snapshots
(measured in ``bench/NOTES.md``, "Snapshots")."""

# KEYS: stream, snapshot, fence. ARGV: lease epoch ('' unfenced), ttl ms,
# "1" may create, checkpoint id, whole save, entry id, fields... -> the id,
# nil (NOMKSTREAM: no stream), or the XADD's error (the id is not above the top).
SNAPSHOT_XADD: Final = Script(
    """
if ARGV[1] ~= '' then
  local cur = redis.call('GET', KEYS[3]) or '0'
  if cur ~= ARGV[1] then
    return redis.error_reply('FENCED the thread is held under lease epoch ' .. cur)
  end
end
local args = {KEYS[1]}
if ARGV[3] ~= '1' then args[#args + 1] = 'NOMKSTREAM' end
for i = 6, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.pcall('XADD', unpack(args))
if type(id) == 'table' and id.err then return id end
if not id then return id end
redis.call('HSET', KEYS[2], 'v', id, 'i', ARGV[4], 's', ARGV[5])
if ARGV[2] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  if ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
end
return id
"""
)

INLINE_SAVE_BYTES: Final = 128 * 1024
"""A snapshot's save up to this size comes back in the ``REST`` script's reply;
a larger one is read by a plain HMGET (a Lua reply copies it twice more:
about 2 ms per MB, against one round trip; ``bench/NOTES.md``, "Activation")."""

# KEYS: stream, snapshot. ARGV: exclusive end id ("(v-s"), count, inline bytes
# -> {entry id, checkpoint id, save, entries} with the entries from the end
# down to the snapshot's entry (newest first) and the save false if longer
# than the inline bytes; or {false, false, false, entries}: the ``count``
# entries below the end (no snapshot).
REST: Final = Script(
    """
local snap = redis.call('HMGET', KEYS[2], 'v', 'i')
if not snap[1] then
  return {false, false, false,
          redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])}
end
local save = false
if redis.call('HSTRLEN', KEYS[2], 's') <= tonumber(ARGV[3]) then
  save = redis.call('HGET', KEYS[2], 's')
end
return {snap[1], snap[2], save,
        redis.call('XREVRANGE', KEYS[1], ARGV[1], snap[1], 'COUNT', ARGV[2])}
"""
)

SCRIPTS: Final = (SNAPSHOT_XADD, REST)


def snapshot_key(thread_key: str) -> str:
    """The snapshot key of a thread stream's key."""
    return thread_key + ":snap"


def check_snapshot_every(snapshot_every: object) -> int:
    """``snapshot_every`` as given, if it is an int of at least 2.

    Raises:
        ValueError: for anything else.
    """
    if type(snapshot_every) is not int or snapshot_every < 2:
        raise ValueError(
            "snapshot_every must be an int of at least 2 (appended saves between "
            f"snapshots), got {snapshot_every!r}"
        )
    return snapshot_every


class Snapshot(msgspec.Struct, frozen=True):
    """A thread's snapshot as a ``REST`` reply gave it."""

    version: int
    checkpoint_id: str
    save: bytes | None
    """None: too long to come with the reply (read it: ``whole``, ``completed``)."""

    @classmethod
    def of(cls, reply: list[Any]) -> Snapshot | None:
        """The snapshot of a ``REST`` reply, None if it holds none."""
        entry_id, checkpoint_id, save = reply[0], reply[1], reply[2]
        if entry_id is None:
            return None
        version = bytes(entry_id).partition(b"-")[0]
        return cls(
            int(version),
            bytes(checkpoint_id).decode(),
            None if save is None else bytes(save),
        )

    def whole(self, thread_key: str) -> tuple[str, ...]:
        """The command that reads this snapshot with its save (reply: ``completed``)."""
        return ("HMGET", snapshot_key(thread_key), "v", "i", "s")

    def completed(self, reply: list[Any]) -> Snapshot | None:
        """This snapshot with the save of a ``whole`` reply; None if the key now
        holds another one (a commit replaced it since the ``REST`` read)."""
        entry_id, checkpoint_id, save = reply
        if (
            entry_id is None
            or save is None
            or bytes(entry_id) != f"{self.version}-0".encode()
            or bytes(checkpoint_id).decode() != self.checkpoint_id
        ):
            return None
        return msgspec.structs.replace(self, save=bytes(save))

    def stand_in(self, entries: list[Entry]) -> bool:
        """Give the snapshot's entry among ``entries`` the whole save (field ``s``).

        False if its entry is not among them, or holds another checkpoint
        (a key outliving its stream): ``entries`` are left as they were.
        """
        assert self.save is not None, "read the save first (completed)"
        for i in range(len(entries) - 1, -1, -1):
            entry = entries[i]
            if entry.version == self.version and entry.seq == 0:
                head = entry.fields.get(b"c")
                if (
                    head is None
                    or decode_checkpoint(head).checkpoint_id != self.checkpoint_id
                ):
                    return False
                entries[i] = Entry(
                    entry.version, entry.seq, {**entry.fields, b"s": self.save}
                )
                return True
        return False
