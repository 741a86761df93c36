"""Durations in rule files and rule tests: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``1d``,
``1w`` (or a number of seconds), held in milliseconds (fields ending in ``_ms``), at
most ten years; and their JSON Schema for editors."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


# Ten years: longer than any timeframe, window or test span means a typo, and keeps
# every sum of durations and times far inside 64 bits.
MAX_DURATION_MS = 3650 * 86_400_000


def parse_duration_ms(value: object) -> int:
    """``"1h30m"`` → 5_400_000; a bare number is seconds. At most 3650d (ten years)."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("a duration must be a finite number")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(value * 1000)
    if not isinstance(value, str):
        raise ValueError("a duration is a string like '30s', '5m' or '1h30m'")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f"{value!r} is not a duration; use a number and a unit: ms, s, m, h, d, w "
            "(e.g. '30s', '5m', '1h30m')"
        )
    return _bounded(total)


def _bounded(ms: float) -> int:
    if ms > MAX_DURATION_MS:
        raise ValueError("a duration of more than 3650d (ten years); check the unit")
    return round(ms)


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNIT_MS[unit]
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


DURATION_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+\s*$"


def _positive(ms: int) -> int:
    if ms <= 0:
        raise ValueError("must be longer than 0")
    return ms


def _duration_schema(minimum: dict[str, int]) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": DURATION_PATTERN,
                    # shown by VS Code's YAML extension instead of the pattern
                    "patternErrorMessage": "a duration: a number and a unit (ms, s, m, h, d, "
                    "w), e.g. 30s, 5m, 1h30m",
                },
                {"type": "number", **minimum},
            ]
        }
    )


# A duration as written ("1h30m", or a number of seconds), held in milliseconds.
DurationMs = Annotated[int, BeforeValidator(parse_duration_ms), _duration_schema({"minimum": 0})]
PositiveDurationMs = Annotated[
    int,
    BeforeValidator(parse_duration_ms),
    AfterValidator(_positive),
    _duration_schema({"exclusiveMinimum": 0}),
]
