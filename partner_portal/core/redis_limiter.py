"""A sliding-window rate limiter shared through Redis by every worker.

`partner_portal.defender` keeps one client under Microsoft's per-tenant limits inside
one process; with several workers (or consecutive syncs in different processes) the
calls of all of them must be counted together, which this limiter does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

import redis

# Atomically: drop calls older than the longest window, and either record this call
# (returning 0) or return how long until the oldest call in a full window leaves it.
_ACQUIRE = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local member = ARGV[2]
local horizon = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - horizon)
local wait = 0
for i = 4, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local window = tonumber(ARGV[i + 1])
  local count = redis.call('ZCOUNT', key, now - window, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', key, now - window, '+inf',
                              'WITHSCORES', 'LIMIT', count - limit, 1)
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait <= 0 then
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, math.ceil(horizon) + 1)
end
return tostring(wait)
"""


class RedisRateLimiter:
    """`partner_portal.defender.Limiter` over Redis: `acquire` blocks until a call may go."""

    def __init__(
        self,
        client: redis.Redis,
        limits: Sequence[tuple[int, float]],
        *,
        prefix: str = "portal:ratelimit:",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.limits = tuple(limits)
        self.horizon = max(window for _, window in self.limits)
        self.prefix = prefix
        self._sleep = sleep
        self._clock = clock
        self._script = client.register_script(_ACQUIRE)

    def acquire(self, key: str) -> float:
        """Wait until a call for `key` is allowed; return the seconds waited."""
        waited = 0.0
        flat = [value for pair in self.limits for value in pair]
        while True:
            member = uuid.uuid4().hex
            answer = self._script(
                keys=[self.prefix + key],
                args=[self._clock(), member, self.horizon, *flat],
            )
            wait = float(answer.decode() if isinstance(answer, bytes) else answer)
            if wait <= 0:
                return waited
            pause = min(wait + 0.01, self.horizon)
            self._sleep(pause)
            waited += pause

    def recent_calls(self, key: str, window: float = 60.0) -> int:
        now = self._clock()
        return int(self.client.zcount(self.prefix + key, now - window, "+inf"))
