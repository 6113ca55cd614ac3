"""``redis://``: routing state shared by every worker using one Redis database.

One hash per (gateway, model) under ``lgr:health:<key>``. :meth:`claim` and :meth:`record` are
Lua scripts (atomic on the server) that apply the same rules as
:func:`langgraph_routing._health.claim` / :func:`~langgraph_routing._health.record`; every
write refreshes the key's expiry. Needs the ``redis`` client: ``pip install
'langgraph-routing[shared]'``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from .._health import ModelHealth
from .._specs import HealthSpec
from ._base import Clock, SharedRoutingState, expiry_s

PREFIX = "lgr:health:"

_LOAD = """
local t = {}
local raw = redis.call('HGETALL', KEYS[1])
for i = 1, #raw, 2 do t[raw[i]] = raw[i + 1] end
local function n(name) return tonumber(t[name] or '0') or 0 end
local function s(name, v) t[name] = v end
"""

_SAVE = """
local out = {}
t['expires_at'] = nil
for k, v in pairs(t) do
  out[#out + 1] = k
  if type(v) == 'number' then out[#out + 1] = string.format('%.17g', v) else out[#out + 1] = v end
end
out[#out + 1] = 'expires_at'
out[#out + 1] = string.format('%.17g', now + tonumber(ARGV[#ARGV]))
redis.call('HSET', KEYS[1], unpack(out))
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[#ARGV]) * 1000))
"""

# ARGV: now, cooldown_s, half_open_probes, ttl_s
CLAIM = (
    _LOAD
    + """
local now, cooldown, max_probes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if n('expires_at') ~= 0 and now >= n('expires_at') then t = {} end
local opened = n('opened_at')
if opened == 0 then return 1 end
if now < opened + cooldown then return 0 end
local probes = n('probes')
if now - n('probe_at') >= math.max(cooldown, 1.0) then probes = 0 end
if probes >= max_probes then return 0 end
s('probes', probes + 1)
s('probe_at', now)
"""
    + _SAVE
    + "\nreturn 1\n"
)

# ARGV: ok, now, threshold, rate, min_calls, window_s, cooldown_s, alpha, total_s, ttft_s,
#       window label, ttl_s  (total/ttft < 0: not measured)
RECORD = (
    _LOAD
    + """
local ok, now = ARGV[1] == '1', tonumber(ARGV[2])
if n('expires_at') ~= 0 and now >= n('expires_at') then t = {} end
local threshold, rate, min_calls = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local window, cooldown, alpha = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local total, ttft, label = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
if n('win_start') == 0 or now - n('win_start') >= window then
  s('win_start', now); s('win_calls', 0); s('win_fails', 0)
end
local calls = n('win_calls') + 1
s('win_calls', calls)
if ok then
  s('fails_in_row', 0); s('last_ok_at', now)
  if total >= 0 then
    s('samples', n('samples') + 1)
    if n('ewma_total_s') == 0 then s('ewma_total_s', total)
    else s('ewma_total_s', alpha * total + (1 - alpha) * n('ewma_total_s')) end
  end
  if ttft >= 0 then
    if n('ewma_ttft_s') == 0 then s('ewma_ttft_s', ttft)
    else s('ewma_ttft_s', alpha * ttft + (1 - alpha) * n('ewma_ttft_s')) end
  end
  if n('opened_at') ~= 0 then
    s('opened_at', 0); s('why', ''); s('probes', 0)
    s('win_start', now); s('win_calls', 1); s('win_fails', 0)
  end
else
  local fails, in_row = n('win_fails') + 1, n('fails_in_row') + 1
  s('win_fails', fails); s('fails_in_row', in_row); s('last_fail_at', now)
  local opened = n('opened_at')
  if opened ~= 0 then
    if now >= opened + cooldown then
      s('opened_at', now); s('probes', 0); s('opens', n('opens') + 1)
      s('why', 'half-open probe failed')
    end
  else
    local why = ''
    if in_row >= threshold then
      why = string.format('%d consecutive failures', in_row)
    elseif calls >= min_calls and fails >= rate * calls then
      why = string.format('%d/%d calls failed in %ss', fails, calls, label)
    end
    if why ~= '' then
      s('opened_at', now); s('probes', 0); s('opens', n('opens') + 1); s('why', why)
    end
  end
end
"""
    + _SAVE
    + "\nreturn out\n"
)


BUDGET = "lgr:budget:"

# KEYS: budget hash, reservations hash; ARGV: now, limit, want, floor, ttl_s, period_s (0: none), id
RESERVE = """
local now, limit, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local floor, ttl, period, id = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local function f(v) return string.format('%.17g', v) end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local pstart = tonumber(redis.call('HGET', KEYS[1], 'period_start') or '0')
if pstart == 0 or (period > 0 and now - pstart >= period) then
  if pstart ~= 0 then spent = 0 end
  pstart = now
  redis.call('HSET', KEYS[1], 'spent', f(spent), 'period_start', f(pstart))
end
local held = 0
local res = redis.call('HGETALL', KEYS[2])
for i = 1, #res, 2 do
  local sep = string.find(res[i + 1], ':', 1, true)
  local amount = tonumber(string.sub(res[i + 1], 1, sep - 1))
  if tonumber(string.sub(res[i + 1], sep + 1)) <= now then
    redis.call('HDEL', KEYS[2], res[i])
  else
    held = held + amount
  end
end
local left = limit - spent - held
local granted = 0
if want <= left then granted = want elseif floor <= left then granted = left end
if granted > 0 then
  redis.call('HSET', KEYS[2], id, f(granted) .. ':' .. f(now + ttl))
  redis.call('PEXPIRE', KEYS[2], math.floor(ttl * 1000) + 1000)
end
if period > 0 then redis.call('PEXPIRE', KEYS[1], math.floor(period * 2000)) end
return {f(granted), f(left)}
"""

# KEYS: budget hash, reservations hash; ARGV: id, cost
SETTLE = """
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[2])
return 1
"""


def _num(value: float) -> str:
    return repr(float(value))


class RedisRoutingState(SharedRoutingState):
    """Routing state in Redis (``redis://host:port/db``)."""

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        super().__init__(clock)
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "redis:// routing state needs the redis client: "
                "pip install 'langgraph-routing[shared]'"
            ) from exc
        self.url = url
        self._client: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._claim = self._client.register_script(CLAIM)
        self._record = self._client.register_script(RECORD)
        self._reserve = self._client.register_script(RESERVE)
        self._settle = self._client.register_script(SETTLE)

    def snapshots(self, keys: Sequence[str]) -> dict[str, ModelHealth]:
        if not keys:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(PREFIX + key)
        now = self.clock()
        out: dict[str, ModelHealth] = {}
        for key, raw in zip(keys, pipe.execute(), strict=True):
            values = {k.decode(): v for k, v in raw.items()}
            if values and float(values.get("expires_at", 0)) > now:  # the states' clock rules
                out[key] = ModelHealth.from_mapping(values)
        return out

    def claim(self, key: str, spec: HealthSpec) -> bool:
        args = [
            _num(self.clock()),
            _num(spec.cooldown_s),
            str(spec.half_open_probes),
            _num(expiry_s(spec)),
        ]
        return bool(self._claim(keys=[PREFIX + key], args=args))

    def record(
        self,
        key: str,
        spec: HealthSpec,
        ok: bool,
        total_s: float | None = None,
        ttft_s: float | None = None,
    ) -> ModelHealth:
        args = [
            "1" if ok else "0",
            _num(self.clock()),
            str(spec.failure_threshold),
            _num(spec.failure_rate),
            str(spec.min_calls),
            _num(spec.window_s),
            _num(spec.cooldown_s),
            _num(spec.latency_alpha),
            _num(-1 if total_s is None else total_s),
            _num(-1 if ttft_s is None else ttft_s),
            f"{spec.window_s:g}",
            _num(expiry_s(spec)),
        ]
        flat = self._record(keys=[PREFIX + key], args=args)
        return ModelHealth.from_mapping(
            {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}
        )

    def reserve(
        self,
        scope: str,
        limit_usd: float,
        want_usd: float,
        floor_usd: float,
        ttl_s: float,
        period_s: float | None = None,
    ) -> tuple[str | None, float, float]:
        rid = uuid.uuid4().hex
        args = [
            _num(self.clock()),
            _num(limit_usd),
            _num(want_usd),
            _num(floor_usd),
            _num(ttl_s),
            _num(period_s or 0),
            rid,
        ]
        granted, left = (float(v) for v in self._reserve(keys=self._budget_keys(scope), args=args))
        return (rid if granted > 0 else None), granted, left

    def settle(self, scope: str, reservation: str, cost_usd: float) -> None:
        self._settle(keys=self._budget_keys(scope), args=[reservation, _num(cost_usd)])

    def budget_usage(self, scope: str) -> tuple[float, float]:
        spent_key, res_key = self._budget_keys(scope)
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(spent_key, "spent")
        pipe.hvals(res_key)
        spent, held = pipe.execute()
        now = self.clock()
        live = [v.decode().split(":") for v in held]
        return float(spent or 0), math.fsum(float(a) for a, exp in live if float(exp) > now)

    @staticmethod
    def _budget_keys(scope: str) -> list[str]:
        return [BUDGET + scope, BUDGET + scope + ":res"]

    def all_snapshots(self) -> dict[str, ModelHealth]:
        keys = [k.decode()[len(PREFIX) :] for k in self._client.scan_iter(PREFIX + "*", 500)]
        return self.snapshots(sorted(keys))

    def clear(self) -> None:
        keys = list(self._client.scan_iter(PREFIX + "*", 500))
        keys += list(self._client.scan_iter(BUDGET + "*", 500))
        if keys:
            self._client.delete(*keys)

    def close(self) -> None:
        self._client.close()
