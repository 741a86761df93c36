"""The current window's count against the previous one's, per key: the core of the
``spike`` rule type (ElastAlert's ``spike``, on tumbling windows).

Windows are ``[start, start + T)`` with ``start`` a multiple of ``T`` from epoch 0, like
the threshold windows of :mod:`processors.windowing`. A window of a key is evaluated
once, when the partition clock passes its end plus ``grace_ms``, against the key's
previous window:

- ``up``: ``current >= ratio * previous``; ``down``: ``current * ratio <= previous``;
  ``both``: either;
- and ``previous >= min_previous`` and ``current >= min_current`` (ElastAlert's
  ``threshold_ref`` / ``threshold_cur``; ``min_previous`` defaults to 1 in the rule
  format, so a key that was silent cannot "spike" from nothing);
- a key is inactive until it has been seen for two whole windows: its first record
  must be at or before the previous window's start.

Memory per key: its first record's time, its last evaluated window and count, and the
counts and earliest record times of its open windows (usually one). After a window
with no record the key is forgotten, even when a record for a later window came
within grace: its next record starts it afresh (inactive again for two windows). A record
for a window already evaluated is late: not counted (:attr:`Spike.late`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from processors.firehose.timers import Timers

Direction = Literal["up", "down", "both"]


@dataclass(frozen=True, slots=True)
class SpikeMatch:
    key: str
    start_ms: int  # the current window
    end_ms: int
    count: int
    previous_count: int
    direction: Literal["up", "down"]


class _Series:
    __slots__ = ("earliest", "evaluated_count", "evaluated_start", "first_ms", "open")

    def __init__(self, first_ms: int) -> None:
        self.first_ms = first_ms
        self.evaluated_start: int | None = None
        self.evaluated_count = 0
        self.open: dict[int, int] = {}  # window start -> records
        self.earliest: dict[int, int] = {}  # window start -> its earliest record's time


class Spike:
    def __init__(
        self,
        timeframe_ms: int,
        ratio: float,
        direction: Direction,
        *,
        min_previous: int,
        min_current: int,
        grace_ms: int,
    ) -> None:
        if timeframe_ms <= 0 or ratio <= 0 or grace_ms < 0:
            raise ValueError("need timeframe_ms > 0, ratio > 0, grace_ms >= 0")
        self.timeframe_ms = timeframe_ms
        self.ratio = ratio
        self.direction = direction
        self.min_previous = min_previous
        self.min_current = min_current
        self.grace_ms = grace_ms
        self.late = 0
        self._series: dict[str, _Series] = {}
        self._timers = Timers.for_timeframe(timeframe_ms)

    def __len__(self) -> int:
        return len(self._series)

    def add(self, key: str, ts_ms: int) -> bool:
        """Count one record; False when its window of this key was already evaluated."""
        size = self.timeframe_ms
        start = ts_ms - ts_ms % size
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(ts_ms)
        elif series.evaluated_start is not None and start <= series.evaluated_start:
            self.late += 1
            return False
        elif ts_ms < series.first_ms:
            series.first_ms = ts_ms
        series.earliest[start] = min(ts_ms, series.earliest.get(start, ts_ms))
        count = series.open.get(start)
        if count is None:
            series.open[start] = 1
            self._timers.schedule(key, start + size + self.grace_ms)
        else:
            series.open[start] = count + 1
        return True

    def due(self, clock_ms: int) -> list[SpikeMatch]:
        """Evaluate every window whose end is ``grace_ms`` behind ``clock_ms``; the
        spikes, ordered by window end then key."""
        out: list[SpikeMatch] = []
        size, grace = self.timeframe_ms, self.grace_ms
        for key in self._timers.pop_due(clock_ms):
            series = self._series.get(key)
            while series is not None:
                if series.evaluated_start is not None:
                    start = series.evaluated_start + size
                elif series.open:
                    start = min(series.open)
                else:
                    break
                if start + size + grace > clock_ms:
                    self._timers.schedule(key, start + size + grace)
                    break
                count = series.open.pop(start, 0)
                series.earliest.pop(start, None)
                if series.evaluated_start is not None and series.first_ms <= start - size:
                    match = self._compare(key, start, count, series.evaluated_count)
                    if match is not None:
                        out.append(match)
                series.evaluated_start, series.evaluated_count = start, count
                if count == 0 and not series.open:
                    del self._series[key]
                    series = None
                elif count == 0:  # forgotten all the same: a later window starts it afresh
                    series = self._restart(key, series)
        out.sort(key=lambda m: (m.end_ms, m.key))
        return out

    def _restart(self, key: str, old: _Series) -> _Series:
        """The key seen afresh from the records of its open windows (inactive again)."""
        series = self._series[key] = _Series(min(old.earliest.values()))
        series.open, series.earliest = old.open, old.earliest
        return series

    def _compare(self, key: str, start: int, count: int, previous: int) -> SpikeMatch | None:
        if previous < self.min_previous or count < self.min_current:
            return None
        found: Literal["up", "down"] | None = None
        if self.direction != "down" and count >= self.ratio * previous:
            found = "up"
        elif self.direction != "up" and count * self.ratio <= previous:
            found = "down"
        if found is None:
            return None
        return SpikeMatch(key, start, start + self.timeframe_ms, count, previous, found)
