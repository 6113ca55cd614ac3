"""Configuration of the gateway emulator: models, virtual keys, validation, key hashing."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUDGET_MODES",
    "DEFAULT_MODELS",
    "PROMPT_CACHE_MODES",
    "GatewayConfigError",
    "GatewayModel",
    "VirtualKey",
    "hash_key",
    "key_label",
    "models_from_policy",
    "normalize_keys",
    "normalize_models",
    "validate_budget_mode",
    "validate_port",
]

BUDGET_MODES = ("worst_case", "spend")
PROMPT_CACHE_MODES = ("auto", "explicit", "off")


class GatewayConfigError(ValueError):
    """A gateway, model, key or fault rule is misconfigured; the message names the field.

    >>> try:
    ...     GatewayModel("m", context_window=0, max_output_tokens=1,
    ...                  input_per_million=1, output_per_million=1)
    ... except GatewayConfigError as e:
    ...     print(e)
    model 'm': context_window must be > 0, got 0
    """


def hash_key(key: str) -> str:
    """Return the sha256 hex digest LiteLLM uses to name a virtual key.

    >>> hash_key("sk-1")[:12]
    '0f2c10bf3d12'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_label(key: str | None, alias: str | None = None) -> str:
    """Printable name of a key: its alias, else ``sha256:<8 hex>``; never the key itself.

    >>> key_label("sk-1", "planner"), key_label("sk-1"), key_label(None)
    ('planner', 'sha256:0f2c10bf', 'anonymous')
    """
    if alias:
        return alias
    if key is None:
        return "anonymous"
    return "sha256:" + hash_key(key)[:8]


