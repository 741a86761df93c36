"""Event-time windows of one input partition: tumbling or hopping, grace, emit-final.

A window is ``[start, start + size_ms)`` with ``start`` on the hop grid (``start %
hop_ms == 0``, aligned to epoch 0); tumbling is ``hop_ms == size_ms``. The partition
has one event clock, the greatest record time seen (``max_event_ms``); each spec's
watermark is that clock minus the spec's ``grace_ms``. A window is emitted once, when
its spec's watermark reaches its end ("emit final"), and then forgotten; a record
whose windows have all been emitted is late and is not added.

An idle partition must not hold windows open forever: when no record has arrived for
``idle_timeout_ms`` of processing time, ``advance`` moves the event clock on by the
processing time elapsed since the last record. Processing time matters for nothing
else; event time alone decides windows. Same calls, same results.

Recovery without a changelog: ``committable_offset`` is the offset the shell may
commit, with ``max_event_ms`` and the next offset it processed in the commit
metadata. After a crash the shell replays from the committed offset into a fresh
instance on which it called ``restore``: windows still open at the crash are rebuilt,
windows already emitted stay closed, and a replayed record that only belongs to
those is reported as ``REPLAYED`` (skip it) rather than ``LATE`` (dead-letter it).

Offsets are assumed to increase in call order, as they do within a Kafka partition.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from heapq import heappop, heappush
from operator import attrgetter

from processors.aggregate import STATS, Accumulator, check_stats

_NO_TIME = -(2**62)


class AddOutcome(enum.Enum):
    ADDED = "added"  # in at least one open window
    LATE = "late"  # every window it belongs to was already emitted: dead-letter it
    REPLAYED = "replayed"  # late, but replayed after a restart: already handled, skip it


_ADDED, _LATE, _REPLAYED = AddOutcome.ADDED, AddOutcome.LATE, AddOutcome.REPLAYED


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One kind of window, shared by every series that feeds it.

    ``empty_windows = k > 0`` makes series "known": after a series had a non-empty
    window, each of its next ``k`` windows on the hop grid that got no record is
    emitted with ``count = 0`` (so downstream can resolve alerts on silence); after
    ``k`` consecutive empty windows the series is forgotten.
    """

    spec_id: str  # stable id chosen by the caller (the rule compiler)
    size_ms: int
    hop_ms: int  # == size_ms for tumbling; any 0 < hop_ms <= size_ms
    grace_ms: int  # allowed lateness
    stats: frozenset[str]
    empty_windows: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.hop_ms <= self.size_ms:
            raise ValueError(
                f"window {self.spec_id!r}: need 0 < hop_ms <= size_ms, "
                f"got hop_ms={self.hop_ms}, size_ms={self.size_ms}"
            )
        if self.grace_ms < 0 or self.empty_windows < 0:
            raise ValueError(f"window {self.spec_id!r}: grace_ms and empty_windows must be >= 0")
        check_stats(self.stats)


@dataclass(frozen=True, slots=True)
class WindowResult:
    spec_id: str
    series_key: str
    start_ms: int
    end_ms: int  # exclusive
    values: dict[str, float | None]  # the spec's stats, in STATS order
    count: int


def window_starts(ts_ms: int, size_ms: int, hop_ms: int) -> list[int]:
    """Starts of every window ``[start, start + size_ms)`` holding ``ts_ms``, ascending."""
    last = ts_ms - ts_ms % hop_ms
    first = last - (size_ms - 1 - ts_ms % hop_ms) // hop_ms * hop_ms
    return list(range(first, last + 1, hop_ms))


