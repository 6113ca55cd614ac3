"""A safe arithmetic calculator: parses with ``ast`` and evaluates a whitelist of nodes only."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

from langchain_core.tools import tool

__all__ = ["CalculatorError", "calculator", "evaluate", "format_number"]

Number = int | float

MAX_EXPRESSION_CHARS = 500
MAX_RESULT_DIGITS = 300  # |result| must stay below 10**300
MAX_DEPTH = 50
_LIMIT = 10**MAX_RESULT_DIGITS

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "min": min,
    "max": max,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
# A run of characters that can belong to an arithmetic expression inside prose.
_SPAN = re.compile(
    r"(?:\b(?:sqrt|abs|round|floor|ceil|log10|log|exp|min|max|pi)\b|[\d.+\-*/%()^,\s])+"
)


class CalculatorError(ValueError):
    """The expression is not plain arithmetic, or its result would be too large."""


def _check_size(value: Number) -> Number:
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculatorError("result is not a finite number")
    if abs(value) >= _LIMIT:
        raise CalculatorError(f"result too large (more than {MAX_RESULT_DIGITS} digits)")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if base == 0:
        if exponent < 0:
            raise CalculatorError("division by zero")
    elif exponent * math.log10(abs(base)) >= MAX_RESULT_DIGITS:
        raise CalculatorError(f"result too large (more than {MAX_RESULT_DIGITS} digits)")
    try:
        result = base**exponent
    except OverflowError:
        raise CalculatorError("result too large") from None
    if isinstance(result, complex):
        raise CalculatorError("result is a complex number")
    return result


def _eval(node: ast.AST, depth: int = 0) -> Number:
    if depth > MAX_DEPTH:
        raise CalculatorError("expression nested too deeply")
    if isinstance(node, ast.Expression):
        return _eval(node.body, depth + 1)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return _check_size(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        value = _eval(node.operand, depth + 1)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _check_size(_power(left, right))
        binary = _BINARY.get(type(node.op))
        if binary is None:
            raise CalculatorError(f"operator {type(node.op).__name__} is not allowed")
        if right == 0 and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            raise CalculatorError("division by zero")
        return _check_size(binary(left, right))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        func = _FUNCTIONS.get(name)
        if func is None or node.keywords:
            raise CalculatorError(f"function {ast.unparse(node.func)!r} is not allowed")
        args = [_eval(arg, depth + 1) for arg in node.args]
        try:
            return _check_size(func(*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise CalculatorError(f"{name}: {exc}") from exc
    raise CalculatorError(f"{type(node).__name__} is not allowed in arithmetic")


def _parse(expression: str) -> ast.Expression:
    return ast.parse(expression.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")


def evaluate(expression: str) -> Number:
    """Evaluate plain arithmetic; an expression inside prose ("What is 2 + 3?") is extracted.

    Allowed: numbers, ``+ - * / // % **`` (``^`` means power), unary signs, parentheses,
    ``pi``, ``e`` and ``sqrt abs round floor ceil log log10 exp min max``.

    Example:
        >>> evaluate("17.5 * 4 + 12")
        82.0
        >>> evaluate("What is 2 ^ 10?")
        1024

    Raises:
        CalculatorError: anything else, or a result over 300 digits (``9**9**9`` is refused).
    """
    text = expression.strip()
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = _parse(text)
    except SyntaxError:
        # Prose: evaluate the longest arithmetic-looking span. Text that parses but is refused
        # (names, calls, huge powers) is never rescued this way.
        spans = [s.strip(" ,") for s in _SPAN.findall(text)]
        spans = [s for s in spans if any(c.isdigit() for c in s)]
        if not spans:
            raise CalculatorError(f"no arithmetic expression found in {text!r}") from None
        try:
            tree = _parse(max(spans, key=len).rstrip("."))
        except SyntaxError as exc:
            raise CalculatorError(f"not a valid arithmetic expression: {exc.msg}") from None
    try:
        return _eval(tree)
    except RecursionError:
        raise CalculatorError("expression nested too deeply") from None


def format_number(value: Number) -> str:
    """``82.0 -> "82"``, ``0.1 + 0.2 -> "0.3"`` (12 significant digits), ints unchanged."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".12g")
    return str(value)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "17.5 * 4 + 12" or "sqrt(2) * 10".

    Supports + - * / // % ** (or ^), parentheses, pi, e and the functions sqrt, abs, round,
    floor, ceil, log, log10, exp, min and max. Returns the result, or an error message.
    """
    try:
        return format_number(evaluate(expression))
    except CalculatorError as exc:
        return f"Error: {exc}"
