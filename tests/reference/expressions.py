"""The rule language ("Expressions" in rules/README.md), parsed and evaluated plainly.

A tokenizer, a recursive-descent parser into tuples and a tree-walking evaluator. What the
README settles is decided here; what it leaves open raises :class:`Unsettled`, so that a
differential test can set the case aside instead of asserting a guess:

- a missing field is null; a comparison with null is false, except ``!=`` (true when
  the other side is not null) and ``not in`` (a missing field is in no list; a missing
  list: false);
- values of different types are never equal; only numbers order with numbers and
  strings with strings, anything else is false; booleans are not numbers;
- arithmetic on anything but two numbers, or a division by zero, is null;
- ``and``, ``or``, ``not`` read null, 0 and "" as false;
- ``matches`` finds the pattern anywhere in the string;
- comparing an array field holds when any element satisfies the comparison (``in``,
  ``startswith``, ``matches`` alike), ``!=`` and ``not in`` when no element does;
  ``x in array_field`` is membership;
- string operators on non-strings, ``%`` of negative numbers and logic on lists are
  unsettled.

Precedence is the usual one (or < and < not < comparison < ``+ -`` < ``* / %``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Node = tuple[Any, ...]

KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
STRING_OPS = {"startswith", "endswith", "contains", "matches"}
COMPARE_OPS = {"==", "!=", "<", "<=", ">", ">="}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)


class Unsettled(Exception):
    """The README does not decide this case; the reason says which question is open."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExpressionSyntaxError(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise ExpressionSyntaxError(f"cannot read {text[pos:]!r}")
        pos = found.end()
        kind = found.lastgroup
        assert kind is not None
        raw = found.group(kind)
        if kind == "number":
            tokens.append(("lit", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "string":
            tokens.append(("lit", _unquote(raw)))
        elif kind == "name" and raw in ("true", "false", "null"):
            tokens.append(("lit", {"true": True, "false": False, "null": None}[raw]))
        elif kind == "name" and (raw in KEYWORDS or raw in STRING_OPS):
            tokens.append(("kw", raw))
        elif kind == "name":
            tokens.append(("field", raw))
        else:
            tokens.append(("op", raw))
    return tokens


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text: str, definitions: Definitions) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.definitions = definitions

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        if token is not None and token[0] == kind and (value is None or token[1] == value):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, value: Any) -> None:
        if not self.take(kind, value):
            raise ExpressionSyntaxError(f"expected {value!r} at token {self.pos}")

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise ExpressionSyntaxError(f"unexpected {self.peek()!r}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.take("kw", "or"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.take("kw", "and"):
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.take("kw", "not"):
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.arith()
        token = self.peek()
        if token is None:
            return left
        if token[0] == "op" and token[1] in COMPARE_OPS:
            self.pos += 1
            return ("cmp", token[1], left, self.arith())
        if token == ("kw", "in"):
            self.pos += 1
            return ("cmp", "in", left, self.arith())
        if token == ("kw", "not") and self.tokens[self.pos + 1 : self.pos + 2] == [("kw", "in")]:
            self.pos += 2
            return ("cmp", "not in", left, self.arith())
        if token[0] == "kw" and token[1] in STRING_OPS:
            self.pos += 1
            return ("cmp", token[1], left, self.arith())
        return left

    def arith(self) -> Node:
        node = self.term()
        while True:
            token = self.peek()
            if token in (("op", "+"), ("op", "-")):
                self.pos += 1
                node = ("arith", token[1], node, self.term())
            else:
                return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            token = self.peek()
            if token in (("op", "*"), ("op", "/"), ("op", "%")):
                self.pos += 1
                node = ("arith", token[1], node, self.unary())
            else:
                return node

    def unary(self) -> Node:
        if self.take("op", "-"):
            return ("arith", "-", ("lit", 0), self.unary())
        return self.atom()

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise ExpressionSyntaxError("unexpected end")
        self.pos += 1
        if token[0] == "field":
            return self.definitions.expand(token[1])
        if token[0] == "lit":
            return token
        if token == ("op", "("):
            node = self.or_()
            self.expect("op", ")")
            return node
        if token == ("op", "["):
            items: list[Node] = []
            if not self.take("op", "]"):
                items.append(self.or_())
                while self.take("op", ","):
                    items.append(self.or_())
                self.expect("op", "]")
            return ("list", *items)
        raise ExpressionSyntaxError(f"unexpected {token!r}")


class Definitions:
    """A rule folder's ``macros`` (name -> expression text) and ``lists`` (name -> values),
    expanded where a name is used, as if written there in parentheses."""

    def __init__(
        self, macros: Mapping[str, str] | None = None, lists: Mapping[str, list[Any]] | None = None
    ) -> None:
        self.macros = dict(macros or {})
        self.lists = dict(lists or {})
        self._expanding: list[str] = []

    def expand(self, name: str) -> Node:
        if name in self.lists:
            return ("list", *(("lit", value) for value in self.lists[name]))
        if name not in self.macros:
            return ("field", name)
        if name in self._expanding:
            raise ExpressionSyntaxError(f"macro cycle through {name}")
        self._expanding.append(name)
        try:
            return _Parser(self.macros[name], self).parse()
        finally:
            self._expanding.pop()


def parse(text: str, definitions: Definitions | None = None) -> Node:
    return _Parser(text, definitions or Definitions()).parse()


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """A dotted field path through nested mappings; anything missing is null."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def evaluate(node: Node, record: Mapping[str, Any]) -> Any:
    """``node`` over ``record`` (its fields, nested)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return lookup(record, node[1])
    if kind == "list":
        return [evaluate(item, record) for item in node[1:]]
    if kind == "not":
        return not _boolean(evaluate(node[1], record))
    if kind in ("and", "or"):
        left = _boolean(evaluate(node[1], record))
        if kind == "and" and not left:
            return False
        if kind == "or" and left:
            return True
        return _boolean(evaluate(node[2], record))
    if kind == "arith":
        return _arith(node[1], evaluate(node[2], record), evaluate(node[3], record))
    if kind == "cmp":
        op, left, right = node[1], node[2], node[3]
        return compare(op, evaluate(left, record), evaluate(right, record))
    raise AssertionError(node)


def truth(node: Node, record: Mapping[str, Any]) -> bool:
    """``node`` as a match or condition: true, false, or unsettled."""
    return _boolean(evaluate(node, record))


def _boolean(value: Any) -> bool:
    """ "`and`, `or` and `not` read `null`, `0` and `""` as false"; other numbers and
    strings as true."""
    if isinstance(value, bool):
        return value
    if value is None or value == "" or (_number(value) and value == 0):
        return False
    if _number(value) or isinstance(value, str):
        return True
    raise Unsettled(f"logic on {value!r}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _arith(op: str, left: Any, right: Any) -> Any:
    if not (_number(left) and _number(right)):
        return None  # "arithmetic on anything but two numbers … gives null"
    if op in ("/", "%") and right == 0:
        return None
    if op == "%" and (left < 0 or right < 0):
        raise Unsettled("% of negative numbers")
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    return operations[op](left, right)


def compare(op: str, left: Any, right: Any) -> bool:
    if op in ("in", "not in"):
        return _membership(op, left, right)
    if isinstance(left, list):
        if op == "contains":  # "on an array keeps its meaning of membership"
            return _member(right, left)
        if op == "!=":  # "the negations hold when no element does"
            return not any(compare("==", item, right) for item in left)
        return any(compare(op, item, right) for item in left)
    if left is None or right is None:
        return op == "!=" and not (left is None and right is None)
    if op in STRING_OPS:
        if not (isinstance(left, str) and isinstance(right, str)):
            raise Unsettled(f"{op} on {left!r} and {right!r}")
        if op == "startswith":
            return left.startswith(right)
        if op == "endswith":
            return left.endswith(right)
        if op == "contains":
            return right in left
        return re.search(right, left) is not None  # "anywhere in the string"
    if type(left) is not type(right) and not (_number(left) and _number(right)):
        return op == "!="  # "different types are never equal", nor ordered
    if isinstance(left, bool) and op not in ("==", "!="):
        return False  # "booleans are not numbers": they do not order
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _membership(op: str, left: Any, right: Any) -> bool:
    if right is None:
        return False  # "a missing list: false"
    if left is None:
        return op == "not in"  # "a missing field is in no list"
    if not isinstance(right, list):
        raise Unsettled(f"in on {right!r}, not a list")
    if isinstance(left, list):
        found = any(_member(item, right) for item in left)
        return found if op == "in" else not found  # "not in": no element is in it
    found = _member(left, right)
    return found if op == "in" else not found


def _member(value: Any, values: list[Any]) -> bool:
    for item in values:
        if type(item) is not type(value) and not (_number(item) and _number(value)):
            continue  # "values of different types are never equal"
        if item == value:
            return True
    return False
