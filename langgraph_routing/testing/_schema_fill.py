"""Build a JSON value valid against a JSON schema, filled from facts found in user text.

The rules per field (booleans, enums, strings by name, numbers) are those of
:mod:`langgraph_routing.testing._text_facts`; arrays get one item per fitting fact (a number
each for number items, a proper noun each for city/name-like items or objects holding such a
field), at least ``minItems`` and at least one, at most ``maxItems``; objects are filled
property by property, each taking the next unused fact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from langgraph_routing.testing._text_facts import TextFacts, singular

__all__ = ["TextFacts", "fill_schema"]

_EXPRESSION_NAMES = ("expression", "expr", "formula", "equation", "calculation", "math", "query")
_PROPER_NAMES = ("city", "country", "place", "location", "name", "person", "company", "entity")
_PHRASE_NAMES = ("topic", "subject", "keyword", "term", "search", "query", "title")
_WHOLE_NAMES = ("question", "description", "request", "task", "prompt", "instruction", "message")
_MAX_DEPTH = 8


def _named(name: str, words: tuple[str, ...]) -> bool:
    lname = singular(name.lower())
    return any(word in lname for word in words)


def _resolve(schema: Any, root: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
    """Follow ``$ref`` (local ``#/...`` pointers) and pick a branch of anyOf/oneOf/allOf."""
    if not isinstance(schema, Mapping):
        return {}
    for _ in range(_MAX_DEPTH):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            target: Any = root
            for part in ref.lstrip("#/").split("/"):
                if part:
                    target = target.get(part, {}) if isinstance(target, Mapping) else {}
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**(target if isinstance(target, Mapping) else {}), **merged}
            continue
        for combo in ("anyOf", "oneOf"):
            options = schema.get(combo)
            if isinstance(options, list) and options:
                non_null = [
                    o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")
                ]
                choice = (non_null or options)[0]
                rest = {k: v for k, v in schema.items() if k != combo}
                schema = {**rest, **(choice if isinstance(choice, Mapping) else {})}
                break
        else:
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and all_of:
                merged_all: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
                for sub in all_of:
                    sub_r = _resolve(sub, root, depth + 1)
                    props = {**merged_all.get("properties", {}), **sub_r.get("properties", {})}
                    req = list(merged_all.get("required", [])) + list(sub_r.get("required", []))
                    merged_all = {**sub_r, **merged_all, "properties": props, "required": req}
                schema = merged_all
                continue
            return dict(schema)
    return dict(schema)


