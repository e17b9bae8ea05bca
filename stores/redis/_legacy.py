"""Threads written by the hash layout (before streams), converted in place.

That layout kept a thread in a hash ``P:{T}`` (``v`` the latest version,
``c:<n>`` checkpoints, ``s`` the latest save, ``r``/``run`` a pending run)
and a list ``P:{T}:rec`` of the pending run's records. The first command
of the stream layout on such a key fails with WRONGTYPE; the saver then
runs ``MIGRATE`` once, which rewrites both keys as the thread's stream
atomically (history, save, pending run, records and TTL kept), and sends
the command again.
"""

from __future__ import annotations

from typing import Final

from ._connection import Script

MIGRATE: Final = Script(
    """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local flat = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
local ttl = redis.call('PTTL', KEYS[1])
local records = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
local v = tonumber(f['v'] or '0')
for n = 1, v do
  local c = f['c:' .. n]
  if c then
    if n < v then
      redis.call('XADD', KEYS[1], n .. '-0', 'c', c)
    elseif f['s'] then
      redis.call('XADD', KEYS[1], n .. '-0', 'c', c, 's', f['s'])
    else  -- the layout before the latest save had its own field
      redis.call('XADD', KEYS[1], n .. '-0', 'c', c, 'o', '1')
    end
  end
end
if f['run'] then
  redis.call('XADD', KEYS[1], v .. '-1', 'r', f['r'], 'run', f['run'])
  for i, rec in ipairs(records) do
    redis.call('XADD', KEYS[1], v .. '-' .. (i + 1), 'r', f['r'], 't', rec)
  end
end
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"""
)
