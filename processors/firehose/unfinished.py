"""Started and not finished in time, per key: the core of the ``unfinished`` rule type
(a backup, a deploy or a batch job that hangs).

A record that ``start`` matches opens the key's run at its time, unless a run is open
(the earliest open start stands: a second start while the first runs does not hide
it). A record that ``end`` matches, at or after the run's start, ends it. A run is
judged once the event clock passes ``start + within + grace``: not ended by then, or
ended after ``start + within``, it is a match with ``ts_ms = start + within``; either
way the key is forgotten. An end before any start of its key is of an earlier run and
ignored. At most ``max_keys`` open runs are held; the oldest go first, unjudged.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.firehose.timers import Timers


@dataclass(frozen=True, slots=True)
class UnfinishedMatch:
    key: str
    ts_ms: int  # the deadline: start + within
    started_ms: int
    ended_ms: int | None  # an end after the deadline, or None


class Unfinished:
    def __init__(self, within_ms: int, grace_ms: int, max_keys: int = 100_000) -> None:
        if within_ms <= 0 or grace_ms < 0 or max_keys < 1:
            raise ValueError("need within_ms > 0, grace_ms >= 0, max_keys >= 1")
        self.within_ms = within_ms
        self.grace_ms = grace_ms
        self.max_keys = max_keys
        self._runs: dict[str, list[int | None]] = {}  # key -> [start, end or None]
        self._timers = Timers.for_timeframe(within_ms)
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._runs)

    def start(self, key: str, ts_ms: int) -> None:
        run = self._runs.get(key)
        if run is not None:
            started = run[0]
            assert started is not None
            if ts_ms < started:  # an earlier start arrived late: it is the run's
                run[0] = ts_ms
                self._timers.schedule(key, ts_ms + self.within_ms + self.grace_ms)
            return
        if len(self._runs) >= self.max_keys:
            oldest = min(self._runs, key=lambda k: self._runs[k][0] or 0)
            del self._runs[oldest]
            self.evicted += 1
        self._runs[key] = [ts_ms, None]
        self._timers.schedule(key, ts_ms + self.within_ms + self.grace_ms)

    def end(self, key: str, ts_ms: int) -> None:
        run = self._runs.get(key)
        if run is None or run[0] is None or ts_ms < run[0]:
            return
        if run[1] is None or ts_ms < run[1]:
            run[1] = ts_ms

    def due(self, clock_ms: int) -> list[UnfinishedMatch]:
        """The runs judged by the event clock ``clock_ms``: those not ended within their
        time, in time order."""
        out = []
        for key in self._timers.pop_due(clock_ms):
            run = self._runs.get(key)
            if run is None or run[0] is None:
                continue
            started, ended = run[0], run[1]
            deadline = started + self.within_ms
            if deadline + self.grace_ms > clock_ms:
                continue  # an earlier timer of a start that moved: its own comes later
            del self._runs[key]
            if ended is None or ended > deadline:
                out.append(UnfinishedMatch(key, deadline, started, ended))
        out.sort(key=lambda m: (m.ts_ms, m.key))
        return out