def _schema_type(schema: Mapping[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        t = non_null[0] if non_null else "null"
    if isinstance(t, str):
        return t
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if schema.get("enum"):
        return {bool: "boolean", int: "integer", float: "number"}.get(
            type(schema["enum"][0]), "string"
        )
    return "string"


def _clamp(value: float, schema: Mapping[str, Any], integer: bool) -> float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    ex_lo = schema.get("exclusiveMinimum")
    ex_hi = schema.get("exclusiveMaximum")
    step = 1.0 if integer else 1e-6
    if isinstance(lo, int | float) and value < lo:
        value = float(lo)
    if isinstance(ex_lo, int | float) and value <= ex_lo:
        value = float(ex_lo) + step
    if isinstance(hi, int | float) and value > hi:
        value = float(hi)
    if isinstance(ex_hi, int | float) and value >= ex_hi:
        value = float(ex_hi) - step
    if integer:
        value = float(math.floor(value)) if value >= 0 else float(math.ceil(value))
    return value


def _fill_number(
    name: str, schema: Mapping[str, Any], facts: TextFacts, integer: bool
) -> int | float:
    raw = facts.take_number(name)
    if integer and raw is not None and not raw.is_integer():
        raw = float(round(raw))
    if raw is None:
        default = schema.get("default")
        raw = float(default) if isinstance(default, int | float) else 0.0
    value = _clamp(raw, schema, integer)
    mult = schema.get("multipleOf")
    if isinstance(mult, int | float) and mult > 0:
        value = math.ceil(value / mult) * mult
    return int(value) if integer else value


def _fill_string(name: str, schema: Mapping[str, Any], facts: TextFacts) -> str:
    value: str | None = None
    if facts.expression and _named(name, _EXPRESSION_NAMES):
        value = facts.expression
    if value is None:
        value = facts.take_quoted()
    if value is None and _named(name, _PROPER_NAMES):
        value = facts.take_proper()
    if value is None and _named(name, _PHRASE_NAMES):
        value = facts.phrase()
    if value is None and _named(name, _WHOLE_NAMES):
        value = facts.text or None
    if value is None and isinstance(schema.get("default"), str):
        value = schema["default"]
    if value is None:
        fmt = schema.get("format")
        value = {
            "date": "2024-01-01",
            "date-time": "2024-01-01T00:00:00Z",
            "email": "user@example.com",
            "uri": "https://example.com",
            "uuid": "00000000-0000-4000-8000-000000000000",
        }.get(fmt if isinstance(fmt, str) else "", facts.text or name)
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if isinstance(hi, int) and len(value) > hi:
        value = value[:hi]
    if isinstance(lo, int) and len(value) < lo:
        value = value + "x" * (lo - len(value))
    return value


def _fill_enum(options: list[Any], schema: Mapping[str, Any], facts: TextFacts) -> Any:
    chosen = facts.choose(options)
    if chosen is not None:
        return chosen
    default = schema.get("default")
    return default if default in options else options[0]


def _fitting_facts(
    item: Mapping[str, Any], name: str, facts: TextFacts, root: Mapping[str, Any], depth: int
) -> int:
    """How many array items the text has facts for (0: no opinion)."""
    if "enum" in item or "const" in item:
        return 0
    kind = _schema_type(item)
    if kind in ("number", "integer"):
        return facts.numbers_left
    if kind == "string":
        return facts.proper_left if _named(name, _PROPER_NAMES) else 0
    if kind == "object" and depth < _MAX_DEPTH:
        props = item.get("properties") or {}
        proper = [
            p
            for p, sub in props.items()
            if _named(str(p), _PROPER_NAMES)
            and _schema_type(_resolve(sub, root, depth + 1)) == "string"
        ]
        return facts.proper_left if proper else 0
    return 0


def fill_schema(
    schema: Any,
    facts: TextFacts,
    *,
    name: str = "value",
    root: Mapping[str, Any] | None = None,
    depth: int = 0,
) -> Any:
    """Return a value valid against ``schema``, using ``facts`` where a field fits.

    >>> schema = {"type": "object", "properties": {"a": {"type": "number"},
    ...           "b": {"type": "integer"}, "op": {"enum": ["add", "mul"]}},
    ...           "required": ["a", "b", "op"]}
    >>> fill_schema(schema, TextFacts("mul 6 and 7"))
    {'a': 6.0, 'b': 7, 'op': 'mul'}
    """
    root = root if root is not None else (schema if isinstance(schema, Mapping) else {})
    s = _resolve(schema, root, depth)
    if "const" in s:
        return s["const"]
    enum = s.get("enum")
    if isinstance(enum, list) and enum:
        return _fill_enum(enum, s, facts)
    kind = _schema_type(s)
    if kind == "object":
        props = s.get("properties") or {}
        out: dict[str, Any] = {}
        if depth >= _MAX_DEPTH:
            return out
        # a year-like field reads first, so its year is not taken as another field's number
        for prop in sorted(props, key=lambda p: not _named(str(p), ("year",))):
            out[prop] = fill_schema(props[prop], facts, name=prop, root=root, depth=depth + 1)
        return {prop: out[prop] for prop in props}
    if kind == "array":
        items = s.get("items") if isinstance(s.get("items"), Mapping) else {}
        item_schema = _resolve(items, root, depth + 1)
        raw_lo, raw_hi = s.get("minItems"), s.get("maxItems")
        lo: int = raw_lo if isinstance(raw_lo, int) else 0
        hi: int | None = raw_hi if isinstance(raw_hi, int) else None
        count = max(lo, 1, _fitting_facts(item_schema, name, facts, root, depth))
        if hi is not None:
            count = min(count, hi)
        if depth >= _MAX_DEPTH:
            count = lo
        values = [
            fill_schema(items, facts, name=name, root=root, depth=depth + 1) for _ in range(count)
        ]
        if s.get("uniqueItems") and len(values) > 1:
            values = [v for i, v in enumerate(values) if v not in values[:i]] or values[:1]
        return values
    if kind in ("number", "integer"):
        return _fill_number(name, s, facts, integer=kind == "integer")
    if kind == "boolean":  # true when the request affirms the field's subject
        return facts.affirms(name)
    if kind == "null":
        return None
    return _fill_string(name, s, facts)