class _SpecWindows:
    """Open windows and known series of one spec. Every end is on the spec's grid."""

    __slots__ = (
        "due",
        "empties",
        "empty_values",
        "empty_windows",
        "first_offset",
        "grace_ms",
        "hop_ms",
        "known",
        "open",
        "pins",
        "size_ms",
        "spec_id",
        "stat_order",
        "stats",
    )

    def __init__(self, spec: WindowSpec) -> None:
        self.spec_id = spec.spec_id
        self.size_ms = spec.size_ms
        self.hop_ms = spec.hop_ms
        self.grace_ms = spec.grace_ms
        self.empty_windows = spec.empty_windows
        self.stats = spec.stats
        self.stat_order = tuple(s for s in STATS if s in spec.stats)
        self.empty_values = Accumulator(spec.stats).result(self.stat_order, spec.size_ms)
        self.open: dict[int, dict[str, Accumulator]] = {}  # end -> series -> stats
        self.first_offset: dict[int, int] = {}  # end -> smallest offset in those windows
        self.due: list[int] = []  # heap of ends with something to do (may repeat)
        self.known: dict[str, int] = {}  # series -> end of its last non-empty window
        self.empties: dict[int, set[str]] = {}  # end -> known series that may be empty there
        self.pins: dict[int, int] = {}  # end -> offset to keep uncommitted until then

    def close(self, end: int, out: list[WindowResult]) -> None:
        """Emit and forget everything of this spec that ends at ``end``."""
        size, k = self.size_ms, self.empty_windows
        start = end - size
        bucket = self.open.pop(end, None)
        if bucket is not None:
            first = self.first_offset.pop(end)
            order = self.stat_order
            for series, acc in bucket.items():
                out.append(
                    WindowResult(
                        self.spec_id, series, start, end, acc.result(order, size), acc.count
                    )
                )
            if k:
                for series in bucket:
                    self.known[series] = end
                    self.schedule(end + self.hop_ms, series)
                self.pin(end + k * self.hop_ms, first)
        maybe_empty = self.empties.pop(end, None)
        if maybe_empty:
            for series in maybe_empty:
                last = self.known.get(series)
                if last is None or last >= end:  # forgotten, or had records here
                    continue
                out.append(
                    WindowResult(self.spec_id, series, start, end, dict(self.empty_values), 0)
                )
                if end - last < k * self.hop_ms:
                    self.schedule(end + self.hop_ms, series)
                else:
                    del self.known[series]
        self.pins.pop(end, None)

    def schedule(self, end: int, series: str) -> None:
        waiting = self.empties.get(end)
        if waiting is None:
            self.empties[end] = {series}
            heappush(self.due, end)
        else:
            waiting.add(series)

    def pin(self, until_end: int, offset: int) -> None:
        """Keep ``offset`` from being committed until ``until_end`` is closed: replaying
        from it rebuilds the known series whose empty windows are still to come."""
        pinned = self.pins.get(until_end)
        if pinned is None:
            self.pins[until_end] = offset
            heappush(self.due, until_end)
        elif offset < pinned:
            self.pins[until_end] = offset

    def remember_replayed(self, series: str, last_end: int, watermark_ms: int, offset: int) -> None:
        """A replayed record into closed windows ending at most at ``last_end``: make its
        series known again if some of its empty windows are still to be emitted."""
        hop, k = self.hop_ms, self.empty_windows
        next_empty = (watermark_ms - last_end) // hop + 1  # first one not emitted yet
        if next_empty > k:
            return
        if self.known.get(series, last_end) <= last_end:
            self.known[series] = last_end
        self.schedule(last_end + next_empty * hop, series)
        self.pin(last_end + k * hop, offset)


# (end_ms, spec_id, series_key): attrgetter builds the key in C, twice as fast as a
# Python function over the hundreds of thousands of results a busy partition closes.
_result_order = attrgetter("end_ms", "spec_id", "series_key")


