"""NAB's scoring rules, as pure functions over row indices.

A faithful port of the Numenta Anomaly Benchmark v1.1 scorer (``nab/sweeper.py``,
``nab/scorer.py``, ``nab/optimizer.py``, ``nab.util.getProbationPeriod``), down to the
details that move published numbers:

- the probationary period is ``min(floor(0.15 * rows), 0.15 * 5000)`` rows, and those
  rows are dropped before anything is counted (``tn`` and ``total`` included);
- a row inside a window is worth ``S(-(right - i + 1) / width) * tp / S(-1)``: the
  ``+ 1`` means even the right edge is worth a little, and the left edge exactly ``tp``;
- a row outside any window costs ``fp`` before the first window, and
  ``S(|prev_right - i| / (prev_width - 1)) * fp`` after one (``S`` is -1 past 3);
- a window counts the best (earliest) detection in it, or ``-fn`` when it has none;
- one table of scores is built from every row sorted by anomaly score, one entry per
  distinct score ("threshold"), holding the rows whose score is >= that threshold; the
  first entry is threshold 1.1, no detections;
- the corpus sweep keeps the best total, the highest threshold on ties.

Windows are ``(first_row, last_row)`` inclusive row indices, sorted and disjoint;
:mod:`bench.nab.corpus` turns NAB's timestamp windows into them. ``S`` is
:func:`scaled_sigmoid`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import reduce

PROBATION_FRACTION = 0.15
"""Share of each file's first rows that is never scored (NAB's ``probationPercent``)."""

START_THRESHOLD = 1.1
"""NAB's first table entry: above any anomaly score, so nothing is detected."""

Window = tuple[int, int]
"""First and last row index of an anomaly window, both inside the window."""

SweepRow = tuple[float, float, int]
"""One scorable row: (anomaly score, its NAB weight if detected, window key or -1)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One NAB cost profile (``config/profiles.json``'s ``CostMatrix``)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    Profile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
)
"""NAB's three profiles, in its ``profiles.json`` order."""


@dataclass(frozen=True, slots=True)
class ThresholdScore:
    """NAB's score of rows at one threshold, with row counts after probation.

    ``tp``/``fn`` count window rows detected / missed, ``fp``/``tn`` rows outside any
    window detected / not (rows, not windows: NAB's ``TP`` column counts every
    detected row in a window, though only the earliest one scores). ``windows_hit``
    counts windows with at least one detection (not a NAB column).
    """

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows_hit: int = 0

    @property
    def total(self) -> int:
        """Rows scored: the file's rows minus its probationary period."""
        return self.tp + self.tn + self.fp + self.fn


def probation_rows(n_rows: int, fraction: float = PROBATION_FRACTION) -> float:
    """Rows at the start of a file that are not scored (at most ``fraction * 5000``).

    A float like NAB's (``750.0`` once capped); row ``i`` is scored when ``i >=`` it.
    """
    return min(math.floor(fraction * n_rows), fraction * 5000)


def scaled_sigmoid(position: float) -> float:
    """NAB's ``2 * sigmoid(-5 * position) - 1``, and exactly -1 past ``position`` 3.

    ``position`` is -1 at a window's left edge (0.9866), 0 at its right edge (0),
    and the distance past a window in window widths for a false positive.
    """
    if position > 3.0:
        return -1.0
    return 2 * (1 / (1 + math.exp(5 * position))) - 1.0


