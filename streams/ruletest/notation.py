"""promtool's expanding notation for a series of metric values, one per interval.

    "0.5 0.95x6 0.4x3"  →  0.5, then 0.95 seven times, then 0.4 four times
    "1+2x3"             →  1 3 5 7   (a, then n more, each b more than the last)
    "10-1x2 _ 4 _x2"    →  10 9 8, no sample, 4, no sample twice

As in promtool, ``axn`` and ``a+bxn`` are n + 1 samples (the first, then n more);
``_`` is one missing sample (no record at that step) and ``_xn`` is n of them.
promtool's ``stale`` has no meaning here: a series that stops sending is just missing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from processors.errors import OpsrulesError

MAX_SAMPLES = 100_000  # per series: a typo like 0.9x1000000 is an error, not a hang

_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(rf"[+-]?{_UNSIGNED}")
_EXPANDING = re.compile(rf"(?P<a>[+-]?{_UNSIGNED})(?:(?P<op>[+-])(?P<b>{_UNSIGNED}))?x(?P<n>\d+)")
_MISSING = re.compile(r"_(?:x(?P<n>\d+))?")
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class NotationError(OpsrulesError):
    """``column`` (1-based) is where the bad token starts in the notation text."""

    column: int
    message: str


def expand(text: str) -> list[float | None]:
    """The samples ``text`` stands for, in order; ``None`` for a missing one."""
    out: list[float | None] = []
    for token in _TOKEN.finditer(text):
        out.extend(_token(token.group(), token.start() + 1))
        if len(out) > MAX_SAMPLES:
            raise NotationError(token.start() + 1, f"more than {MAX_SAMPLES} samples in one series")
    if not out:
        raise NotationError(1, "no samples: write values like '0.5 0.95x6 0.4x3'")
    return out


def _token(token: str, column: int) -> list[float | None]:
    if _NUMBER.fullmatch(token):
        return [_finite(float(token), token, column)]
    missing = _MISSING.fullmatch(token)
    if missing:
        return [None] * _count(missing.group("n") or "1", token, column)
    expanding = _EXPANDING.fullmatch(token)
    if expanding:
        first = _finite(float(expanding.group("a")), token, column)
        step = float(expanding.group("b") or 0)
        if expanding.group("op") == "-":
            step = -step
        count = _count(expanding.group("n"), token, column)
        return [_finite(round(first + i * step, 12), token, column) for i in range(count + 1)]
    if token == "stale":
        message = "'stale' is not needed here: leave samples out with '_' (or '_x3')"
    else:
        message = (
            f"'{token}' is not a value: write a number (0.95), a repeat (0.95x6: seven "
            "samples), a ramp (0.5+0.1x4), or _ for a missing sample"
        )
    raise NotationError(column, message)


def _count(digits: str, token: str, column: int) -> int:
    count = int(digits)
    if count > MAX_SAMPLES:
        raise NotationError(column, f"'{token}': more than {MAX_SAMPLES} samples")
    return count


def _finite(value: float, token: str, column: int) -> float:
    if not math.isfinite(value):
        raise NotationError(column, f"'{token}': values must be finite")
    return value
