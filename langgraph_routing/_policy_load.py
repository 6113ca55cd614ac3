"""Reading policies: files, dicts, deep merges, and validation errors that name the key.

A misspelled key names the typo and the closest real key ("did you mean
``input_per_million``?"); a file that is not YAML/TOML, or not a mapping, says so.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ._errors import PolicyError


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in: mappings merge key by key, anything else replaces.

    >>> deep_merge({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
    {'a': {'x': 1, 'y': 3}, 'b': [2]}
    """
    out = dict(base)
    for key, value in changes.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def _inner(annotation: Any) -> Any:
    """The model class reached through ``X | None``, ``dict[str, X]`` and ``list[X]``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return arg
    return annotation


def _keys_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` (a pydantic error location), or [] if unknown."""
    current: Any = root
    i = 0
    while i < len(loc):
        current = _inner(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(loc[i]))
            if field is None:
                return []
            current = field.annotation
            i += 1
            continue
        origin = typing.get_origin(current)
        if origin in (dict, list, Mapping):
            current = typing.get_args(current)[-1]
            i += 1  # the dict key / list index
            continue
        return []
    current = _inner(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def validate(cls: type[BaseModel], data: Mapping[str, Any]) -> Any:
    """``cls.model_validate(data)``; errors become :class:`PolicyError` naming the key."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            allowed = _keys_at(cls, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            msg = f"unknown key {str(loc[-1])!r}"
            if close:
                msg += f"; did you mean {close[0]!r}?"
            elif allowed:
                msg += f" (allowed: {', '.join(allowed)})"
        elif "." in msg.split(":", 1)[0] and ": " in msg:  # our own "key: problem" form
            key, msg = msg.split(": ", 1)
        raise PolicyError(key, msg) from None


MAX_POLICY_BYTES = 1 << 20
"""A policy file larger than this (1 MiB) is refused before it is parsed."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML, where a key given twice in one mapping is an error (not last-one-wins)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping held by a ``.yaml``/``.yml`` or ``.toml`` policy file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise PolicyError(str(p), f"cannot read the policy file ({exc.strerror})") from None
    if size > MAX_POLICY_BYTES:
        raise PolicyError(
            str(p), f"the file is {size} bytes; a policy file is at most {MAX_POLICY_BYTES}"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), f"cannot read the policy file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(str(p), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = (
            tomllib.loads(text) if p.suffix == ".toml" else yaml.load(text, Loader=_UniqueKeyLoader)
        )
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(str(p), f"not valid {p.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(str(p), "the file must hold a mapping of policy keys")
    return data


DEFAULT_POLICY: dict[str, Any] = {
    "models": {
        "o3-mini": {
            "context_window": 200000,
            "max_output_tokens": 100000,
            "input_per_million": 1.10,
            "output_per_million": 4.40,
            "supports_parallel_tool_calls": False,
            "cached_input_per_million": 0.55,
            "supports_prompt_cache_key": True,
        },
        "gpt-4o-mini": {
            "context_window": 128000,
            "max_output_tokens": 16384,
            "input_per_million": 0.15,
            "output_per_million": 0.60,
            "cached_input_per_million": 0.075,
            "supports_prompt_cache_key": True,
        },
        "gpt-4o": {
            "context_window": 128000,
            "max_output_tokens": 16384,
            "input_per_million": 2.50,
            "output_per_million": 10.00,
            "cached_input_per_million": 1.25,
            "supports_prompt_cache_key": True,
        },
        "claude-3-5-sonnet-20241022": {
            "context_window": 200000,
            "max_output_tokens": 8192,
            "input_per_million": 3.00,
            "output_per_million": 15.00,
            "cached_input_per_million": 0.30,
            "cache_write_per_million": 3.75,
        },
        "claude-3-5-haiku-20241022": {
            "context_window": 200000,
            "max_output_tokens": 8192,
            "input_per_million": 0.80,
            "output_per_million": 4.00,
            "cached_input_per_million": 0.08,
            "cache_write_per_million": 1.00,
        },
    },
    "tasks": {
        "plan": {"model": "o3-mini"},
        "tool_select": {"model": "gpt-4o-mini"},
        "synthesize": {"model": "claude-3-5-sonnet-20241022"},
        "critique": {"model": "gpt-4o-mini"},
    },
    "default_task": "tool_select",
    "node_tasks": {"agent": "tool_select"},
    "fallbacks": {
        "o3-mini": ["claude-3-5-sonnet-20241022"],
        "gpt-4o": ["claude-3-5-sonnet-20241022"],
        "gpt-4o-mini": ["claude-3-5-haiku-20241022"],
    },
    "context_upgrades": {
        "gpt-4o-mini": "gpt-4o",
        "claude-3-5-haiku-20241022": "claude-3-5-sonnet-20241022",
    },
}
"""The routing table of the production guide (DESIGN.md)."""
