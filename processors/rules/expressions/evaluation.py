"""Evaluation of an expression: its tree compiled to nested closures, which never raise.

Evaluation never raises, whatever the record holds:

- a missing field is ``None``; a comparison with ``None`` is false, except ``!=``,
  which is true when the other side is not ``None``; ``x not in list`` is true for a
  missing ``x`` but false when the list itself is missing;
- ``true`` and ``false`` are not numbers: ``true == 1`` is false, ``true + 1`` is null;
- ordering needs two numbers or two strings, else it is false;
- arithmetic on anything but numbers, division by zero and overflow give ``None``;
- ``and``, ``or`` and ``not`` use truthiness (``None``, ``0``, ``""`` are false) and
  give booleans;
- ``matches`` searches (unanchored) with RE2, linear in the text, and its pattern is a
  string literal compiled once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from processors.rules.expressions.parser import parse, regex
from processors.rules.expressions.tree import Binary, Field, ListLit, Literal, Node, Unary

__all__ = ["Evaluator", "Record", "compile_expr", "compile_predicate"]

Record = Mapping[str, Any]
Evaluator = Callable[[Record], Any]


# Exact classes, so that bool (a subclass of int) is not a number here.
_NUMBERS: frozenset[type[Any]] = frozenset({int, float})


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if a.__class__ is bool or b.__class__ is bool:
        return a is b
    return bool(a == b)


def _ne(a: Any, b: Any) -> bool:
    return (a is not None or b is not None) and not _eq(a, b)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def ordered(a: Any, b: Any) -> bool:
        kinds = a.__class__, b.__class__
        if (kinds[0] in _NUMBERS and kinds[1] in _NUMBERS) or kinds == (str, str):
            return compare(a, b)
        return False

    return ordered


def _in(a: Any, b: Any) -> bool:
    if a is None:
        return False
    if isinstance(b, str):
        return isinstance(a, str) and a in b
    if isinstance(b, list | tuple):
        return any(_eq(a, item) for item in b)
    return False


def _not_in(a: Any, b: Any) -> bool:
    return b is not None and not _in(a, b)


def _contains(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        return isinstance(b, str) and b in a
    return _in(b, a) if isinstance(a, list | tuple) else False


def _string_test(method: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def test(a: Any, b: Any) -> bool:
        return isinstance(a, str) and isinstance(b, str) and method(a, b)

    return test


def _negate(value: Any) -> Any:
    return -value if value.__class__ in _NUMBERS else None


def _arithmetic(compute: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def arithmetic(a: Any, b: Any) -> Any:
        if a.__class__ in _NUMBERS and b.__class__ in _NUMBERS:
            try:
                return compute(a, b)
            except ArithmeticError:  # division by zero, int too large for a float
                return None
        return None

    return arithmetic


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _eq,
    "!=": _ne,
    "<": _ordering(operator.lt),
    "<=": _ordering(operator.le),
    ">": _ordering(operator.gt),
    ">=": _ordering(operator.ge),
    "in": _in,
    "not in": _not_in,
    "contains": _contains,
    "startswith": _string_test(str.startswith),
    "endswith": _string_test(str.endswith),
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": _arithmetic(operator.add),
    "-": _arithmetic(operator.sub),
    "*": _arithmetic(operator.mul),
    "/": _arithmetic(operator.truediv),
    "%": _arithmetic(operator.mod),
}
_NEGATED = {"!=": "==", "not in": "in"}


def _array_aware(op: str) -> Callable[[Any, Any], bool]:
    """The test of ``op`` with a list on the left (an ECS field such as
    ``event.category: ["authentication"]``): true when any element passes, as in KQL,
    EQL and Sigma; ``!=`` and ``not in`` when no element passes ``==`` / ``in``.
    ``contains`` keeps its own meaning on lists (membership)."""
    test = _TESTS[op]
    if op == "contains":
        return test
    if op in _NEGATED:
        positive = _array_aware(_NEGATED[op])

        def none_passes(a: Any, b: Any) -> bool:
            return not positive(a, b) if a.__class__ is list else test(a, b)

        return none_passes

    def any_passes(a: Any, b: Any) -> bool:
        if a.__class__ is list:
            return any(test(item, b) for item in a)
        return test(a, b)

    return any_passes


_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compile_expr(node: Node) -> Evaluator:
    """A function of a record (nested mappings) giving the expression's value; it never
    raises. An invalid ``matches`` pattern raises :class:`ExpressionError` here."""
    if isinstance(node, Literal | ListLit):
        value = _constant(node)
        return lambda record: value
    if isinstance(node, Field):
        return _getter(node.path)
    if isinstance(node, Unary):
        operand = compile_expr(node.operand)
        if node.op == "not":
            return lambda record: not operand(record)
        return lambda record: _negate(operand(record))
    if node.op in ("and", "or"):
        return _compile_logic(node)
    if node.op == "matches":
        return _compile_matches(node)
    if node.op in _ARITHMETIC:
        compute = _ARITHMETIC[node.op]
        left, right = compile_expr(node.left), compile_expr(node.right)
        return lambda record: compute(left(record), right(record))
    return _compile_comparison(node)


def compile_predicate(
    text: str, macros: Mapping[str, Node] | None = None
) -> Callable[[Record], bool]:
    """``text`` parsed and compiled, its value taken as true or false."""
    node = parse(text, macros)
    evaluate = compile_expr(node)
    if _gives_bool(node):
        return evaluate
    return lambda record: bool(evaluate(record))


def _constant(node: Literal | ListLit) -> Any:
    return node.value if isinstance(node, Literal) else [item.value for item in node.items]


def _gives_bool(node: Node) -> bool:
    if isinstance(node, Binary):
        return node.op not in _ARITHMETIC
    if isinstance(node, Unary):
        return node.op == "not"
    return isinstance(node, Literal) and isinstance(node.value, bool)


def _getter(path: str) -> Evaluator:
    """One dict lookup for a plain name. A dotted path walks nested mappings and, where
    that fails, also tries names joined by dots as one key at each level (so
    ``attributes.http.status_code`` finds ``{"attributes": {"http.status_code": 500}}``)."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        key = parts[0]
        return lambda record: record.get(key)
    # keys[i]: every key a level may hold for parts[i:], with where the rest starts.
    keys = tuple(
        tuple((".".join(parts[i:end]), end) for end in range(i + 1, len(parts) + 1))
        for i in range(len(parts))
    )

    def get(record: Record) -> Any:
        node: Any = record
        for part in parts:
            if node.__class__ is not dict and not isinstance(node, Mapping):
                return _lookup_dotted(record, keys, 0)
            node = node.get(part)
            if node is None:
                return _lookup_dotted(record, keys, 0)
        return node

    return get


