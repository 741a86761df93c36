"""The expression language of rule files (``match``, ``condition``): parse, check, compile.

    name == "system.cpu.utilization" and value > 0.9 and host != "db-1"
    labels.state in ["used", "cached"] and not (service startswith "test-")
    body matches "timeout after [0-9]+ ms"

Nothing is evaluated as Python: a hand-written tokenizer and a Pratt parser build an
AST of frozen dataclasses, which compiles to nested closures. Operators, lowest
precedence first: ``or``; ``and``; prefix ``not``; the comparisons ``== != < <= > >=
in, not in, startswith, endswith, contains, matches`` (not chainable); ``+ -``;
``* / %``; unary ``-``. Field paths are dotted names (``attributes.http.status_code``);
a name after a dot may be a keyword (``labels.in``), a first name may not.

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

A comparison with a literal ``null`` is refused (it could never be true); write
``x != null`` for "present" and ``not (x != null)`` for "missing".
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import re2  # type: ignore[import-untyped]

from processors.errors import OpsrulesError

__all__ = [
    "Binary",
    "ExpressionError",
    "Field",
    "ListLit",
    "Literal",
    "Node",
    "Unary",
    "check_fields",
    "closest",
    "compile_expr",
    "compile_predicate",
    "fields",
    "parse",
    "render",
]

Record = Mapping[str, Any]
Evaluator = Callable[[Record], Any]
Scalar = None | bool | int | float | str

MAX_DEPTH = 100  # nesting levels; deeper trees would strain Python's recursion limit


class ExpressionError(OpsrulesError, ValueError):
    """A broken expression: ``message`` at ``column`` (1-based, in the expression text),
    with ``hint`` saying what to write instead when we can tell."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message = message
        self.column = column
        self.hint = hint
        super().__init__(f"column {column}: {message}" + (f" ({hint})" if hint else ""))


# --- the tree --------------------------------------------------------------------------
# ``column`` is where the node starts in the text (for operators: where the operator is);
# it takes no part in equality, so equal trees mean the same expression.


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    value: Scalar
    column: int = 0

    def __eq__(self, other: object) -> bool:  # 1, 1.0 and true are three literals
        return (
            isinstance(other, Literal)
            and type(self.value) is type(other.value)
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Literal, ...]
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Field:
    path: str  # dotted: "attributes.http.status_code"
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" or "-"
    operand: Node
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "and", "==", "not in", "+", …
    left: Node
    right: Node
    column: int = field(default=0, compare=False)


Node = Literal | ListLit | Field | Unary | Binary

_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _NEGATE, _ATOM = 10, 20, 30, 40, 50, 60, 70, 100
_COMPARISONS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
_COMPARISONS += ("startswith", "endswith", "contains", "matches")
_BINDING = {"or": _OR, "and": _AND, **dict.fromkeys(_COMPARISONS, _COMPARE)}
_BINDING |= {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "%": _PRODUCT}
_NEVER_WITH_NULL = frozenset(_COMPARISONS) - {"!=", "not in"}

# --- tokens ----------------------------------------------------------------------------

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "true", "false", "null"}
    | {"startswith", "endswith", "contains", "matches"}
)
_CONSTANTS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_NUMBER_JUNK = re.compile(r"[A-Za-z0-9_.]*")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_OPERATOR_HINTS = {
    "=": "use '==' to compare",
    "===": "use '=='",
    "!==": "use '!='",
    "!": "use 'not'",
    "<>": "use '!='",
    "=>": "use '>='",
    "=<": "use '<='",
    "&&": "use 'and'",
    "&": "use 'and'",
    "||": "use 'or'",
    "|": "use 'or'",
}


class _Token(NamedTuple):
    kind: str  # "number", "string", "name", "keyword", "op", "punct", "end"
    text: str  # as written
    column: int
    value: Scalar = None  # numbers and strings: the value; names: the dotted path


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end"
    text = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"'{text}'"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i == n:
            tokens.append(_Token("end", "", len(text.rstrip()) + 1))
            return tokens
        char, column = text[i], i + 1
        if char.isascii() and (char.isalpha() or char == "_"):
            token, i = _scan_path(text, i)
        elif char.isascii() and char.isdigit():
            token, i = _scan_number(text, i)
        elif char in "\"'":
            token, i = _scan_string(text, i)
        elif char in "=!<>&|":
            end = i
            while end < n and text[end] in "=!<>&|":
                end += 1
            op = text[i:end]
            if op not in _COMPARISONS:
                raise ExpressionError(f"unknown operator '{op}'", column, _OPERATOR_HINTS.get(op))
            token, i = _Token("op", op, column), end
        elif char in "+-*/%":
            token, i = _Token("op", char, column), i + 1
        elif char in "()[],":
            token, i = _Token("punct", char, column), i + 1
        else:
            hint = "use straight quotes \" or '" if char in "“”‘’`´" else None
            raise ExpressionError(f"unexpected character {char!r}", column, hint)
        tokens.append(token)


