"""``redis://``: routing state shared by every worker using one Redis database.

One hash per (gateway, model) under ``lgr:health:<key>``. :meth:`claim` and :meth:`record` are
Lua scripts (atomic on the server) that apply the same rules as
:func:`langgraph_routing._health.claim` / :func:`~langgraph_routing._health.record`; every
write refreshes the key's expiry. Needs the ``redis`` client: ``pip install
'langgraph-routing[shared]'``.
"""

from __future__ import annotations

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

    def all_snapshots(self) -> dict[str, ModelHealth]:
        keys = [k.decode()[len(PREFIX) :] for k in self._client.scan_iter(PREFIX + "*", 500)]
        return self.snapshots(sorted(keys))

    def clear(self) -> None:
        keys = list(self._client.scan_iter(PREFIX + "*", 500))
        if keys:
            self._client.delete(*keys)

    def close(self) -> None:
        self._client.close()
