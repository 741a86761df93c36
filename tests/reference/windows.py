"""Windows of rules/README.md "Windowed rules": epoch-aligned ranges and their stats.

Clear over fast: a window's stats are computed from the list of its records each time.
A window ``[start, start + size)`` starts every ``hop`` from the epoch (half-open, as the
README's rule tests say: "the 1-minute windows are [0s, 1m), [1m, 2m), …").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

STATS = ("count", "sum", "min", "max", "mean", "last", "rate", "p50", "p90", "p99")
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
EXACT_QUANTILE_VALUES = 256  # "exact up to 256 values per window, then within 1% relative"


@dataclass(frozen=True)
class Between:
    """A value the README pins only to a range: a quantile, whose exact definition (nearest
    rank, interpolation, …) it leaves open; each definition lies in ``[low, high]``."""

    low: float
    high: float


@dataclass(frozen=True)
class Entry:
    """One accepted record's contribution: its event time, arrival order, number, and
    the starts of the windows it counts in (those still open when it arrived)."""

    ts_ms: int
    arrival: int
    number: float
    starts: frozenset[int] = frozenset()


def window_starts(ts_ms: int, size_ms: int, hop_ms: int) -> list[int]:
    """Starts of every window holding ``ts_ms``, oldest first."""
    newest = ts_ms // hop_ms * hop_ms
    starts = []
    start = newest
    while start > ts_ms - size_ms:
        starts.append(start)
        start -= hop_ms
    return starts[::-1]


def stats(entries: list[Entry], size_ms: int) -> dict[str, Any]:
    """Every stat of a window's entries; an empty window has ``count`` 0 and no other
    stat ("other stats missing")."""
    if not entries:
        return {"count": 0, **dict.fromkeys(STATS[1:])}
    numbers = [entry.number for entry in sorted(entries, key=lambda e: (e.ts_ms, e.arrival))]
    count = len(numbers)
    total = math.fsum(numbers)
    out: dict[str, Any] = {
        "count": count,
        "sum": total,
        "min": min(numbers),
        "max": max(numbers),
        "mean": total / count,
        "last": numbers[-1],
        "rate": count / (size_ms / 1000),
    }
    for name, q in QUANTILES.items():
        out[name] = quantile(numbers, q)
    return out


def quantile(numbers: list[float], q: float) -> float | Between:
    """ "the sorted values' element at 0-based rank ⌊q × (count − 1)⌋ … exact up to 256
    values per window, then within 1% relative"."""
    ordered = sorted(numbers)
    value = ordered[math.floor(Fraction(str(q)) * (len(ordered) - 1))]  # exactly
    if len(ordered) <= EXACT_QUANTILE_VALUES:
        return value
    return Between(value - abs(value) / 100, value + abs(value) / 100)
