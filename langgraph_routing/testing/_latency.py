"""Latency profiles: per model, a time to first token and an output speed, off by default.

Default figures (:data:`DEFAULT_LATENCY`) are rounded medians of the first-party endpoint as
published by Artificial Analysis (https://artificialanalysis.ai/models/<model>/providers,
"Latency (TTFT)" and "Output Speed"; methodology at https://artificialanalysis.ai/methodology).
They are snapshots, good enough to make a cheap fast model and a slow frontier model differ
in a benchmark the way they do in production, not a measurement of today's endpoints:

==============================  ========  ==========  ============================================
model                           TTFT (s)  tokens / s  source (provider page, snapshot)
==============================  ========  ==========  ============================================
gpt-4o-mini                     0.45      75          AA, OpenAI endpoint (2024-25)
gpt-4o                          0.40      80          AA GPT-4o (May '24), OpenAI: 0.39 s, 81 t/s
o3-mini                         7.0       160         AA via benchlm.ai/llm-speed (2026-04): first
                                                      answer chunk 7.1 s (reasoning), 160 t/s
claude-3-5-sonnet-20241022      0.80      64          AA Claude 3.5 Sonnet, Anthropic: 0.81 s, 64
claude-3-5-haiku-20241022       1.00      68          AA Claude 3.5 Haiku, Anthropic: 68 t/s, TTFT
                                                      behind Amazon 0.81 s / Vertex 0.99 s
==============================  ========  ==========  ============================================

A served model without a figure gets :data:`GENERIC_LATENCY` (0.5 s, 100 tokens/s).
An answer of ``n`` completion tokens takes ``scale * (ttft_s + n / tokens_per_s)``: a
non-streamed answer arrives whole after that time; a streamed one sends its first chunk after
``scale * ttft_s`` and the remaining chunks evenly paced over ``scale * n / tokens_per_s``.
Errors (faults, budget, rpm, bad requests) answer at once, as a proxy's pre-call checks do.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from langgraph_routing.testing._config import GatewayConfigError

__all__ = [
    "DEFAULT_LATENCY",
    "GENERIC_LATENCY",
    "LATENCY_PRESETS",
    "LatencyProfile",
    "LatencySpec",
    "LatencyTable",
]

LATENCY_PRESETS = ("profiles",)


@dataclass(frozen=True)
class LatencyProfile:
    """How fast one model answers: seconds to the first token, then output tokens per second.

    >>> p = LatencyProfile(ttft_s=0.5, tokens_per_s=100)
    >>> p.seconds(50), p.seconds(50, scale=0.1)
    (1.0, 0.1)
    >>> LatencyProfile(ttft_s=-1, tokens_per_s=10)
    Traceback (most recent call last):
    ...
    langgraph_routing.testing._config.GatewayConfigError: latency profile: ttft_s must be a finite number >= 0, got -1
    """

    ttft_s: float
    tokens_per_s: float

    def __post_init__(self) -> None:
        ttft, tps = self.ttft_s, self.tokens_per_s
        if isinstance(ttft, bool) or not isinstance(ttft, int | float):
            raise GatewayConfigError(f"latency profile: ttft_s must be a number, got {ttft!r}")
        if not math.isfinite(ttft) or ttft < 0:
            raise GatewayConfigError(
                f"latency profile: ttft_s must be a finite number >= 0, got {ttft!r}"
            )
        if isinstance(tps, bool) or not isinstance(tps, int | float):
            raise GatewayConfigError(f"latency profile: tokens_per_s must be a number, got {tps!r}")
        if not math.isfinite(tps) or tps <= 0:
            raise GatewayConfigError(
                f"latency profile: tokens_per_s must be a finite number > 0, got {tps!r}"
            )

    def seconds(self, tokens: int, scale: float = 1.0) -> float:
        """Time to deliver ``tokens`` output tokens, times ``scale``."""
        return scale * (self.ttft_s + tokens / self.tokens_per_s)


DEFAULT_LATENCY: Mapping[str, LatencyProfile] = MappingProxyType(
    {
        "gpt-4o-mini": LatencyProfile(0.45, 75.0),
        "gpt-4o": LatencyProfile(0.40, 80.0),
        "o3-mini": LatencyProfile(7.0, 160.0),
        "claude-3-5-sonnet-20241022": LatencyProfile(0.80, 64.0),
        "claude-3-5-haiku-20241022": LatencyProfile(1.00, 68.0),
    }
)
GENERIC_LATENCY = LatencyProfile(0.5, 100.0)

LatencySpec: TypeAlias = str | Mapping[str, "LatencyProfile | tuple[float, float] | None"] | None
"""What ``LocalGateway(latency=...)`` takes: None (off), ``"profiles"`` (the defaults), or a
mapping model -> profile (a :class:`LatencyProfile`, a ``(ttft_s, tokens_per_s)`` pair, or
None for no delay) that overrides the defaults for those models."""


def _profile(model: str, value: object) -> LatencyProfile | None:
    if value is None or isinstance(value, LatencyProfile):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        try:
            return LatencyProfile(*value)
        except GatewayConfigError as exc:
            raise GatewayConfigError(f"latency[{model!r}]: {exc}") from None
    raise GatewayConfigError(
        f"latency[{model!r}]: expected a LatencyProfile, a (ttft_s, tokens_per_s) pair or None, "
        f"got {value!r}"
    )


def validate_scale(scale: object) -> float:
    """Return ``scale`` as a float if it is a finite number >= 0."""
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise GatewayConfigError(f"latency_scale must be a number, got {scale!r}")
    if not math.isfinite(scale) or scale < 0:
        raise GatewayConfigError(f"latency_scale must be a finite number >= 0, got {scale!r}")
    return float(scale)


class LatencyTable:
    """The effective profile of each served model (None: answers at once), and the scale.

    >>> t = LatencyTable("profiles", 0.5, ["gpt-4o", "local"])
    >>> t.profile("gpt-4o"), t.profile("local") == GENERIC_LATENCY
    (LatencyProfile(ttft_s=0.4, tokens_per_s=80.0), True)
    >>> LatencyTable(None, 1.0, ["gpt-4o"]).profile("gpt-4o") is None
    True
    >>> LatencyTable("fast", 1.0, ["gpt-4o"])
    Traceback (most recent call last):
    ...
    langgraph_routing.testing._config.GatewayConfigError: latency must be None, 'profiles' or a mapping of model -> LatencyProfile, got 'fast'
    """

    def __init__(self, spec: LatencySpec, scale: object, models: list[str]) -> None:
        self.scale = validate_scale(scale)
        self._models = list(models)
        self._lock = threading.Lock()
        self._profiles: dict[str, LatencyProfile | None] = dict.fromkeys(self._models)
        if spec is None:
            return
        if isinstance(spec, str):
            if spec not in LATENCY_PRESETS:
                raise GatewayConfigError(
                    "latency must be None, 'profiles' or a mapping of model -> LatencyProfile, "
                    f"got {spec!r}"
                )
            overrides: Mapping[str, object] = {}
        elif isinstance(spec, Mapping):
            overrides = spec
        else:
            raise GatewayConfigError(
                "latency must be None, 'profiles' or a mapping of model -> LatencyProfile, "
                f"got {spec!r}"
            )
        for name in self._models:
            self._profiles[name] = DEFAULT_LATENCY.get(name, GENERIC_LATENCY)
        for name, value in overrides.items():
            self.set(name, _profile(str(name), value))

    def set(self, model: str, profile: LatencyProfile | None) -> None:
        """Override one model's profile (None: no delay)."""
        if model not in self._profiles:
            raise GatewayConfigError(
                f"latency: unknown model {model!r} (served: {', '.join(self._models)})"
            )
        if profile is not None and not isinstance(profile, LatencyProfile):
            raise GatewayConfigError(
                f"latency[{model!r}]: expected a LatencyProfile or None, got {profile!r}"
            )
        with self._lock:
            self._profiles[model] = profile

    def profile(self, model: str) -> LatencyProfile | None:
        """The model's profile, None when it answers at once."""
        with self._lock:
            return self._profiles.get(model)

    def profiles(self) -> dict[str, LatencyProfile | None]:
        with self._lock:
            return dict(self._profiles)

    def plan(self, model: str, tokens: int, parts: int) -> list[float]:
        """Seconds to wait before each of ``parts`` deliveries of an answer of ``tokens``
        output tokens: the time to first token before the first, the generation time spread
        evenly over the others (all of it before the only one when ``parts == 1``).

        >>> LatencyTable({"gpt-4o": (1.0, 10.0)}, 1.0, ["gpt-4o"]).plan("gpt-4o", 20, 3)
        [1.0, 1.0, 1.0]
        >>> LatencyTable(None, 1.0, ["gpt-4o"]).plan("gpt-4o", 20, 3)
        [0.0, 0.0, 0.0]
        """
        profile = self.profile(model)
        if profile is None or parts <= 0 or self.scale == 0:
            return [0.0] * max(parts, 0)
        first = self.scale * profile.ttft_s
        generation = self.scale * tokens / profile.tokens_per_s
        if parts == 1:
            return [first + generation]
        gap = generation / (parts - 1)
        return [first] + [gap] * (parts - 1)