def _scan_path(text: str, start: int) -> tuple[_Token, int]:
    match = _NAME.match(text, start)
    assert match is not None
    first, end = match.group(), match.end()
    if first in KEYWORDS:
        if text.startswith(".", end):
            raise ExpressionError(f"'{first}' is a reserved word, not a field name", start + 1)
        return _Token("keyword", first, start + 1), end
    while text.startswith(".", end):
        match = _NAME.match(text, end + 1)
        if match is None:
            raise ExpressionError("expected a name after '.'", end + 2)
        end = match.end()
    path = text[start:end]
    return _Token("name", path, start + 1, path), end


def _scan_number(text: str, start: int) -> tuple[_Token, int]:
    match = _NUMBER.match(text, start)
    assert match is not None
    end = match.end()
    junk = _NUMBER_JUNK.match(text, end)
    if junk is not None and junk.end() > end:
        raise ExpressionError(
            f"invalid number '{text[start : junk.end()]}'", start + 1, "write e.g. 42, 0.5 or 1e3"
        )
    lexeme = match.group()
    try:
        value = float(lexeme) if match.group(1) or match.group(2) else int(lexeme)
    except ValueError:  # more digits than int() accepts
        value = float("inf")
    if value == float("inf"):
        raise ExpressionError(f"number '{lexeme[:24]}' is out of range", start + 1)
    return _Token("number", lexeme, start + 1, value), end


def _scan_string(text: str, start: int) -> tuple[_Token, int]:
    quote, i, n = text[start], start + 1, len(text)
    chars: list[str] = []
    while i < n and text[i] != quote:
        if text[i] != "\\":
            chars.append(text[i])
            i += 1
            continue
        escape = text[i + 1 : i + 2]
        if escape in _ESCAPES:
            chars.append(_ESCAPES[escape])
            i += 2
        elif escape in ("u", "U"):
            width = 4 if escape == "u" else 8
            digits = text[i + 2 : i + 2 + width]
            if len(digits) < width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ExpressionError(f"expected {width} hex digits after '\\{escape}'", i + 1)
            if int(digits, 16) > 0x10FFFF:
                raise ExpressionError(f"'\\{escape}{digits}' is not a Unicode character", i + 1)
            chars.append(chr(int(digits, 16)))
            i += 2 + width
        elif escape == "":  # a backslash ends the text
            i = n
        else:
            raise ExpressionError(
                f"unknown escape '\\{escape}' in a string",
                i + 1,
                f"write '\\\\{escape}' for a backslash followed by '{escape}'",
            )
    if i >= n:
        raise ExpressionError("unterminated string", start + 1, f"close it with {quote}")
    return _Token("string", text[start : i + 1], start + 1, "".join(chars)), i + 1