def sweep_rows(
    anomaly_scores: Sequence[float],
    windows: Sequence[Window],
    profile: Profile,
    first_window_key: int = 0,
    probation_fraction: float = PROBATION_FRACTION,
) -> list[SweepRow]:
    """NAB's ``calcSweepScore``: each scorable row with what it is worth if detected.

    Window ``k`` of this file gets key ``first_window_key + k``, so rows of several
    files can be swept together. Probationary rows are left out, but a window that
    ends inside the probationary period still sets the reference for the false
    positives after it, as in NAB.
    """
    max_tp = scaled_sigmoid(-1.0)
    probation = probation_rows(len(anomaly_scores), probation_fraction)
    rows: list[SweepRow] = []
    next_window = 0
    current = -1
    right = 0
    width = 0.0
    prev_right = -1
    prev_width = 0.0
    for i, anomaly_score in enumerate(anomaly_scores):
        if next_window < len(windows) and i == windows[next_window][0]:
            current = next_window
            left, right = windows[next_window]
            width = float(right - left + 1)
            next_window += 1
        if current >= 0:
            weight = scaled_sigmoid(-(right - i + 1) / width) * profile.tp_weight / max_tp
        elif prev_right < 0:
            weight = -1.0 * profile.fp_weight
        else:
            weight = scaled_sigmoid(abs(prev_right - i) / float(prev_width - 1))
            weight *= profile.fp_weight
        if i >= probation:
            rows.append((anomaly_score, weight, first_window_key + current if current >= 0 else -1))
        if current >= 0 and i == right:
            prev_right, prev_width, current = i, width, -1
    return rows


def threshold_scores(rows: Iterable[SweepRow], fn_weight: float) -> Iterator[ThresholdScore]:
    """NAB's ``calcScoreByThreshold``: the score at every distinct anomaly score.

    Yields, in decreasing threshold order, first threshold 1.1 (nothing detected),
    then one entry per distinct anomaly score counting every row scored at least
    that. O(n log n) for the sort, then one pass; the total is re-added from its
    parts (false positives first, then windows in the order they first appear) at
    each threshold, the same float sum NAB makes, so ties break the same way (a plain
    left fold: ``sum()`` compensates rounding from Python 3.12 on).
    """
    ordered = sorted(rows, key=lambda row: row[0], reverse=True)
    slot: dict[int, int] = {}
    parts = [0.0]
    for _, _, key in ordered:
        if key >= 0 and key not in slot:
            slot[key] = len(parts)
            parts.append(-fn_weight)
    tn = sum(1 for row in ordered if row[2] < 0)
    fn = len(ordered) - tn
    tp = fp = 0
    hit = [False] * len(parts)
    hits = 0
    threshold = START_THRESHOLD
    for anomaly_score, weight, key in ordered:
        if anomaly_score != threshold:
            yield ThresholdScore(threshold, _total(parts), tp, tn, fp, fn, hits)
            threshold = anomaly_score
        if key < 0:
            fp += 1
            tn -= 1
            parts[0] += weight
        else:
            tp += 1
            fn -= 1
            j = slot[key]
            parts[j] = max(parts[j], weight)
            if not hit[j]:
                hit[j] = True
                hits += 1
    yield ThresholdScore(threshold, _total(parts), tp, tn, fp, fn, hits)


def _total(parts: list[float]) -> float:
    return reduce(operator.add, parts, 0.0)


def score_at(rows: Iterable[SweepRow], fn_weight: float, threshold: float) -> ThresholdScore:
    """NAB's ``scoreDataSet``: the table entry that detects every score >= ``threshold``.

    Where NAB returns no entry (and its scorer then fails) this returns the entry the
    threshold means: every row detected when ``threshold`` is below every scorable
    anomaly score, nothing detected when it is above 1.1. Otherwise identical.
    """
    first: ThresholdScore | None = None
    chosen: ThresholdScore | None = None
    for entry in threshold_scores(rows, fn_weight):
        first = first or entry
        if entry.threshold < threshold:
            return chosen or first
        chosen = entry
    assert chosen is not None  # threshold_scores always yields the 1.1 entry
    return chosen


def best_threshold(rows: Iterable[SweepRow], fn_weight: float) -> ThresholdScore:
    """NAB's optimiser: the entry with the highest score, the highest threshold on ties."""
    best: ThresholdScore | None = None
    for entry in threshold_scores(rows, fn_weight):
        if best is None or entry.score > best.score:
            best = entry
    assert best is not None
    return best


def normalised_score(raw: float, null_raw: float, perfect_raw: float) -> float:
    """NAB's ``100 * (raw - null) / (perfect - null)``: 0 for no detections, 100 perfect."""
    return 100.0 * (raw - null_raw) / (perfect_raw - null_raw)
