"""The parser of expressions: a Pratt parser from tokens to a tree, refusing what could
never be true or never compile.

A comparison with a literal ``null`` is refused (it could never be true); write
``x != null`` for "present" and ``not (x != null)`` for "missing".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import re2  # type: ignore[import-untyped]

from processors.rules.expressions.errors import ExpressionError
from processors.rules.expressions.tokens import CONSTANTS, Token, describe, tokenize
from processors.rules.expressions.tree import (
    BINDING,
    COMPARE,
    COMPARISONS,
    NEGATE,
    NOT,
    Binary,
    Field,
    ListLit,
    Literal,
    Node,
    Unary,
    children,
    start_column,
)

__all__ = ["MAX_DEPTH", "parse", "regex"]

MAX_DEPTH = 100  # nesting levels; deeper trees would strain Python's recursion limit

_NEVER_WITH_NULL = frozenset(COMPARISONS) - {"!=", "not in"}


def parse(text: str, macros: Mapping[str, Node] | None = None) -> Node:
    """The tree of ``text``; raises :class:`ExpressionError` at the first problem.

    A bare name (no dot) found in ``macros`` is replaced by that tree, re-positioned at
    the name so that errors found later point at the use.
    """
    node = _Parser(text, macros or {}).parse()
    _check_depth(node)
    return node


class _Parser:
    def __init__(self, text: str, macros: Mapping[str, Node]) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.macros = macros
        self.depth = 0

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError("empty expression", 1)
        node = self.expression(0, None)
        token = self.peek()
        if token.text == ")" and token.kind == "punct":
            raise ExpressionError("unmatched ')'", token.column)
        if token.kind != "end":
            raise ExpressionError(
                f"expected an operator, found {describe(token)}",
                token.column,
                "join conditions with 'and' or 'or'",
            )
        return node

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expression(self, min_binding: int, after: str | None) -> Node:
        """Operators binding tighter than ``min_binding``; ``after`` names what came before
        (for "expected an operand after 'and'")."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _too_deep(self.peek().column)
        left = self.prefix(min_binding, after)
        chained = False
        while (infix := self.infix()) is not None:
            op, width = infix
            binding, column = BINDING[op], self.peek().column
            if binding <= min_binding:
                break
            if chained and binding == COMPARE:
                raise ExpressionError(
                    f"'{op}' cannot follow another comparison",
                    column,
                    "join two comparisons with 'and'",
                )
            self.pos += width
            right = self.expression(binding, op)
            left = _binary(op, left, right, column)
            chained = binding == COMPARE
        self.depth -= 1
        return left

    def infix(self) -> tuple[str, int] | None:
        """The binary operator at the current token and how many tokens it spans."""
        token = self.peek()
        if token.kind == "keyword" and token.text == "not":
            after = self.peek(1)
            if after.kind == "keyword" and after.text == "in":
                return "not in", 2
            raise ExpressionError(
                f"expected 'in' after 'not', found {describe(after)}", after.column
            )
        if token.kind in ("op", "keyword") and token.text in BINDING:
            return token.text, 1
        return None

    def prefix(self, min_binding: int, after: str | None) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return Literal(token.value, token.column)
        if token.kind == "keyword" and token.text in CONSTANTS:
            return Literal(CONSTANTS[token.text], token.column)
        if token.kind == "name":
            macro = None if "." in token.text else self.macros.get(token.text)
            return Field(token.text, token.column) if macro is None else _moved(macro, token.column)
        if token.text == "not" and token.kind == "keyword":
            if min_binding > NOT:
                raise ExpressionError(
                    "'not' needs parentheses here", token.column, "write '(not …)'"
                )
            return Unary("not", self.expression(NOT, "not"), token.column)
        if token.text == "-" and token.kind == "op":
            number = self.peek()
            if number.kind == "number" and isinstance(number.value, int | float):
                self.pos += 1
                return Literal(-number.value, token.column)
            return Unary("-", self.expression(NEGATE, "-"), token.column)
        if token.text == "(" and token.kind == "punct":
            inner = self.expression(0, "(")
            self.expect(")", f"to close '(' at column {token.column}")
            return inner
        if token.text == "[" and token.kind == "punct":
            return self.list_literal(token.column)
        self.pos -= 1
        where = f" after '{after}'" if after else ""
        found = "" if token.kind == "end" else f", found {describe(token)}"
        raise ExpressionError(f"expected an operand{where}{found}", token.column)

    def expect(self, punct: str, why: str) -> None:
        token = self.take()
        if token.text != punct or token.kind != "punct":
            found = "" if token.kind == "end" else f", found {describe(token)}"
            raise ExpressionError(f"expected '{punct}' {why}{found}", token.column)

    def list_literal(self, column: int) -> ListLit:
        items: list[Literal] = []
        while not (self.peek().text == "]" and self.peek().kind == "punct"):
            token = self.peek()
            if token.kind == "end":
                raise ExpressionError(f"expected ']' to close '[' at column {column}", token.column)
            negative_number = token.text == "-" and self.peek(1).kind == "number"
            if not (
                token.kind in ("number", "string") or token.text in CONSTANTS or negative_number
            ):
                raise ExpressionError(
                    f"expected a literal in the list, found {describe(token)}",
                    token.column,
                    "list elements are numbers, strings, true, false or null",
                )
            item = self.prefix(0, "[")
            assert isinstance(item, Literal)
            items.append(item)
            if self.peek().text != "]" and self.peek().kind != "end":
                self.expect(",", f"or ']' in the list opened at column {column}")
        self.pos += 1
        return ListLit(tuple(items), column)


