"""The order-preserving string encoding of field values that
:mod:`~processors.rules.durable_rules_matcher` posts to durable_rules (this module
imports no ``durable``; the matcher's docstring says why the encoding is needed).

Each value is one ASCII string whose order and equality are exactly the expression
language's, within a kind:

- ``z`` null or missing; ``b0`` / ``b1`` false / true; ``o0`` / ``o1`` any other value
  (list, map, NaN), empty or not;
- ``n…`` a number: sign class, then exponent and binary fraction, so that string order
  is numeric order (int and float alike, any size, ±inf);
- ``s…`` a string: its UTF-8 bytes in hex, so that string order is code point order and
  ``startswith`` is a range.
"""

from __future__ import annotations

import math
from typing import Any

NULL, FALSE, TRUE, EMPTY, NONEMPTY = "z", "b0", "b1", "o0", "o1"
NUMBERS, OTHERS, STRINGS, STRINGS_END = "n", "o", "s", "t"  # kinds: [n, o) and [s, t)
FALSY = (NULL, FALSE, NUMBERS + "m", STRINGS, EMPTY)  # None, false, 0, "", empty list/map
# Longest encoded value posted or compiled: durable_rules keeps lengths in 16 bits
# (measured: a 65,536-byte string compares wrong).
MAX_ENCODED = 60_000

_PLAIN: frozenset[type[Any]] = frozenset({type(None), bool, int, float, str, list, tuple, dict})
# Order-reversing map for the magnitude of a negative number: digits and letters to
# characters between '%' and 'o' (never '"' or '\\', which JSON escapes), then '~'
# closes the key so that a shorter magnitude (a smaller |x|) sorts after its extensions.
_REVERSED = str.maketrans({c: chr(0x9F - ord(c)) for c in "0123456789abcdefghijklmnopqrstuvwxyz"})


def encode(value: Any) -> str | None:
    """``value`` as a string whose order and equality are those of the expression
    language within a kind; None if it cannot be posted (not a JSON type, too long)."""
    kind = value.__class__
    if kind is str:
        text = STRINGS + value.encode("utf-8", "surrogatepass").hex()
    elif kind is int or kind is float:
        if value != value:  # NaN: never equal, never ordered, like a list
            return NONEMPTY
        text = NUMBERS + _number_key(value)
    elif kind is bool:
        return TRUE if value else FALSE
    elif value is None:
        return NULL
    elif kind in _PLAIN:
        return NONEMPTY if value else EMPTY
    else:
        return None
    return text if len(text) <= MAX_ENCODED else None


def _number_key(x: int | float) -> str:
    if x == 0:
        return "m"
    if math.isinf(x):
        return "z" if x > 0 else "a"
    if x > 0:
        return "p" + _magnitude(x)
    return "b" + _magnitude(-x).translate(_REVERSED) + "~"


def _magnitude(x: int | float) -> str:
    """|x| = (1 + fraction) · 2**exponent: the exponent, length-prefixed so that its
    string order is numeric, then the fraction's hex digits without trailing zeros."""
    if isinstance(x, int):
        exponent = x.bit_length() - 1
        fraction, width = x - (1 << exponent), exponent
    else:
        mantissa, power = math.frexp(x)  # x = mantissa · 2**power, 0.5 <= mantissa < 1
        exponent = power - 1
        fraction, width = int((mantissa * 2 - 1) * 2**52), 52  # exact
    digits = (width + 3) // 4
    hex_digits = format(fraction << (digits * 4 - width), f"0{digits}x") if digits else ""
    biased = str(exponent + 1100)  # > 0: floats reach down to 2**-1074
    return chr(ord("a") + len(biased)) + biased + hex_digits.rstrip("0")


def utf8_hex(text: str) -> str:
    """A string's UTF-8 bytes in hex: the body of its encoding after ``s``."""
    return text.encode("utf-8", "surrogatepass").hex()


ABSENT = object()  # not posted: the items of a value that is no list


def encode_as(kind: str, value: Any) -> Any:
    """The property of kind ``v`` (the value), ``e`` (a string reversed, for
    ``endswith``) or ``l`` (a list's items, for ``contains``) for ``value``: :data:`ABSENT`
    if there is none to post, None if unencodable."""
    if kind == "l":
        if value.__class__ is not list and value.__class__ is not tuple:
            return ABSENT
        items = [encode(v) for v in value]
        return None if None in items else items
    if value.__class__ is list or value.__class__ is tuple:
        return None  # compared element by element (an array field): our closures decide
    if kind == "e" and value.__class__ is str:
        value = value[::-1]
    return encode(value)
