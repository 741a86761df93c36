"""The tokens of an expression: a hand-written tokenizer of names, numbers, strings, operators.

Field paths are dotted names (``attributes.http.status_code``); a name after a dot may
be a keyword (``labels.in``), a first name may not.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from processors.rules.expressions.errors import ExpressionError
from processors.rules.expressions.tree import COMPARISONS, Scalar

__all__ = ["CONSTANTS", "KEYWORDS", "Token", "describe", "tokenize"]

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "true", "false", "null"}
    | {"startswith", "endswith", "contains", "matches"}
)
CONSTANTS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
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


class Token(NamedTuple):
    kind: str  # "number", "string", "name", "keyword", "op", "punct", "end"
    text: str  # as written
    column: int
    value: Scalar = None  # numbers and strings: the value; names: the dotted path


def describe(token: Token) -> str:
    if token.kind == "end":
        return "the end"
    text = token.text if len(token.text) <= 24 else token.text[:21] + "..."
    return f"'{text}'"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i == n:
            tokens.append(Token("end", "", len(text.rstrip()) + 1))
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
            if op not in COMPARISONS:
                raise ExpressionError(f"unknown operator '{op}'", column, _OPERATOR_HINTS.get(op))
            token, i = Token("op", op, column), end
        elif char in "+-*/%":
            token, i = Token("op", char, column), i + 1
        elif char in "()[],":
            token, i = Token("punct", char, column), i + 1
        else:
            hint = "use straight quotes \" or '" if char in "“”‘’`´" else None
            raise ExpressionError(f"unexpected character {char!r}", column, hint)
        tokens.append(token)


def _scan_path(text: str, start: int) -> tuple[Token, int]:
    match = _NAME.match(text, start)
    assert match is not None
    first, end = match.group(), match.end()
    if first in KEYWORDS:
        if text.startswith(".", end):
            raise ExpressionError(f"'{first}' is a reserved word, not a field name", start + 1)
        return Token("keyword", first, start + 1), end
    while text.startswith(".", end):
        match = _NAME.match(text, end + 1)
        if match is None:
            raise ExpressionError("expected a name after '.'", end + 2)
        end = match.end()
    path = text[start:end]
    return Token("name", path, start + 1, path), end


def _scan_number(text: str, start: int) -> tuple[Token, int]:
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
    return Token("number", lexeme, start + 1, value), end


def _scan_string(text: str, start: int) -> tuple[Token, int]:
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
    return Token("string", text[start : i + 1], start + 1, "".join(chars)), i + 1
