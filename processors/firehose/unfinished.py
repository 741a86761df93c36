"""Started and not finished in time, per key: the core of the ``unfinished`` rule type
(a backup, a deploy or a batch job that hangs).

A record that ``start`` matches opens a run of its key at its time, unless one is open
(the earliest open start stands: a second start while the first runs does not hide
it). A record that ``end`` matches, at or after the open run's start, ends it: within
``within`` of its start the run is done; later, it is still a match. A run is judged
once the event clock passes ``start + within + grace``: not ended by then, or ended too
late, it is a match with ``ts_ms = start + within``. An end before any open run's start
is of an earlier run and ignored; a start after a run ended opens the next run. At
most ``max_keys`` keys are held; the one with the oldest run goes first, unjudged.
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
        # key -> its runs waiting for judgement: [start, end or None], by start; at most
        # one open (no end yet), and ended ones only when they ended too late
        self._runs: dict[str, list[list[int | None]]] = {}
        self._timers = Timers.for_timeframe(within_ms)
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._runs)

    def start(self, key: str, ts_ms: int) -> None:
        runs = self._runs.get(key)
        if runs is None:
            if len(self._runs) >= self.max_keys:
                oldest = min(self._runs, key=lambda k: self._runs[k][0][0] or 0)
                del self._runs[oldest]
                self.evicted += 1
            runs = self._runs[key] = []
        # the open run, or one that ended too late and started after this start: a start
        # of either arriving late moves it earlier
        same = next((run for run in runs if run[1] is None), None) or next(
            (run for run in runs if (run[0] or 0) > ts_ms), None
        )
        if same is not None:
            started = same[0]
            assert started is not None
            if ts_ms < started:
                same[0] = ts_ms
                self._timers.schedule(key, ts_ms + self.within_ms + self.grace_ms)
            return
        runs.append([ts_ms, None])
        runs.sort(key=lambda run: run[0] or 0)
        self._timers.schedule(key, ts_ms + self.within_ms + self.grace_ms)

    def end(self, key: str, ts_ms: int) -> None:
        """Ends the open run if it started at or before ``ts_ms``; a run ended within its
        time is done at once (nothing to judge)."""
        runs = self._runs.get(key)
        if not runs:
            return
        # the open run; or one that ended too late, if this end is earlier
        run = next(
            (
                r
                for r in runs
                if r[0] is not None and r[0] <= ts_ms and (r[1] is None or ts_ms < r[1])
            ),
            None,
        )
        if run is None or run[0] is None:
            return
        if ts_ms <= run[0] + self.within_ms:
            runs.remove(run)
            if not runs:
                del self._runs[key]
        else:
            run[1] = ts_ms  # too late: still a match when judged

    def due(self, clock_ms: int) -> list[UnfinishedMatch]:
        """The runs judged by the event clock ``clock_ms``: those not ended within their
        time, in time order."""
        out = []
        for key in self._timers.pop_due(clock_ms):
            runs = self._runs.get(key)
            if runs is None:
                continue
            for run in [
                r for r in runs if (r[0] or 0) + self.within_ms + self.grace_ms <= clock_ms
            ]:
                started, ended = run[0], run[1]
                assert started is not None
                runs.remove(run)
                out.append(UnfinishedMatch(key, started + self.within_ms, started, ended))
            if not runs:
                del self._runs[key]
        out.sort(key=lambda m: (m.ts_ms, m.key))
        return out
