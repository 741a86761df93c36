"""A line-protocol writer from the InfluxDB v2 reference's table of escapes ("Special
Characters": measurement comma and space; tag key, tag value and field key comma, ``=``
and space; string field value ``"`` and backslash), not from our reader, and Hypothesis
strategies of the points it can write, for the property tests.

Names are any text but a newline (the spec forbids it) and a trailing backslash (it would
escape the separator after it: the spec cannot write it, Telegraf trims it); a
measurement does not start with ``#`` (that line is a comment). Values are written in
every documented form: floats as Python's shortest repr (``1e+16``) or positional like
Telegraf's serializer (``strconv.AppendFloat(…, 'f', -1, 64)``), booleans in all ten
spellings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import strategies as st

from processors.formats.line_protocol import INT64_MAX, INT64_MIN, UINT64_MAX, Value

MEASUREMENT_ESCAPES = ", "
KEY_ESCAPES = ",= "
STRING_ESCAPES = '"\\'
TRUE_SPELLINGS = ("t", "T", "true", "True", "TRUE")
FALSE_SPELLINGS = ("f", "F", "false", "False", "FALSE")


def escape(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials else c for c in text)


@dataclass(frozen=True)
class Field:
    """A field as written (``text``) and as it must read back (``value``, typed)."""

    key: str
    value: Value
    text: str


@dataclass(frozen=True)
class Line:
    measurement: str
    tags: dict[str, str]
    fields: list[Field]
    timestamp: int | None
    separator: str  # between the sections: one space or a run

    def encode(self) -> str:
        head = escape(self.measurement, MEASUREMENT_ESCAPES) + "".join(
            f",{escape(k, KEY_ESCAPES)}={escape(v, KEY_ESCAPES)}" for k, v in self.tags.items()
        )
        field_set = ",".join(f"{escape(f.key, KEY_ESCAPES)}={f.text}" for f in self.fields)
        stamp = "" if self.timestamp is None else f"{self.separator}{self.timestamp}"
        return f"{head}{self.separator}{field_set}{stamp}"


# Names: plain ASCII half the time (the reader's fast path), else anything but a newline
# with the characters that need escaping drawn often.
_SPECIAL = st.sampled_from([" ", ",", "=", '"', "\\", "#", "é", "🚀", "\t", "'"])
_ANY = st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))
_PLAIN = st.text("abcdefghijklmnopqrstuvwxyz_0123456789.-", min_size=1, max_size=12)
_RICH = st.text(st.one_of(_SPECIAL, _ANY), min_size=1, max_size=12)
names = st.one_of(_PLAIN, _RICH).filter(lambda s: not s.endswith("\\"))
measurements = names.filter(lambda s: not s.startswith("#"))


@st.composite
def floats(draw: st.DrawFn) -> tuple[float, str]:
    number = draw(st.floats(allow_nan=False, allow_infinity=False))
    negative_zero = number == 0 and math.copysign(1, number) < 0
    styles = ["repr", "positional"] + (
        ["integer"] if number.is_integer() and not negative_zero else []
    )
    style = draw(st.sampled_from(styles))
    if style == "repr":
        return number, repr(number)
    if style == "positional":
        return number, format(Decimal(repr(number)), "f")
    return number, str(int(number))


@st.composite
def values(draw: st.DrawFn) -> tuple[Value, str]:
    kind = draw(st.sampled_from(["float", "int", "uint", "bool", "string"]))
    if kind == "float":
        return draw(floats())
    if kind == "int":
        number = draw(st.integers(INT64_MIN, INT64_MAX))
        return number, f"{number}i"
    if kind == "uint":
        number = draw(st.integers(0, UINT64_MAX))
        return number, f"{number}u"
    if kind == "bool":
        truth = draw(st.booleans())
        return truth, draw(st.sampled_from(TRUE_SPELLINGS if truth else FALSE_SPELLINGS))
    text = draw(st.text(st.one_of(_SPECIAL, _ANY), max_size=20))
    return text, '"' + escape(text, STRING_ESCAPES) + '"'


@st.composite
def fields(draw: st.DrawFn) -> Field:
    value, text = draw(values())
    return Field(draw(names), value, text)


ANY_TIMESTAMP: st.SearchStrategy[int | None] = st.none() | st.integers(INT64_MIN, INT64_MAX)


@st.composite
def lines(
    draw: st.DrawFn, timestamps: st.SearchStrategy[int | None] = ANY_TIMESTAMP, host: bool = False
) -> Line:
    """A point to write; with ``host``, a ``host`` tag among its tags (Telegraf's)."""
    tags = draw(st.dictionaries(names.filter(lambda k: k != "host"), names, max_size=4))
    if host:
        tags = {**tags, "host": draw(names)}
    return Line(
        measurement=draw(measurements),
        tags=tags,
        fields=draw(st.lists(fields(), min_size=1, max_size=6)),
        timestamp=draw(timestamps),
        separator=draw(st.sampled_from([" ", " ", " ", "  "])),
    )