# --- parsing ---------------------------------------------------------------------------


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
        self.tokens = _tokenize(text)
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
                f"expected an operator, found {_describe(token)}",
                token.column,
                "join conditions with 'and' or 'or'",
            )
        return node

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
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
            binding, column = _BINDING[op], self.peek().column
            if binding <= min_binding:
                break
            if chained and binding == _COMPARE:
                raise ExpressionError(
                    f"'{op}' cannot follow another comparison",
                    column,
                    "join two comparisons with 'and'",
                )
            self.pos += width
            right = self.expression(binding, op)
            left = _binary(op, left, right, column)
            chained = binding == _COMPARE
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
                f"expected 'in' after 'not', found {_describe(after)}", after.column
            )
        if token.kind in ("op", "keyword") and token.text in _BINDING:
            return token.text, 1
        return None

    def prefix(self, min_binding: int, after: str | None) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return Literal(token.value, token.column)
        if token.kind == "keyword" and token.text in _CONSTANTS:
            return Literal(_CONSTANTS[token.text], token.column)
        if token.kind == "name":
            macro = None if "." in token.text else self.macros.get(token.text)
            return Field(token.text, token.column) if macro is None else _moved(macro, token.column)
        if token.text == "not" and token.kind == "keyword":
            if min_binding > _NOT:
                raise ExpressionError(
                    "'not' needs parentheses here", token.column, "write '(not …)'"
                )
            return Unary("not", self.expression(_NOT, "not"), token.column)
        if token.text == "-" and token.kind == "op":
            number = self.peek()
            if number.kind == "number" and isinstance(number.value, int | float):
                self.pos += 1
                return Literal(-number.value, token.column)
            return Unary("-", self.expression(_NEGATE, "-"), token.column)
        if token.text == "(" and token.kind == "punct":
            inner = self.expression(0, "(")
            self.expect(")", f"to close '(' at column {token.column}")
            return inner
        if token.text == "[" and token.kind == "punct":
            return self.list_literal(token.column)
        self.pos -= 1
        where = f" after '{after}'" if after else ""
        found = "" if token.kind == "end" else f", found {_describe(token)}"
        raise ExpressionError(f"expected an operand{where}{found}", token.column)

    def expect(self, punct: str, why: str) -> None:
        token = self.take()
        if token.text != punct or token.kind != "punct":
            found = "" if token.kind == "end" else f", found {_describe(token)}"
            raise ExpressionError(f"expected '{punct}' {why}{found}", token.column)

    def list_literal(self, column: int) -> ListLit:
        items: list[Literal] = []
        while not (self.peek().text == "]" and self.peek().kind == "punct"):
            token = self.peek()
            if token.kind == "end":
                raise ExpressionError(f"expected ']' to close '[' at column {column}", token.column)
            negative_number = token.text == "-" and self.peek(1).kind == "number"
            if not (
                token.kind in ("number", "string") or token.text in _CONSTANTS or negative_number
            ):
                raise ExpressionError(
                    f"expected a literal in the list, found {_describe(token)}",
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
        _regex(right)
    return Binary(op, left, right, column)


def _column(node: Node) -> int:
    """Where the text of ``node`` starts (a binary node keeps its operator's column)."""
    while isinstance(node, Binary):
        node = node.left
    return node.column


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
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    return ()


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def _regex(pattern: Node) -> Any:
    """The compiled RE2 pattern right of ``matches``; ExpressionError if it is not a valid
    pattern in a string literal."""
    if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
        raise ExpressionError(
            "the pattern after 'matches' must be a string literal", _column(pattern)
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


# --- what an expression names ----------------------------------------------------------


def fields(node: Node) -> set[str]:
    """Every field path the expression reads."""
    return {n.path for n in _walk(node) if isinstance(n, Field)}


def check_fields(
    node: Node, known: Iterable[str], *, open_prefixes: Iterable[str] = ()
) -> list[ExpressionError]:
    """One error per reference to a path that is neither in ``known`` nor under one of
    ``open_prefixes`` (free-form maps such as ``labels``: ``labels.<anything>``)."""
    names = sorted(set(known))
    prefixes = tuple(f"{p}." for p in open_prefixes)
    errors: list[ExpressionError] = []
    for ref in sorted((n for n in _walk(node) if isinstance(n, Field)), key=lambda f: f.column):
        if ref.path in names or ref.path.startswith(prefixes):
            continue
        close = closest(ref.path, names, open_prefixes)
        hint = f"did you mean '{close}'?" if close else None
        errors.append(ExpressionError(f"unknown field '{ref.path}'", ref.column, hint))
    return errors


def closest(path: str, names: Iterable[str], open_prefixes: Iterable[str] = ()) -> str | None:
    """The name closest to the unknown ``path`` (for "did you mean"), if one is close
    enough. ``lables.cpu`` may mean ``labels.cpu`` when ``labels`` is an open prefix."""
    candidates = list(dict.fromkeys(names))
    _, dot, rest = path.partition(".")
    if dot:
        candidates += [f"{p}.{rest}" for p in open_prefixes]
    close = difflib.get_close_matches(path, candidates, n=1)
    return close[0] if close else None


# --- canonical text --------------------------------------------------------------------


def render(node: Node) -> str:
    """Canonical text: one space around binary operators, parentheses only where needed,
    strings in double quotes. ``parse(render(n)) == n``. Stable: rule versions hash it."""
    if isinstance(node, Literal):
        return _render_literal(node.value)
    if isinstance(node, ListLit):
        return "[" + ", ".join(_render_literal(item.value) for item in node.items) + "]"
    if isinstance(node, Field):
        return node.path
    if isinstance(node, Unary):
        if node.op == "not":  # "not (a == b)" reads better than the equal "not a == b"
            operand = render(node.operand)
            return f"not ({operand})" if isinstance(node.operand, Binary) else f"not {operand}"
        operand = render(node.operand)
        return "-" + (operand if isinstance(node.operand, Field) else f"({operand})")
    binding = _BINDING[node.op]
    # Left-associative: an equal left operand needs no parentheses, except a comparison
    # (they do not chain); an equal right operand always does.
    left = _render_operand(node.left, binding, parenthesize_equal=binding == _COMPARE)
    right = _render_operand(node.right, binding, parenthesize_equal=True)
    return f"{left} {node.op} {right}"


def _binding_of(node: Node) -> int:
    if isinstance(node, Binary):
        return _BINDING[node.op]
    if isinstance(node, Unary):
        return _NOT if node.op == "not" else _NEGATE
    return _ATOM


def _render_operand(node: Node, binding: int, *, parenthesize_equal: bool) -> str:
    own = _binding_of(node)
    text = render(node)
    return f"({text})" if own < binding or (own == binding and parenthesize_equal) else text


def _render_literal(value: Scalar) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# --- evaluation ------------------------------------------------------------------------

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
    search, text_of = _regex(node.right).search, compile_expr(node.left)

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