def _lookup_dotted(node: Any, keys: tuple[tuple[tuple[str, int], ...], ...], start: int) -> Any:
    if not isinstance(node, Mapping):
        return None
    for key, rest in keys[start]:
        value = node.get(key)
        if value is None:
            continue
        if rest == len(keys):
            return value
        found = _lookup_dotted(value, keys, rest)
        if found is not None:
            return found
    return None


def _compile_logic(node: Binary) -> Evaluator:
    left, right = compile_expr(node.left), compile_expr(node.right)
    if _gives_bool(node.left) and _gives_bool(node.right):
        if node.op == "and":
            return lambda record: left(record) and right(record)
        return lambda record: left(record) or right(record)
    if node.op == "and":
        return lambda record: bool(left(record)) and bool(right(record))
    return lambda record: bool(left(record)) or bool(right(record))


def _compile_matches(node: Binary) -> Evaluator:
    search, text_of = regex(node.right).search, compile_expr(node.left)

    def matches(record: Record) -> bool:
        text = text_of(record)
        if text.__class__ is list:  # an array field: any element
            return any(_searched(search, item) for item in text)
        return _searched(search, text)

    return matches


def _searched(search: Callable[[str], Any], text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return search(text) is not None
    except UnicodeError:  # lone surrogates cannot be encoded for RE2
        return False


def _compile_comparison(node: Binary) -> Evaluator:
    op, left, right = node.op, node.left, node.right
    if isinstance(left, Literal) and not isinstance(right, Literal | ListLit) and op in _MIRRORED:
        op, left, right = _MIRRORED[op], right, left
    test = _array_aware(op)
    if not isinstance(right, Literal | ListLit):
        left_of, right_of = compile_expr(left), compile_expr(right)
        return lambda record: test(left_of(record), right_of(record))
    constant = _constant(right)
    if isinstance(right, ListLit) and op in ("in", "not in"):
        member = _membership(constant)
        value_of = compile_expr(left)
        if op == "in":
            return lambda record: member(value_of(record))
        return lambda record: not member(value_of(record))
    if isinstance(left, Field) and "." not in left.path:
        fast = _field_vs_constant(left.path, op, constant)
        if fast is not None:
            return fast
    value_of = compile_expr(left)
    return lambda record: test(value_of(record), constant)


def _membership(values: list[Any]) -> Callable[[Any], bool]:
    """``value in values`` by the rules of ``==``, with sets (a list literal holds
    scalars); a list value is in when any element is."""
    booleans = frozenset(v for v in values if v.__class__ is bool)
    others = frozenset(v for v in values if v is not None and v.__class__ is not bool)

    def member(value: Any) -> bool:
        kind = value.__class__
        if kind is str or kind is int or kind is float:
            return value in others
        if kind is list:
            return any(member(item) for item in value)
        return value in booleans if kind is bool else False

    return member


def _field_vs_constant(key: str, op: str, constant: Any) -> Evaluator | None:
    """Inlined closures for the commonest shapes (``name == "…"``, ``value > 0.9``) on a
    plain name: one dict lookup and one comparison, no further calls; a list value (an
    array field) takes the general path of :func:`_array_aware` only when the plain
    comparison failed."""
    kind = constant.__class__
    general = _array_aware(op)
    if op == "==" and kind is str:
        return lambda record: (
            (v := record.get(key)) == constant or (v.__class__ is list and constant in v)
        )
    if op == "!=" and kind is str:
        return lambda record: (
            (v := record.get(key)) != constant and not (v.__class__ is list and constant in v)
        )
    if op == "==" and kind in _NUMBERS:
        return lambda record: (
            ((v := record.get(key)) == constant and v.__class__ is not bool)
            or (v.__class__ is list and general(v, constant))
        )
    if op in _ORDER and kind in _NUMBERS:
        order = _ORDER[op]
        return lambda record: (
            ((v := record.get(key)).__class__ in _NUMBERS and order(v, constant))
            or (v.__class__ is list and general(v, constant))
        )
    if op in _ORDER and kind is str:
        order = _ORDER[op]
        return lambda record: (
            ((v := record.get(key)).__class__ is str and order(v, constant))
            or (v.__class__ is list and general(v, constant))
        )
    return None
