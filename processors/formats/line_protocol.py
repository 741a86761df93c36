r"""InfluxDB line protocol, read: each line's measurement, tags, fields and timestamp.

Follows the InfluxDB v2 reference
(https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/) and, where it
is silent, its reference decoder (``influxdata/line-protocol``, ``lineprotocol/decoder.go``):

- ``<measurement>[,<tag_key>=<tag_value>…] <field_key>=<field_value>[,…] [<timestamp>]``,
  one point a line. Blank lines and lines whose first non-space is ``#`` are skipped;
  runs of spaces separate the sections; a trailing ``\r`` is dropped. A newline cannot
  be part of a value (the spec), not even inside a quoted string.
- A backslash escapes a comma or a space in a measurement, and a comma, ``=`` or a space
  in a tag key, tag value or field key; before anything else it is itself, so ``a\b`` is
  ``a\b`` and ``\\,`` a backslash and a comma. ``=`` in a measurement needs no escape.
  A name cannot end in a backslash (it would escape the separator that follows; Telegraf
  trims it off tags).
- In a quoted string field value ``\"`` is a quote and ``\\`` a backslash; any other
  backslash is itself.
- Field values: float (``1``, ``-1.5``, ``.5``, ``-1.234456e+78``), integer ``-12i``
  (signed 64-bit), unsigned ``12u`` (64-bit), boolean (``t T true True TRUE``,
  ``f F false False FALSE``), string (``"…"``). Integers beyond 64 bits are refused; a
  float past the double range is ``inf`` (the caller's finiteness check refuses it).
- Timestamp: an optional signed 64-bit integer, its unit up to the writer.

Lines without a backslash or a quote, single-spaced (nearly all of Telegraf's), are
checked by one compiled match and read by ``str.split``; every other line goes through
the scanner, which is also what names what is wrong in a bad line. Measured on one core:
Telegraf's 10-field ``cpu`` line takes 5 µs that way, 17 µs through the scanner.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from processors.formats import FormatError

Value = float | int | bool | str


class Point(NamedTuple):
    """One line: its measurement, tags (in order; a repeated key keeps its last value),
    fields (in order, typed: float, int for ``i`` and ``u``, bool, str) and timestamp
    (None when the line has none)."""

    measurement: str
    tags: dict[str, str]
    fields: list[tuple[str, Value]]
    timestamp: int | None


INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

# A field value's forms; which group matched tells the type. Digit counts are bounded
# so that int() never meets a number past 64 bits by thousands of digits; possessive
# repeats (``++``) keep a failed match from backtracking.
_FORMS = (
    r"-?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][-+]?[0-9]++)?",  # float
    r"-?[0-9]{1,20}+i",  # integer
    r"[0-9]{1,21}+u",  # unsigned
    r"t|T|true|True|TRUE",
    r"f|F|false|False|FALSE",
)
_VALUE = re.compile("|".join(f"({form})" for form in _FORMS)).fullmatch
_FLOAT, _INT, _UINT, _TRUE = 1, 2, 3, 4
_TIMESTAMP = re.compile(r"-?[0-9]{1,20}+").fullmatch
_INTEGER = re.compile(r"-?[0-9]+").fullmatch  # of any length

# The common line, whole: no backslash, no quote, single spaces (nearly all of
# Telegraf's). One match checks it; splitting then reads it. The tests hold that such a
# line never falls through to the scanner.
_NAME, _PLAIN = r"[^ ,\\\"]++", r"[^ ,=\\\"]++"
# The lookahead makes a form that matched only a prefix (the float 12 of 12i) give way
# to the next inside its own field, before the possessive repeat closes it.
_PLAIN_VALUE = "(?:" + "|".join(_FORMS) + ")(?=[, ]|$)"
_SIMPLE_LINE = re.compile(
    f"{_NAME}(?:,{_PLAIN}={_PLAIN})*+ {_PLAIN}={_PLAIN_VALUE}(?:,{_PLAIN}={_PLAIN_VALUE})*+"
    r"(?: -?[0-9]{1,20}+)?"
).fullmatch

# The scanner's tokens. Each alternative excludes the others (a lone backslash is one
# not followed by what it could escape), so a failed match never backtracks far.
_MEASUREMENT = re.compile(r"(?:[^, \\]|\\[, ]|\\(?![, ]))+")
_KEY = re.compile(r"(?:[^,= \\]|\\[,= ]|\\(?![,= ]))+")  # tag key, tag value, field key
_STRING = re.compile(r'"((?:[^"\\]|\\["\\]|\\(?!["\\]))*)"')
_BARE = re.compile(r"[^, ]+")  # an unquoted field value
_UNESCAPE_MEASUREMENT = re.compile(r"\\([, ])")
_UNESCAPE_KEY = re.compile(r"\\([,= ])")
_UNESCAPE_STRING = re.compile(r'\\(["\\])')


def parse_lines(text: str) -> Iterator[tuple[int, Point]]:
    """Each point of ``text`` with its line number (from 1); FormatError
    ``line N: …`` at the first line that is not line protocol."""
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        first = line.lstrip(" ")
        if not first or first[0] == "#":
            continue
        try:
            point = parse_line(line)
        except FormatError as exc:
            raise FormatError(f"line {number}: {exc}") from None
        yield number, point


def parse_line(line: str) -> Point:
    """One line (no newline in it, not blank, not a comment); FormatError naming the
    part that is wrong."""
    return _simple(line) or scan(line)


class _OutOfRangeError(FormatError):
    """A number of the right form past its 64 bits: line protocol still, but wrong."""


def is_line_protocol(line: str) -> bool:
    """Whether ``line`` (no newline in it, not blank, not a comment) has line protocol's
    syntax (recognising a payload): :func:`parse_line` reads it, or refuses only a number
    past its 64 bits (decoding then names it)."""
    if _SIMPLE_LINE(line) is not None:
        return True
    try:
        scan(line)
    except _OutOfRangeError:
        return True
    except FormatError:
        return False
    return True


def _simple(line: str) -> Point | None:
    """The common line (``_SIMPLE_LINE``), split; None when it is not one or a number
    in it is out of range, for :func:`scan` to read or to name what is wrong."""
    if _SIMPLE_LINE(line) is None:
        return None
    head, field_set, *stamp = line.split(" ")
    measurement, *pairs = head.split(",")
    tags = dict(pair.split("=") for pair in pairs)
    fields: list[tuple[str, Value]] = []
    for pair in field_set.split(","):
        key, text = pair.split("=")
        last = text[-1]
        if last == "i" or last == "u":
            number = int(text[:-1])
            if not INT64_MIN <= number <= (INT64_MAX if last == "i" else UINT64_MAX):
                return None
            fields.append((key, number))
        elif text[0] in "tTfF":
            fields.append((key, text[0] in "tT"))
        else:
            fields.append((key, float(text)))
    if not stamp:
        return Point(measurement, tags, fields, None)
    timestamp = int(stamp[0])
    if not INT64_MIN <= timestamp <= INT64_MAX:
        return None
    return Point(measurement, tags, fields, timestamp)


def scan(line: str) -> Point:
    """One line (no newline in it) read token by token; FormatError naming the part that
    is wrong (``field 'usage_idle': 'x' is not …``)."""
    end = len(line)
    at = _spaces(line, 0)
    token = _MEASUREMENT.match(line, at)
    if token is None:
        raise FormatError(f"expected a measurement name, found {_found(line, at)}")
    measurement = _unescape(_UNESCAPE_MEASUREMENT, token.group())
    at = token.end()
    tags: dict[str, str] = {}
    while at < end and line[at] == ",":
        key, at = _key(line, at + 1, "", "a tag key after ','")
        if at >= end or line[at] != "=":
            raise FormatError(f"tag {key!r}: expected '=' and its value")
        tags[key], at = _key(line, at + 1, f"tag {key!r}: ", "a value (omit a tag with none)")
    if at >= end:
        raise FormatError(f"measurement {measurement!r}: no field set (a point needs a field)")
    if line[at] != " ":
        raise FormatError(f"unexpected {line[at]!r} after the tags (escape it with a backslash)")
    at = _spaces(line, at)
    fields: list[tuple[str, Value]] = []
    while True:
        key, at = _key(line, at, "", "a field key")
        if at >= end or line[at] != "=":
            raise FormatError(f"field {key!r}: expected '=' and its value")
        value, at = _field_value(line, at + 1, key)
        fields.append((key, value))
        if at < end and line[at] == ",":
            at += 1
            continue
        break
    if at < end and line[at] != " ":
        raise FormatError(f"field {key!r}: unexpected {line[at]!r} after its value")
    at = _spaces(line, at)
    if at == end:
        return Point(measurement, tags, fields, None)
    stamp = line[at:].rstrip(" ")
    if _INTEGER(stamp) is None:
        raise FormatError(f"timestamp {_shown(stamp)}: not an integer (Telegraf writes epoch ns)")
    if _TIMESTAMP(stamp) is None or not INT64_MIN <= int(stamp) <= INT64_MAX:
        raise _OutOfRangeError(f"timestamp {_shown(stamp)}: out of range for a 64-bit integer")
    return Point(measurement, tags, fields, int(stamp))


def _key(line: str, at: int, where: str, expected: str) -> tuple[str, int]:
    """A tag key, tag value or field key at ``at``, unescaped, and where it ends."""
    token = _KEY.match(line, at)
    if token is None:
        raise FormatError(f"{where}expected {expected}, found {_found(line, at)}")
    return _unescape(_UNESCAPE_KEY, token.group()), token.end()


def _field_value(line: str, at: int, key: str) -> tuple[Value, int]:
    if at < len(line) and line[at] == '"':
        token = _STRING.match(line, at)
        if token is None:
            raise FormatError(f"field {key!r}: string value not closed by '\"'")
        return _unescape(_UNESCAPE_STRING, token.group(1)), token.end()
    token = _BARE.match(line, at)
    if token is None:
        raise FormatError(f"field {key!r}: no value after '='")
    text = token.group()
    match = _VALUE(text)
    if match is None and text[-1] in "iu" and _INTEGER(text[:-1]):
        raise _OutOfRangeError(
            f"field {key!r}: {_shown(text)} is out of range for a 64-bit integer"
        )
    if match is None:
        raise FormatError(
            f"field {key!r}: {_shown(text)} is not a float, an integer (12i), an unsigned (12u), "
            'a boolean (t, true, f, false…) or a "quoted string"'
        )
    value = _typed(text, match.lastindex)
    if value is None:
        raise _OutOfRangeError(
            f"field {key!r}: {_shown(text)} is out of range for a 64-bit integer"
        )
    return value, token.end()


def _typed(text: str, kind: int | None) -> Value | None:
    """A value ``_VALUE`` matched as group ``kind``, typed; None for an integer past its
    64 bits."""
    if kind == _FLOAT:
        return float(text)
    if kind == _INT:
        number = int(text[:-1])
        return number if INT64_MIN <= number <= INT64_MAX else None
    if kind == _UINT:
        number = int(text[:-1])
        return number if number <= UINT64_MAX else None
    return kind == _TRUE


def _unescape(pattern: re.Pattern[str], token: str) -> str:
    return pattern.sub(r"\1", token) if "\\" in token else token


def _spaces(line: str, at: int) -> int:
    """Where the run of spaces at ``at`` ends."""
    while at < len(line) and line[at] == " ":
        at += 1
    return at


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut at 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "…")


def _found(line: str, at: int) -> str:
    return repr(line[at]) if at < len(line) else "the end of the line"