def _check_number(owner: str, name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GatewayConfigError(f"{owner}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise GatewayConfigError(f"{owner}: {name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise GatewayConfigError(f"{owner}: {name} must be > 0, got {value!r}")
    if not positive and value < 0:
        raise GatewayConfigError(f"{owner}: {name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class GatewayModel:
    """One model served by the gateway, with its window and USD prices per million tokens.

    >>> m = GatewayModel("gpt-4o-mini", 128000, 16384, 0.15, 0.60)
    >>> m.cost(1000, 500)
    0.00045
    """

    name: str
    context_window: int
    max_output_tokens: int
    input_per_million: float
    output_per_million: float
    supports_tools: bool = True
    cached_input_per_million: float | None = None
    """Price of prompt tokens read from the emulated prompt cache (None: the input price)."""
    cache_write_per_million: float | None = None
    """Price of prompt tokens written to the cache, where the provider charges it (Anthropic:
    1.25x the input price); None: writes cost the input price (OpenAI)."""
    prompt_cache: str = "auto"
    """How the provider caches prompts: ``"auto"`` (OpenAI, DeepSeek: any repeated prefix of
    1,024+ tokens), ``"explicit"`` (Anthropic: only up to a content block marked
    ``cache_control``), ``"off"``."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise GatewayConfigError(f"model: name must be a non-empty string, got {self.name!r}")
        owner = f"model {self.name!r}"
        for attr in ("context_window", "max_output_tokens"):
            value = getattr(self, attr)
            _check_number(owner, attr, value, positive=True)
            if not isinstance(value, int):
                raise GatewayConfigError(f"{owner}: {attr} must be an integer, got {value!r}")
        for attr in ("input_per_million", "output_per_million"):
            _check_number(owner, attr, getattr(self, attr), positive=False)
        if self.cached_input_per_million is not None:
            price = self.cached_input_per_million
            _check_number(owner, "cached_input_per_million", price, positive=False)
        if self.cache_write_per_million is not None:
            price = self.cache_write_per_million
            _check_number(owner, "cache_write_per_million", price, positive=False)
        if self.prompt_cache not in PROMPT_CACHE_MODES:
            raise GatewayConfigError(
                f"{owner}: prompt_cache must be one of {', '.join(PROMPT_CACHE_MODES)}, "
                f"got {self.prompt_cache!r}"
            )

    def cost(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int = 0,
        written_tokens: int = 0,
    ) -> float:
        """USD cost of a call, bit for bit as LiteLLM computes it: tokens x per-token price;
        ``cached_tokens`` and ``written_tokens`` (parts of the prompt) at the cached-input and
        cache-write prices.

        >>> m = GatewayModel("claude", 200000, 8192, 3.0, 15.0, cached_input_per_million=0.30,
        ...                  cache_write_per_million=3.75, prompt_cache="explicit")
        >>> round(m.cost(2000, 0) * 1e6), round(m.cost(2000, 0, written_tokens=2000) * 1e6)
        (6000, 7500)
        """
        cached = cached_tokens if self.cached_input_per_million is not None else 0
        written = written_tokens if self.cache_write_per_million is not None else 0
        if not (cached or written):
            return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token
        return (
            (prompt_tokens - cached - written) * self.input_per_token
            + cached * ((self.cached_input_per_million or 0.0) / 1e6)
            + written * ((self.cache_write_per_million or 0.0) / 1e6)
            + completion_tokens * self.output_per_token
        )

    @property
    def input_per_token(self) -> float:
        """USD per prompt token (``input_per_million / 1e6``, LiteLLM's ``input_cost_per_token``)."""
        return self.input_per_million / 1e6

    @property
    def output_per_token(self) -> float:
        """USD per completion token (LiteLLM's ``output_cost_per_token``)."""
        return self.output_per_million / 1e6


@dataclass(frozen=True)
class VirtualKey:
    """A LiteLLM-style virtual key with an optional USD budget and requests-per-minute limit.

    The key never shows in ``repr``:

    >>> VirtualKey("sk-secret", max_budget=0.01, alias="planner")
    VirtualKey(alias='planner', max_budget=0.01, rpm=None)
    """

    key: str = field(repr=False)
    max_budget: float | None = None
    rpm: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise GatewayConfigError("virtual key: key must be a non-empty string")
        owner = f"virtual key {key_label(self.key, self.alias)!r}"
        if self.max_budget is not None:
            _check_number(owner, "max_budget", self.max_budget, positive=False)
        if self.rpm is not None and (
            isinstance(self.rpm, bool) or not isinstance(self.rpm, int) or self.rpm <= 0
        ):
            raise GatewayConfigError(f"{owner}: rpm must be a positive integer, got {self.rpm!r}")

    @property
    def label(self) -> str:
        """Alias, else a short sha256 prefix of the key."""
        return key_label(self.key, self.alias)

    def __repr__(self) -> str:
        return f"VirtualKey(alias={self.label!r}, max_budget={self.max_budget!r}, rpm={self.rpm!r})"


DEFAULT_MODELS: tuple[GatewayModel, ...] = (
    GatewayModel("o3-mini", 200_000, 100_000, 1.10, 4.40, cached_input_per_million=0.55),
    GatewayModel("gpt-4o-mini", 128_000, 16_384, 0.15, 0.60, cached_input_per_million=0.075),
    GatewayModel("gpt-4o", 128_000, 16_384, 2.50, 10.00, cached_input_per_million=1.25),
    GatewayModel(
        "claude-3-5-sonnet-20241022",
        200_000,
        8_192,
        3.00,
        15.00,
        cached_input_per_million=0.30,
        cache_write_per_million=3.75,
        prompt_cache="explicit",
    ),
    GatewayModel(
        "claude-3-5-haiku-20241022",
        200_000,
        8_192,
        0.80,
        4.00,
        cached_input_per_million=0.08,
        cache_write_per_million=1.00,
        prompt_cache="explicit",
    ),
)


def normalize_models(
    models: Iterable[GatewayModel] | Mapping[str, GatewayModel] | None,
) -> dict[str, GatewayModel]:
    """Validate models into a name -> model dict (``None`` means :data:`DEFAULT_MODELS`)."""
    if models is None:
        return {m.name: m for m in DEFAULT_MODELS}
    out: dict[str, GatewayModel] = {}
    if isinstance(models, Mapping):
        for name, model in models.items():
            if not isinstance(model, GatewayModel):
                raise GatewayConfigError(f"model {name!r}: expected GatewayModel, got {model!r}")
            if model.name != name:
                raise GatewayConfigError(
                    f"model {name!r}: mapping key differs from model name {model.name!r}"
                )
            out[name] = model
    else:
        for model in models:
            if not isinstance(model, GatewayModel):
                raise GatewayConfigError(f"models: expected GatewayModel, got {model!r}")
            if model.name in out:
                raise GatewayConfigError(f"model {model.name!r}: defined twice")
            out[model.name] = model
    if not out:
        raise GatewayConfigError("models: at least one model is required")
    return out


def models_from_policy(policy: Any) -> dict[str, GatewayModel]:
    """Build gateway models from any object whose ``.models`` maps names to model specs."""
    specs = getattr(policy, "models", None)
    if not isinstance(specs, Mapping):
        raise GatewayConfigError("policy: expected a `.models` mapping of name -> model spec")
    out: dict[str, GatewayModel] = {}
    for name, spec in specs.items():
        try:
            out[str(name)] = GatewayModel(
                name=str(getattr(spec, "name", None) or name),
                context_window=spec.context_window,
                max_output_tokens=spec.max_output_tokens,
                input_per_million=spec.input_per_million,
                output_per_million=spec.output_per_million,
                supports_tools=bool(getattr(spec, "supports_tools", True)),
                cached_input_per_million=getattr(spec, "cached_input_per_million", None),
                cache_write_per_million=getattr(spec, "cache_write_per_million", None),
                # Providers that charge cache writes (Anthropic) cache only marked prefixes.
                prompt_cache=(
                    "auto" if getattr(spec, "cache_write_per_million", None) is None else "explicit"
                ),
            )
        except AttributeError as exc:
            raise GatewayConfigError(f"policy model {name!r}: missing attribute ({exc})") from exc
    return normalize_models(out.values())


def normalize_keys(
    keys: Iterable[VirtualKey] | None, master_key: str | None
) -> dict[str, VirtualKey]:
    """Validate virtual keys into a key -> VirtualKey dict (no duplicates, no master clash)."""
    if master_key is not None and (not isinstance(master_key, str) or not master_key):
        raise GatewayConfigError("master_key must be a non-empty string or None")
    out: dict[str, VirtualKey] = {}
    for vk in keys or ():
        if not isinstance(vk, VirtualKey):
            raise GatewayConfigError(f"keys: expected VirtualKey, got {type(vk).__name__}")
        if vk.key in out:
            raise GatewayConfigError(f"virtual key {vk.label!r}: defined twice")
        if vk.key == master_key:
            raise GatewayConfigError(f"virtual key {vk.label!r}: equals the master key")
        out[vk.key] = vk
    return out


def validate_port(port: object) -> int:
    """Return ``port`` if it is an int in 0..65535 (0 = pick a free port)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise GatewayConfigError(f"port must be an integer in 0..65535, got {port!r}")
    return port


def validate_budget_mode(mode: object) -> str:
    """Return ``mode`` if it is ``"worst_case"`` or ``"spend"``."""
    if mode not in BUDGET_MODES:
        raise GatewayConfigError(f"budget_mode must be 'worst_case' or 'spend', got {mode!r}")
    return str(mode)
