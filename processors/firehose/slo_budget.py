"""SLO accounting: the burn rates of the Google SRE workbook's multi-window,
multi-burn-rate alerts (ch. 5, "Alerting on SLOs", table 5-8) and the remaining error
budget, for one SLO and one group, on the event clock.

Events are counted in one-minute buckets of event time: ``total`` and ``bad`` (for a
metric SLI a sample counts as ``value`` events; otherwise a record is one). When the
clock the caller passes (its event clock less its grace) is past the end of a minute,
the minute closes and the burn rate over each alert window ending with it is

    burn(w) = (bad over w / total over w) / (1 - objective)

(0 when ``w`` holds no events), so a burn rate of 1 spends exactly the budget over the
SLO window, 14.4 spends 2% of a 30-day budget in an hour. The windows are the
workbook's: page on 1h and 5m above 14.4 or 6h and 30m above 6; ticket on 1d and 2h
above 3 or 3d and 6h above 1. A window covers the closed minutes ending with the one
closing, as many as it has (right after a start, only the minutes seen so far, as
Prometheus's ``rate`` over the samples it has).

The remaining budget is ``1 - (bad / total) / (1 - objective)`` over the SLO window
(30 days by default), counted in hours (the hour of the closing minute counted so far):
1 when nothing failed, 0 when the budget is spent, negative beyond.

Memory per SLO and group: a minute's ``(total, bad)`` for the longest alert window (3
days: 4,320 minutes) and an hour's for the SLO window (720 for 30 days), about 80 KB;
events for a minute already closed are late and not counted (:attr:`late`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from processors.rules.slos import WINDOWS_MIN

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

_LONGEST_MIN = max(WINDOWS_MIN.values())
# Sums are kept by adding and subtracting (metric SLIs count fractional events): what
# is left below this after every event left a window is rounding, not events.
_NOTHING = 1e-9


@dataclass(slots=True)
class Minute:
    index: int  # epoch minute
    total: float = 0.0
    bad: float = 0.0


class SloSeries:
    """One SLO, one group. Minutes close in order, every one from the first with
    events (:meth:`close_until`), so each window's sums are kept by adding the closing
    minute and taking out the one that leaves it."""

    __slots__ = (
        "_budget",
        "_budget_hour",
        "_budget_sums",
        "_minutes",
        "_next",
        "_open",
        "_sums",
        "budget_hours",
        "error_budget",
        "late",
    )

    def __init__(self, objective: float, window_ms: int) -> None:
        if not 0 < objective < 1:
            raise ValueError("objective: a ratio between 0 and 1, such as 0.99")
        self.error_budget = 1.0 - objective  # the ratio of bad events allowed
        self.budget_hours = max(1, window_ms // HOUR_MS)
        self.late = 0  # events of minutes already closed
        self._next: int | None = None  # the next minute to close
        self._open: dict[int, Minute] = {}  # minutes with events, not closed yet
        self._minutes: deque[Minute] = deque()  # closed, in order, the last 3 days
        self._sums = {name: [0.0, 0.0] for name in WINDOWS_MIN}  # total, bad per window
        self._budget: deque[tuple[int, float, float]] = deque()  # closed hours
        self._budget_hour = [-1, 0.0, 0.0]  # the hour being counted: hour, total, bad
        self._budget_sums = [0.0, 0.0]  # total, bad of the closed hours kept

    def add(self, ts_ms: int, total: float, bad: float) -> bool:
        """Count ``total`` events at ``ts_ms``, ``bad`` of them; False (late, not
        counted) when their minute is closed."""
        index = ts_ms // MINUTE_MS
        if self._next is not None and index < self._next:
            self.late += 1
            return False
        minute = self._open.get(index)
        if minute is None:
            minute = self._open[index] = Minute(index)
        minute.total += total
        minute.bad += bad
        return True

    def closed(self, minute: int) -> bool:
        """Whether the epoch ``minute`` is closed: events for it would be late."""
        return self._next is not None and minute < self._next

    @property
    def idle(self) -> bool:
        """Nothing open, nothing counted in the last 3 days (every burn rate is 0) nor in
        the SLO window (the whole budget is left)."""
        if self._open or self._budget_hour[1] + self._budget_sums[0] > _NOTHING:
            return False
        return all(t <= _NOTHING for t, _ in self._sums.values())

    def close_until(self, clock_ms: int) -> list[tuple[int, dict[str, float]]]:
        """Close every minute that ends at or before ``clock_ms``, in order: for each,
        its epoch minute and its signal values (:meth:`_close`)."""
        if self._next is None:
            if not self._open:
                return []
            self._next = min(self._open)
        end = clock_ms // MINUTE_MS  # the first minute not to close
        if end - self._next > self._memory_min:
            # The clock leapt past everything this series remembers (a partition silent
            # for longer than the SLO window, or a record from far ahead): whatever it
            # counted has left every window. Start afresh rather than close each minute
            # of the leap (a year is half a million of them).
            self._forget(keep_from=end - self._memory_min)
            if not self._open:
                self._next = end
                return []
            self._next = min(self._open)
        out = []
        while (self._next + 1) * MINUTE_MS <= clock_ms:
            out.append((self._next, self._close(self._next)))
            self._next += 1
        return out

    @property
    def _memory_min(self) -> int:
        """Minutes after which nothing counted matters: the longest alert window or the
        SLO window, whichever is longer."""
        return max(_LONGEST_MIN, self.budget_hours * 60)

    def _forget(self, keep_from: int) -> None:
        """Everything counted, but the open minutes from ``keep_from`` on."""
        self._open = {index: m for index, m in self._open.items() if index >= keep_from}
        self._minutes.clear()
        self._sums = {name: [0.0, 0.0] for name in WINDOWS_MIN}
        self._budget.clear()
        self._budget_hour = [-1, 0.0, 0.0]
        self._budget_sums = [0.0, 0.0]

    def _close(self, index: int) -> dict[str, float]:
        """``burn_<window>`` for each alert window ending with minute ``index``,
        ``budget_remaining``, and the minute's own ``total`` and ``bad``."""
        minute = self._open.pop(index, None) or Minute(index)
        minutes = self._minutes
        minutes.append(minute)
        for name, size in WINDOWS_MIN.items():
            sums = self._sums[name]
            sums[0] += minute.total
            sums[1] += minute.bad
            if len(minutes) > size:  # the minute `size` before this one leaves
                leaving = minutes[-size - 1]
                sums[0] -= leaving.total
                sums[1] -= leaving.bad
        if len(minutes) > _LONGEST_MIN:
            minutes.popleft()
        self._count_budget(minute)
        values = {f"burn_{name}": self._burn(*self._sums[name]) for name in WINDOWS_MIN}
        values["budget_remaining"] = self._remaining()
        values["total"] = minute.total
        values["bad"] = minute.bad
        return values

    def _count_budget(self, minute: Minute) -> None:
        hour = minute.index * MINUTE_MS // HOUR_MS
        current = self._budget_hour
        if hour != current[0]:
            if current[0] >= 0:
                self._budget.append((int(current[0]), current[1], current[2]))
                self._budget_sums[0] += current[1]
                self._budget_sums[1] += current[2]
            current[0], current[1], current[2] = hour, 0.0, 0.0
        current[1] += minute.total
        current[2] += minute.bad
        while self._budget and self._budget[0][0] <= hour - self.budget_hours:
            _, total, bad = self._budget.popleft()
            self._budget_sums[0] -= total
            self._budget_sums[1] -= bad

    def _remaining(self) -> float:
        total = self._budget_hour[1] + self._budget_sums[0]
        bad = self._budget_hour[2] + self._budget_sums[1]
        if total <= _NOTHING:
            return 1.0
        return round(1.0 - (bad / total) / self.error_budget, 6)

    def _burn(self, total: float, bad: float) -> float:
        if total <= _NOTHING:
            return 0.0
        return round((bad / total) / self.error_budget, 6)
