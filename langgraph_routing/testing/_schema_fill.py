"""Build a JSON value valid against a JSON schema, filled from facts found in user text."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TextFacts", "fill_schema"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[A-Za-z_])")
_EXPRESSION = re.compile(
    r"[(\-]*\s*\d+(?:\.\d+)?\s*\)*(?:\s*(?:\*\*|[-+*/%^x×÷])\s*[(\-]*\s*\d+(?:\.\d+)?\s*\)*)+"
)
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']{2,})'|“([^”]+)”")
_EXPRESSION_NAMES = ("expression", "expr", "query", "formula", "equation", "calculation", "math")
_PROPER_NAMES = ("city", "country", "place", "location", "name", "person", "company", "entity")
_PHRASE_NAMES = ("topic", "subject", "keyword", "term", "search")
_WHOLE_NAMES = ("question", "query", "description", "request", "task", "prompt", "instructions")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+)*)")
_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_COMMON = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "and",
        "or",
        "with",
        "about",
        "from",
        "by",
        "many",
        "much",
        "does",
        "do",
        "did",
        "can",
        "could",
        "would",
        "should",
        "please",
        "tell",
        "me",
        "give",
        "find",
        "show",
        "list",
        "explain",
        "ask",
        "people",
        "live",
    ]
)
_MAX_DEPTH = 8


class TextFacts:
    """Numbers, an arithmetic expression and quoted strings found in user text.

    >>> f = TextFacts('What is 12 * (3 + 4)? Search "blue whales" for 2 results')
    >>> f.expression, f.quoted, f.numbers
    ('12 * (3 + 4)', ['blue whales'], [12.0, 3.0, 4.0, 2.0])
    """

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.lower = self.text.lower()
        self.numbers = [float(m.group(0)) for m in _NUMBER.finditer(self.text)]
        self.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(self.text)]
        found = [m.group(0).strip() for m in _EXPRESSION.finditer(self.text)]
        self.expression = _balance(max(found, key=len)) if found else None
        self.proper = [m.group(1) for m in _PROPER.finditer(self.text)]
        self._next_number = 0
        self._next_quoted = 0
        self._next_proper = 0

    def take_proper(self) -> str | None:
        """The next proper noun phrase (capitalised words not opening a sentence)."""
        if self._next_proper < len(self.proper):
            self._next_proper += 1
            return self.proper[self._next_proper - 1]
        return self.proper[-1] if self.proper else None

    def phrase(self) -> str:
        """The request's subject: its proper nouns, else its last content words."""
        if self.proper:
            return " ".join(self.proper)
        words = [w for w in _CONTENT_WORD.findall(self.text) if w.lower() not in _COMMON]
        return " ".join(words[-3:]) or self.text

    def mentions(self, field: str) -> bool:
        """Whether the text speaks of a field (any word of its name, by stem)."""
        words = [w for w in re.split(r"[_\W]+", field.lower()) if len(w) > 3]
        return any(re.search(rf"\b{re.escape(w[:5])}", self.lower) for w in words)

    @property
    def numbers_left(self) -> int:
        return len(self.numbers) - self._next_number

    def take_number(self) -> float | None:
        if self._next_number < len(self.numbers):
            self._next_number += 1
            return self.numbers[self._next_number - 1]
        return None

    def take_quoted(self) -> str | None:
        if self._next_quoted < len(self.quoted):
            self._next_quoted += 1
            return self.quoted[self._next_quoted - 1]
        return None


def _balance(expr: str) -> str:
    """Drop unmatched parentheses at the ends of a matched expression."""
    expr = expr.replace("×", "*").replace("÷", "/").replace("^", "**")
    expr = re.sub(r"(?<=\d)\s*x\s*(?=[\d(])", " * ", expr)
    while expr.count("(") > expr.count(")") and expr.startswith("("):
        expr = expr[1:].lstrip()
    while expr.count(")") > expr.count("(") and expr.endswith(")"):
        expr = expr[:-1].rstrip()
    return expr


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


def _fill_number(schema: Mapping[str, Any], facts: TextFacts, integer: bool) -> int | float:
    raw = facts.take_number()
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
    lname = name.lower()
    value: str | None = None
    if facts.expression and any(word in lname for word in _EXPRESSION_NAMES):
        value = facts.expression
    if value is None:
        value = facts.take_quoted()
    if value is None and any(word in lname for word in _PROPER_NAMES):
        value = facts.take_proper()
    if value is None and any(word in lname for word in _PHRASE_NAMES):
        value = facts.phrase()
    if value is None and any(word in lname for word in _WHOLE_NAMES):
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
    for option in options:
        if isinstance(option, str) and re.search(rf"\b{re.escape(option.lower())}\b", facts.lower):
            return option
    default = schema.get("default")
    return default if default in options else options[0]


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
        for prop, sub in props.items():
            out[prop] = fill_schema(sub, facts, name=prop, root=root, depth=depth + 1)
        return out
    if kind == "array":
        items = s.get("items") if isinstance(s.get("items"), Mapping) else {}
        item_schema = _resolve(items, root, depth + 1)
        raw_lo, raw_hi = s.get("minItems"), s.get("maxItems")
        lo: int = raw_lo if isinstance(raw_lo, int) else 0
        hi: int | None = raw_hi if isinstance(raw_hi, int) else None
        count = max(lo, 1)
        if _schema_type(item_schema) in ("number", "integer") and "enum" not in item_schema:
            remaining = facts.numbers_left
            count = max(count, remaining)
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
        return _fill_number(s, facts, integer=kind == "integer")
    if kind == "boolean":  # true when the request speaks of the field, else its default / false
        default = s.get("default")
        if facts.mentions(name):
            return True
        return default if isinstance(default, bool) else False
    if kind == "null":
        return None
    return _fill_string(name, s, facts)