def _binary(op: str, left: Node, right: Node, column: int) -> Binary:
    """A binary node, refusing what can never be true or never compile."""
    for side, other in ((left, right), (right, left)):
        if op in _NEVER_WITH_NULL and isinstance(side, Literal) and side.value is None:
            hint = None
            if op == "==" and isinstance(other, Field):
                hint = f"to test that {other.path} is missing write 'not ({other.path} != null)'"
            raise ExpressionError(f"'{op}' with null is never true", column, hint)
    if op == "matches":
        regex(right)
    return Binary(op, left, right, column)


def _moved(node: Node, column: int) -> Node:
    """``node`` with every column set to ``column`` (a macro placed at its use)."""
    if isinstance(node, Unary):
        return replace(node, operand=_moved(node.operand, column), column=column)
    if isinstance(node, Binary):
        left, right = _moved(node.left, column), _moved(node.right, column)
        return replace(node, left=left, right=right, column=column)
    if isinstance(node, ListLit):
        return ListLit(tuple(replace(item, column=column) for item in node.items), column)
    return replace(node, column=column)


def _too_deep(column: int) -> ExpressionError:
    return ExpressionError(
        f"expression nested too deeply (more than {MAX_DEPTH} levels)",
        column,
        "split the rule, or use 'x in [...]' instead of a long chain of 'or'",
    )


def _check_depth(root: Node) -> None:
    """Refuse trees deeper than MAX_DEPTH (long operator chains nest to the left)."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(node.column)
        stack.extend((child, depth + 1) for child in children(node))


def regex(pattern: Node) -> Any:
    """The compiled RE2 pattern right of ``matches``; ExpressionError if it is not a valid
    pattern in a string literal."""
    if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
        raise ExpressionError(
            "the pattern after 'matches' must be a string literal", start_column(pattern)
        )
    options = re2.Options()
    options.log_errors = False  # re2 would print to stderr
    options.never_capture = True
    try:
        return re2.compile(pattern.value, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise ExpressionError(
            f"invalid regular expression: {reason}",
            pattern.column,
            "RE2 syntax: no backreferences or lookaround",
        ) from None