class PartitionWindows:
    """All open windows of one input partition (one instance per assigned partition).

    Times are epoch milliseconds; ``now_ms`` is processing time, used only for
    idleness.
    """

    def __init__(self, specs: Iterable[WindowSpec], *, idle_timeout_ms: int) -> None:
        if idle_timeout_ms <= 0:
            raise ValueError(f"idle_timeout_ms must be > 0, got {idle_timeout_ms}")
        self._specs: dict[str, _SpecWindows] = {}
        for spec in specs:
            if spec.spec_id in self._specs:
                raise ValueError(f"duplicate window spec id {spec.spec_id!r}")
            self._specs[spec.spec_id] = _SpecWindows(spec)
        self._max_grace_ms = max((s.grace_ms for s in self._specs.values()), default=0)
        self._idle_timeout_ms = idle_timeout_ms
        self._clock_ms = _NO_TIME  # max event time, moved on by idleness too
        self._clock_at_last_ms = _NO_TIME  # the clock right after the last record
        self._last_now_ms: int | None = None  # processing time of the last record
        self._next_offset = -1  # highest offset seen + 1
        self._replay_until = -1  # offsets below it were handled before a restart
        self._replayed_max_ms = _NO_TIME  # greatest time among those replayed so far

    @property
    def max_event_ms(self) -> int | None:
        """The partition's event clock: greatest record time, or more when idle."""
        return None if self._clock_ms == _NO_TIME else self._clock_ms

    @property
    def watermark_ms(self) -> int | None:
        """Every spec has emitted all its windows ending at or before this time
        (``max_event_ms`` minus the largest grace); a spec with less grace is ahead."""
        return None if self._clock_ms == _NO_TIME else self._clock_ms - self._max_grace_ms

    @property
    def open_windows(self) -> int:
        """Open (series, window) pairs, for a gauge."""
        return sum(len(b) for s in self._specs.values() for b in s.open.values())

    def add(
        self, spec_id: str, series_key: str, ts_ms: int, value: float, offset: int, now_ms: int
    ) -> AddOutcome:
        """Add one value to every open window of ``series_key`` that holds ``ts_ms``.

        ``LATE``: all those windows were emitted; the caller dead-letters the record.
        ``REPLAYED``: the same, for a record replayed after ``restore``; skip it.
        A hopping record whose earliest windows are closed goes into the open ones.
        """
        try:
            spec = self._specs[spec_id]
        except KeyError:
            raise ValueError(f"unknown window spec id {spec_id!r}") from None
        clock = self._clock_ms
        if ts_ms > clock:
            clock = self._clock_ms = ts_ms
        self._clock_at_last_ms = clock
        self._last_now_ms = now_ms
        if offset >= self._next_offset:
            self._next_offset = offset + 1
        if offset < self._replay_until and ts_ms > self._replayed_max_ms:
            self._replayed_max_ms = ts_ms
        watermark = clock - spec.grace_ms
        size, hop = spec.size_ms, spec.hop_ms
        start = ts_ms - ts_ms % hop
        end = start + size  # the latest window holding ts_ms closes last
        if end <= watermark:
            if offset < self._replay_until:
                # Known again unless surely late the first time round (already behind
                # the watermark made by the records replayed so far).
                if spec.empty_windows and end > self._replayed_max_ms - spec.grace_ms:
                    spec.remember_replayed(series_key, end, watermark, offset)
                return _REPLAYED
            return _LATE
        open_ = spec.open
        low = ts_ms - size
        while True:
            windows = open_.get(end)
            if windows is None:
                windows = open_[end] = {}
                spec.first_offset[end] = offset
                heappush(spec.due, end)
            acc = windows.get(series_key)
            if acc is None:
                acc = windows[series_key] = Accumulator(spec.stats)
            acc.add(ts_ms, value)
            start -= hop
            end -= hop
            if start <= low or end <= watermark:
                return _ADDED

    def observe(self, ts_ms: int, offset: int, now_ms: int) -> None:
        """Account for a record that fed no window: the clock and offsets move past it."""
        if ts_ms > self._clock_ms:
            self._clock_ms = ts_ms
        self._clock_at_last_ms = self._clock_ms
        self._last_now_ms = now_ms
        if offset >= self._next_offset:
            self._next_offset = offset + 1
        if offset < self._replay_until and ts_ms > self._replayed_max_ms:
            self._replayed_max_ms = ts_ms

    def advance(self, now_ms: int) -> list[WindowResult]:
        """Emit and forget every window whose end is at or before its spec's watermark,
        ordered by ``(end_ms, spec_id, series_key)``; apply idleness first."""
        self._apply_idle(now_ms)
        clock = self._clock_ms
        out: list[WindowResult] = []
        for spec in self._specs.values():
            watermark = clock - spec.grace_ms
            due = spec.due
            while due and due[0] <= watermark:
                spec.close(heappop(due), out)
        if len(out) > 1:
            out.sort(key=_result_order)
        return out

    def clock_at(self, now_ms: int) -> int | None:
        """The event clock at processing time ``now_ms``: :attr:`max_event_ms` with
        idleness applied, as :meth:`advance` applies it (it emits nothing). For the
        timers of :mod:`processors.firehose.typed_rules`."""
        self._apply_idle(now_ms)
        return self.max_event_ms

    def _apply_idle(self, now_ms: int) -> None:
        if self._last_now_ms is None:
            if self._clock_ms != _NO_TIME:  # restored, no record yet: idle from now on
                self._last_now_ms, self._clock_at_last_ms = now_ms, self._clock_ms
            return
        idle_ms = now_ms - self._last_now_ms
        if idle_ms >= self._idle_timeout_ms:
            # From the clock at the last record, so repeated calls do not add up.
            self._clock_ms = max(self._clock_ms, self._clock_at_last_ms + idle_ms)

    def committable_offset(self) -> int | None:
        """The offset to commit: the smallest offset of a record still in an open window
        (or pinned for a known series' empty windows); else the highest seen + 1;
        ``None`` before any record. Replaying from it after a crash loses nothing."""
        if self._next_offset < 0:
            return None
        best = self._next_offset
        for spec in self._specs.values():
            for offsets in (spec.first_offset, spec.pins):
                if offsets:
                    best = min(best, min(offsets.values()))
        return best

    def restore(self, max_event_ms: int, replay_until_offset: int) -> None:
        """Start a fresh instance from a commit's metadata: the event clock then, and
        the next offset the previous process had processed. Windows that ended at or
        before the restored watermark stay closed; a record with a smaller offset that
        only belongs to them is ``REPLAYED``.

        Known series (``empty_windows``) come back from the replayed records (the
        commit offset is held back for them). One inexactness: a replayed record that
        had been late only because of a record older than the replay (or of
        idleness) makes its series known again, so a series forgotten before the
        crash can get up to ``empty_windows`` extra empty windows.
        """
        if self._next_offset >= 0 or self._clock_ms != _NO_TIME:
            raise ValueError("restore() must be called before any record")
        self._clock_ms = self._clock_at_last_ms = max_event_ms
        self._replay_until = replay_until_offset
