"""Conditions (:mod:`~processors.rules.expressions` trees) as durable_rules formulas.

:class:`Translator` turns each condition into a :data:`Formula`: tests on the properties
that :mod:`~processors.rules.durable_rules_matcher` posts, each a field's value in the
encoding of :mod:`~processors.rules.durable_encoding`, combined with and/or. This module
imports no ``durable``: the matcher builds the durable_rules ruleset from the formulas
(its docstring says what the encoding and the formulas rely on in durable_rules). What
durable_rules cannot decide exactly raises :class:`Untranslatable` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from processors.rules.durable_encoding import (
    FALSY,
    MAX_ENCODED,
    NULL,
    NUMBERS,
    OTHERS,
    STRINGS,
    STRINGS_END,
    encode,
    utf8_hex,
)
from processors.rules.expressions import Binary, Field, ListLit, Literal, Node, Unary, compile_expr

__all__ = [
    "MAX_ALTERNATIVES",
    "MAX_CONTAINS_BYTES",
    "MAX_KEYS",
    "AllOf",
    "AnyOf",
    "Formula",
    "Test",
    "Translator",
    "Untranslatable",
    "all_of",
    "any_of",
    "keys_of",
]


# Limits of durable_rules on what we compile (the encoding's own: MAX_ENCODED).
# Longest ``contains`` string: its regex must fit durable_rules' automaton (measured:
# 500 bytes compile, 1,000 do not).
MAX_CONTAINS_BYTES = 256
MAX_ALTERNATIVES = 256  # ``x in "literal"`` becomes one test per distinct substring
MAX_KEYS = 200  # properties per event (measured: 254 with id and sid are refused)


class Untranslatable(Exception):
    """A condition durable_rules cannot decide exactly; ``args[0]`` says why."""


@dataclass(frozen=True, slots=True)
class Test:
    """``key op operand`` on the posted properties. ``op`` is a comparison (``operand``
    an encoded constant, or with ``other`` a second key), ``matches`` (a durable_rules
    regex) or ``has`` (some item of the list property equals ``operand``)."""

    key: str
    op: str
    operand: str
    other: bool = False
    source: str = ""  # our operator, for the reason when it cannot be negated


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Formula, ...]


Formula = Test | AllOf | AnyOf | bool

_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})


def all_of(parts: Iterable[Formula]) -> Formula:
    kept: list[Formula] = []
    for part in parts:
        if part is False:
            return False
        if part is not True:
            kept.extend(part.parts if isinstance(part, AllOf) else (part,))
    return True if not kept else kept[0] if len(kept) == 1 else AllOf(tuple(kept))


def any_of(parts: Iterable[Formula]) -> Formula:
    kept: list[Formula] = []
    for part in parts:
        if part is True:
            return True
        if part is not False:
            kept.extend(part.parts if isinstance(part, AnyOf) else (part,))
    return False if not kept else kept[0] if len(kept) == 1 else AnyOf(tuple(kept))


def _negate(formula: Formula) -> Formula:
    """Exact because every referenced property is always present: ``not (a < b)`` is
    ``a >= b`` on two strings."""
    if isinstance(formula, bool):
        return not formula
    if isinstance(formula, Test):
        if formula.op not in _FLIP:
            raise Untranslatable(
                f"'not' over '{formula.source}': durable_rules has no negated regex or list test"
            )
        return replace(formula, op=_FLIP[formula.op])
    if isinstance(formula, AllOf):
        return any_of(_negate(part) for part in formula.parts)
    return all_of(_negate(part) for part in formula.parts)


def keys_of(formula: Formula) -> set[str]:
    if isinstance(formula, bool):
        return set()
    if isinstance(formula, Test):
        return {formula.key, formula.operand} if formula.other else {formula.key}
    return set().union(*(keys_of(part) for part in formula.parts))


def _constant(node: Literal | ListLit) -> Any:
    return node.value if isinstance(node, Literal) else [i.value for i in node.items]


def _literal(value: Any) -> str:
    encoded = encode(value)
    if encoded is None:
        raise Untranslatable(f"a literal longer than {MAX_ENCODED} bytes once encoded")
    return encoded


def _in_kind(key: str, kind: str, op: str, bound: str) -> Formula:
    """``key op bound`` among the values of one kind (``n`` or ``s``)."""
    end = STRINGS_END if kind == STRINGS else OTHERS
    if op in ("<", "<="):
        return all_of((Test(key, ">=", kind), Test(key, op, bound)))
    return all_of((Test(key, op, bound), Test(key, "<", end)))


class Translator:
    """Conditions → formulas; shares one property per field path across all rules:
    ``v<i>`` the encoded value, ``e<i>`` the encoded reversed string (``endswith``),
    ``l<i>`` the encoded items of a list (``contains``)."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # key → (kind, path)

    def key(self, field: Field, kind: str = "v") -> str:
        key = f"{kind}{self.paths.setdefault(field.path, len(self.paths))}"
        self.keys[key] = (kind, field.path)
        return key

    def truth(self, node: Node) -> Formula:
        """The formula for ``bool(value of node)``."""
        if isinstance(node, Literal | ListLit):
            return bool(_constant(node))
        if isinstance(node, Field):
            key = self.key(node)
            return all_of(Test(key, "!=", falsy) for falsy in FALSY)
        if isinstance(node, Unary):
            if node.op == "not":
                return _negate(self.truth(node.operand))
            raise Untranslatable(_ARITHMETIC_REASON.format(op="-"))
        if node.op == "and":
            return all_of((self.truth(node.left), self.truth(node.right)))
        if node.op == "or":
            return any_of((self.truth(node.left), self.truth(node.right)))
        if node.op in _ARITHMETIC:
            raise Untranslatable(_ARITHMETIC_REASON.format(op=node.op))
        return self.comparison(node)

    def comparison(self, node: Binary) -> Formula:
        op, left, right = node.op, node.left, node.right
        if op == "matches":
            raise Untranslatable(
                "'matches': durable_rules regexes are anchored, byte-wise and of their own "
                "dialect, not an RE2 search"
            )
        for side in (left, right):
            if isinstance(side, Unary | Binary):
                if side.op in _ARITHMETIC or side.op == "-":
                    raise Untranslatable(_ARITHMETIC_REASON.format(op=side.op))
                raise Untranslatable(f"the value of '{side.op}' compared with '{op}'")
        if isinstance(left, Literal | ListLit) and isinstance(right, Literal | ListLit):
            return bool(compile_expr(node)({}))
        if isinstance(left, Field) and isinstance(right, Field):
            return self.field_vs_field(op, left, right)
        if isinstance(left, Field):
            assert isinstance(right, Literal | ListLit)
            return self.field_op_constant(op, left, _constant(right))
        assert isinstance(right, Field) and isinstance(left, Literal | ListLit)
        return self.constant_op_field(op, _constant(left), right)

    def field_vs_field(self, op: str, left: Field, right: Field) -> Formula:
        if op not in _MIRROR:
            raise Untranslatable(
                f"'{op}' between two fields: lists, maps and substrings of two values are "
                "not comparable in durable_rules"
            )
        a, b = self.key(left), self.key(right)
        return any_of(
            all_of(
                (
                    Test(a, ">=", kind),
                    Test(a, "<", end),
                    Test(b, ">=", kind),
                    Test(b, "<", end),
                    Test(a, op, b, other=True),
                )
            )
            for kind, end in ((NUMBERS, OTHERS), (STRINGS, STRINGS_END))
        )

    def field_op_constant(self, op: str, field: Field, constant: Any) -> Formula:
        key = self.key(field)
        if op in ("==", "!="):
            if isinstance(constant, list):
                raise Untranslatable(f"'{op}' with a list: lists compare by content")
            if constant is None:  # == null never holds; != null means present
                return False if op == "==" else Test(key, "!=", NULL)
            return Test(key, op, _literal(constant))
        if op in _MIRROR:  # ordering needs two numbers or two strings
            if constant.__class__ in (int, float):
                return _in_kind(key, NUMBERS, op, _literal(constant))
            if isinstance(constant, str):
                return _in_kind(key, STRINGS, op, _literal(constant))
            return False
        if op in ("in", "not in"):
            if isinstance(constant, list):
                values: Iterable[Any] = (v for v in constant if v is not None)
            elif isinstance(constant, str):
                values = _substrings(constant)
            else:  # in a number, true or null: never; not in: only a null list fails
                return op == "not in" and constant is not None
            return self.one_of(key, values, negate=op == "not in")
        if op == "contains":
            return self.contains(field, constant)
        if not isinstance(constant, str):  # startswith / endswith
            return False
        if op == "startswith":
            return self.prefix(key, utf8_hex(constant))
        return self.prefix(self.key(field, "e"), utf8_hex(constant[::-1]))

    def constant_op_field(self, op: str, constant: Any, field: Field) -> Formula:
        if op in ("==", "!=") or op in _MIRROR:
            return self.field_op_constant(_MIRROR.get(op, op), field, constant)
        key = self.key(field)
        if op == "in":  # constant in field: field contains constant
            return False if constant is None else self.contains(field, constant)
        if op == "not in":
            if constant is None:  # null is in nothing: true when the field is present
                return Test(key, "!=", NULL)
            raise Untranslatable(
                "'not in' a field: durable_rules has no negated regex or list test"
            )
        if op == "contains":  # field in constant
            return self.field_op_constant("in", field, constant)
        if not isinstance(constant, str):
            return False
        if op == "startswith":  # field is a prefix of constant
            return self.one_of(key, {constant[:n] for n in range(len(constant) + 1)})
        return self.one_of(key, {constant[n:] for n in range(len(constant) + 1)})

    def one_of(self, key: str, values: Iterable[Any], *, negate: bool = False) -> Formula:
        encoded = sorted({_literal(v) for v in values})
        if len(encoded) > MAX_ALTERNATIVES:
            raise Untranslatable(f"'in' over more than {MAX_ALTERNATIVES} values")
        if negate:
            return all_of(Test(key, "!=", e) for e in encoded)
        return any_of(Test(key, "==", e) for e in encoded)

    def prefix(self, key: str, hex_prefix: str) -> Formula:
        """Strings whose hex starts with ``hex_prefix``: ``[s+prefix, s+prefix+"g")``,
        as ``g`` sorts after every hex digit."""
        low = STRINGS + hex_prefix
        if len(low) + 1 > MAX_ENCODED:
            raise Untranslatable(f"a literal longer than {MAX_ENCODED} bytes once encoded")
        return all_of((Test(key, ">=", low), Test(key, "<", low + "g")))

    def contains(self, field: Field, constant: Any) -> Formula:
        """``field contains constant``: a substring of a string, or an item of a list."""
        if constant is None:
            return False
        if isinstance(constant, list):
            raise Untranslatable("'contains' a list: lists compare by content")
        in_list = Test(self.key(field, "l"), "has", _literal(constant), source="contains")
        if not isinstance(constant, str):
            return in_list
        if not constant:
            in_string = _in_kind(self.key(field), STRINGS, ">=", STRINGS)
        else:
            size = len(constant.encode("utf-8", "surrogatepass"))
            if size > MAX_CONTAINS_BYTES:
                raise Untranslatable(
                    f"'contains' a {size}-byte string: durable_rules' regex automaton takes "
                    f"at most {MAX_CONTAINS_BYTES}"
                )
            # Any whole number of bytes (two hex digits each), the needle, anything.
            pattern = f"{STRINGS}([0-9a-f][0-9a-f])*{utf8_hex(constant)}.*"
            in_string = Test(self.key(field), "matches", pattern, source="contains")
        return any_of((in_string, in_list))


_ARITHMETIC_REASON = (
    "arithmetic ('{op}'): durable_rules computes in C longs and doubles (7 / 2 == 3, "
    "an integer division by zero kills the process), only right of a comparison, "
    "and has no '%'"
)


def _substrings(text: str) -> set[str]:
    if len(text) * (len(text) + 1) // 2 > MAX_ALTERNATIVES * 4:
        raise Untranslatable(f"'in' a string of {len(text)} characters: too many substrings")
    return {text[i:j] for i in range(len(text) + 1) for j in range(i, len(text) + 1)}
