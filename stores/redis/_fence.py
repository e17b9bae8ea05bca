"""Lease-epoch fences on thread streams, for savers of a cluster.

A thread ``P:{T}`` has a fence ``P:{T}:fence`` (same hash tag, so same
Redis Cluster slot): the lease epoch of the member that activated it last.
An owner raises it before it loads the thread; a clustered commit is one
script that checks the fence still holds the committer's epoch and then
appends. A stale owner (paused past its lease) is refused, even if its
successor has not written the thread yet but has activated it.
"""

from __future__ import annotations

from typing import Final

from ._wire import Script

# KEYS: fence. ARGV: epoch, ttl ms -> 0 raised (or equal), else the higher epoch.
RAISE_FENCE: Final = Script(
    """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur > tonumber(ARGV[1]) then return cur end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
)

# KEYS: stream, fence, snapshot. ARGV: epoch, ttl ms, "1" may create, id,
# fields... -> the id. The TTL goes on all three keys.
FENCED_XADD: Final = Script(
    """
local cur = redis.call('GET', KEYS[2]) or '0'
if cur ~= ARGV[1] then
  return redis.error_reply('FENCED the thread is held under lease epoch ' .. cur)
end
local args = {KEYS[1]}
if ARGV[3] ~= '1' then args[#args + 1] = 'NOMKSTREAM' end
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.pcall('XADD', unpack(args))
if type(id) == 'table' and id.err then return id end
if id and ARGV[2] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end
return id
"""
)


def fence_key(thread_key: str) -> str:
    """The fence of a thread stream's key."""
    return thread_key + ":fence"
