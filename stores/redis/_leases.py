"""Membership and shard leases of a cluster, in two Redis hashes.

``P:members`` maps each member to a heartbeat counter; ``P:leases`` maps
each shard to ``owner|epoch|seq``. A member's tick (one script) bumps its
counter and the ``seq`` of every lease it still holds under the epoch it
took it with, and returns both tables: nobody compares clocks. An
observer calls a member or lease dead when it has seen the same value for
a lease time on its own monotonic clock; the holder stops serving earlier,
at a deadline measured from before it sent the renewal.

Epochs come from one counter (``P:epoch``, INCR), so each take of a shard
carries a fencing token higher than every earlier one. Takes and releases
are compare-and-set scripts on the value the caller saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._cluster_io import call
from ._wire import Script

if TYPE_CHECKING:
    from ._connection import RedisConnection

# KEYS: members, leases, boot. ARGV: member, beat ("1" bumps the heartbeat),
# boot token, then shard, epoch pairs held
# -> {lost shards, members flat, leases flat, boot token}.
TICK: Final = Script(
    """
local boot = redis.call('GET', KEYS[3])
if not boot then
  boot = ARGV[3]
  redis.call('SET', KEYS[3], boot)
end
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], ARGV[1], 1) end
local lost = {}
for i = 4, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  local owner, epoch, seq
  if cur then owner, epoch, seq = string.match(cur, '^(.*)|(%d+)|(%d+)$') end
  if owner == ARGV[1] and epoch == ARGV[i + 1] then
    redis.call('HSET', KEYS[2], ARGV[i], owner .. '|' .. epoch .. '|' .. (tonumber(seq) + 1))
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return {lost, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), boot}
"""
)

# KEYS: leases, epoch counter. ARGV: shard, value seen ('' for none), member -> epoch or 0.
ACQUIRE: Final = Script(
    """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '|' .. epoch .. '|0')
return epoch
"""
)

# KEYS: leases. ARGV: shard, member, epoch -> 1 released, 0 not held.
RELEASE: Final = Script(
    """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.match(cur, '^(.*|%d+)|') == ARGV[2] .. '|' .. ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
)

# KEYS: members. ARGV: member, counter seen -> 1 dropped, 0 it beat since.
DROP_MEMBER: Final = Script(
    """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
)

SCRIPTS: Final = (TICK, ACQUIRE, RELEASE, DROP_MEMBER)

Lease = tuple[str, int, int]
"""A lease as stored: owner, epoch, renewal count."""


def _pairs(flat: list[bytes]) -> dict[str, bytes]:
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def parse_lease(value: bytes) -> Lease:
    """``owner|epoch|seq`` as a tuple."""
    owner, epoch, seq = value.decode().rsplit("|", 2)
    return owner, int(epoch), int(seq)


class LeaseTable:
    """The members and shard leases of one cluster (``prefix``) on one Redis.

    Every method is one round trip and raises the transport's errors (the
    runtime's cluster loop reports and retries them).
    """

    def __init__(self, conn: RedisConnection, prefix: str) -> None:
        self.conn = conn
        self.members_key = f"{prefix}:members"
        self.leases_key = f"{prefix}:leases"
        self.epoch_key = f"{prefix}:epoch"
        self.boot_key = f"{prefix}:boot"

    async def tick(
        self, member: str, held: dict[int, int], *, beat: bool, boot: str
    ) -> tuple[list[int], dict[str, bytes], dict[int, bytes], str]:
        """Heartbeat and renew ``held`` (shard -> epoch).

        Returns the lost shards, the members, the leases, and the boot token
        (``boot`` unless another was set since Redis last lost its data).
        """
        args: list[str] = [member, "1" if beat else "0", boot]
        for shard, epoch in held.items():
            args += (str(shard), str(epoch))
        lost, members, leases, found = await call(
            self.conn,
            *TICK.command((self.members_key, self.leases_key, self.boot_key), args),
            scripts=SCRIPTS,
        )
        return (
            [int(s) for s in lost],
            _pairs(members),
            {int(k): v for k, v in _pairs(leases).items()},
            found.decode(),
        )

    async def acquire(self, shard: int, seen: bytes | None, member: str) -> int | None:
        """Take ``shard`` if its lease is still ``seen`` (None: free); the new epoch."""
        epoch = await call(
            self.conn,
            *ACQUIRE.command(
                (self.leases_key, self.epoch_key),
                (str(shard), seen or b"", member),
            ),
            scripts=SCRIPTS,
        )
        return int(epoch) or None

    async def release(self, shard: int, member: str, epoch: int) -> bool:
        """Give ``shard`` up if still held under ``epoch``."""
        done = await call(
            self.conn,
            *RELEASE.command((self.leases_key,), (str(shard), member, str(epoch))),
            scripts=SCRIPTS,
        )
        return bool(done)

    async def leave(self, member: str) -> None:
        """Remove ``member`` from the members (its leases stay until released)."""
        await call(self.conn, "HDEL", self.members_key, member)

    async def drop_member(self, member: str, seen: bytes) -> bool:
        """Remove a member seen dead, if its counter is still ``seen``."""
        done = await call(
            self.conn,
            *DROP_MEMBER.command((self.members_key,), (member, seen)),
            scripts=SCRIPTS,
        )
        return bool(done)
