"""Distinct values of a field per key within a sliding timeframe: the core of the
``cardinality`` rule type (ElastAlert's ``cardinality``; Sigma's ``value_count``).

- ``above: a`` — more than ``a`` distinct values within ``T``: reported on the record
  that makes them ``a + 1``; the key's values are then cleared (the next match needs
  ``a + 1`` new sightings).
- ``below: b`` — fewer than ``b`` distinct values within ``T``, for a key seen before:
  reported when the clock passes the moment the count fell below ``b`` (plus
  ``grace_ms``), as :mod:`processors.firehose.counting`'s flatline does for records; the key is
  then forgotten until its next record. A key is not judged before it has been seen
  for ``T``. A record after that moment does not undo the drop before it, even if it
  arrives before the drop is judged (within ``grace_ms``): the key's values until then
  wait for their judgement in ``_fallen``, and the key is watched afresh from the
  record; so is a late record before a watch, and a late record that fills the drop
  between two watches joins them.

**Exact with a cap, no estimate needed.** Per key we keep each value's last sighting,
most recent last, and at most ``a + 1`` (for ``above``) or ``b`` (for ``below``) of
them, evicting the least recently seen. That is enough to answer exactly: more than
``a`` distinct values within ``T`` means the ``a + 1`` most recently seen are all within
``T``; fewer than ``b`` means the ``b``-th most recently seen is not. So a key costs
at most ``max(a + 1, b)`` entries (a 64-bit hash of the value and a time, about 120
bytes each) whatever the field's real cardinality. "Most recently seen" is in event
time: a late sighting takes its place by its time (a sort of at most the cap).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from processors.firehose.timers import Timers

_NO_TIME = -(2**62)


@dataclass(frozen=True, slots=True)
class CardinalityMatch:
    key: str
    ts_ms: int
    distinct: int  # distinct values within the timeframe ending at ts_ms
    bound: Literal["above", "below"]


class _Values:
    __slots__ = ("first_ms", "newest_ms", "seen")

    def __init__(self, first_ms: int) -> None:
        self.first_ms = first_ms
        self.newest_ms = first_ms
        self.seen: OrderedDict[int, int] = OrderedDict()  # value hash -> last sighting


class Cardinality:
    def __init__(
        self, timeframe_ms: int, *, above: int | None, below: int | None, grace_ms: int
    ) -> None:
        if above is None and below is None:
            raise ValueError("cardinality needs above, below or both")
        if timeframe_ms <= 0 or grace_ms < 0:
            raise ValueError("need timeframe_ms > 0, grace_ms >= 0")
        if (above is not None and above < 0) or (below is not None and below < 1):
            raise ValueError("need above >= 0 and below >= 1")
        self.timeframe_ms = timeframe_ms
        self.above = above
        self.below = below
        self.grace_ms = grace_ms
        self.cap = max(above + 1 if above is not None else 0, below or 0)
        self._keys: dict[str, _Values] = {}
        self._fallen: dict[str, list[_Values]] = {}  # drops not judged yet, oldest first
        self._timers = Timers.for_timeframe(timeframe_ms)
        self._clock_ms = _NO_TIME

    def __len__(self) -> int:
        return len(self._keys) + sum(map(len, self._fallen.values()))

    def values_held(self) -> int:
        fallen = (v for each in self._fallen.values() for v in each)
        return sum(len(v.seen) for v in (*self._keys.values(), *fallen))

    def add(self, key: str, ts_ms: int, value: str) -> CardinalityMatch | None:
        """One sighting of ``value`` (text; the caller leaves out missing values)."""
        if ts_ms + self.timeframe_ms + self.grace_ms <= self._clock_ms:
            return None  # too late to matter
        values = self._keys.get(key)
        if values is None:
            values = self._keys[key] = _Values(ts_ms)
            self._timers.schedule(key, ts_ms + self.timeframe_ms + self.grace_ms)
        elif self.below is not None:
            values = self._watch(key, values, ts_ms)
        if ts_ms < values.first_ms:
            values.first_ms = ts_ms
        values.newest_ms = max(values.newest_ms, ts_ms)
        seen = values.seen
        digest = hash(value)
        last = seen.get(digest)
        if last is None or ts_ms > last:
            seen[digest] = ts_ms
            seen.move_to_end(digest)
            if ts_ms < values.newest_ms:  # a late sighting: keep them in event-time order
                values.seen = seen = OrderedDict(sorted(seen.items(), key=lambda item: item[1]))
        low = values.newest_ms - self.timeframe_ms
        while seen and next(iter(seen.values())) < low:
            seen.popitem(last=False)
        while len(seen) > self.cap:
            seen.popitem(last=False)
        if key in self._fallen:
            self._join(key)
        if self.above is not None and len(seen) > self.above:
            low = ts_ms - self.timeframe_ms
            distinct = sum(1 for seen_ms in seen.values() if low <= seen_ms <= ts_ms)
            if distinct > self.above:
                seen.clear()
                return CardinalityMatch(key, ts_ms, distinct, "above")
        return None

    def _watch(self, key: str, current: _Values, ts_ms: int) -> _Values:
        """The values a record of ``key`` joins: those of the drop it comes before, or,
        when the count fell below ``below`` before it, a fresh watch of the key."""
        watches = [*self._fallen.get(key, []), current]
        position = next(
            (i for i, values in enumerate(watches) if ts_ms <= self._deadline(values)), None
        )
        if position is not None and ts_ms >= watches[position].first_ms:
            return watches[position]
        # After a drop that stands, or before a watch (and after any drop before it): a
        # watch of its own, which _join joins to the next if the record fills the drop.
        fresh = _Values(ts_ms)
        watches.insert(len(watches) if position is None else position, fresh)
        self._keys[key] = watches[-1]
        self._fallen[key] = watches[:-1]
        self._timers.schedule(key, ts_ms + self.timeframe_ms + self.grace_ms)
        return fresh

    def _join(self, key: str) -> None:
        """Join the watches of ``key`` between which a late record filled the drop."""
        watches = [*self._fallen.pop(key), self._keys[key]]
        joined = [watches[0]]
        for values in watches[1:]:
            earlier = joined[-1]
            if self._deadline(earlier) < values.first_ms:
                joined.append(values)
                continue
            earlier.newest_ms = max(earlier.newest_ms, values.newest_ms)
            for digest, seen_ms in values.seen.items():
                earlier.seen[digest] = max(seen_ms, earlier.seen.get(digest, seen_ms))
            ordered = sorted(earlier.seen.items(), key=lambda item: item[1])[-self.cap :]
            earlier.seen = OrderedDict(ordered)
        self._keys[key] = joined[-1]
        if len(joined) > 1:
            self._fallen[key] = joined[:-1]

    def _deadline(self, values: _Values) -> int:
        """When ``below`` would be reported without further records; else when the key
        can be forgotten."""
        if self.below is None:
            return values.newest_ms + self.timeframe_ms
        times = sorted(values.seen.values())
        since = times[-self.below] if len(times) >= self.below else values.first_ms
        return max(since, values.first_ms) + self.timeframe_ms

    def due(self, clock_ms: int) -> list[CardinalityMatch]:
        """``below`` matches whose moment is ``grace_ms`` behind ``clock_ms`` (ordered by
        time then key); forgets keys with nothing left to judge."""
        if clock_ms > self._clock_ms:
            self._clock_ms = clock_ms
        out: list[CardinalityMatch] = []
        for key in self._timers.pop_due(clock_ms):
            fallen = self._fallen.get(key, [])
            while fallen and self._deadline(fallen[0]) + self.grace_ms <= clock_ms:
                out.append(self._below_match(key, fallen.pop(0)))
            if fallen:
                self._timers.schedule(key, self._deadline(fallen[0]) + self.grace_ms)
            else:
                self._fallen.pop(key, None)
            values = self._keys.get(key)
            if values is None:
                continue
            deadline = self._deadline(values)
            if deadline + self.grace_ms > clock_ms:
                self._timers.schedule(key, deadline + self.grace_ms)
                continue
            del self._keys[key]
            if self.below is not None:
                out.append(self._below_match(key, values))
        out.sort(key=lambda m: (m.ts_ms, m.key))
        return out

    def _below_match(self, key: str, values: _Values) -> CardinalityMatch:
        deadline = self._deadline(values)
        low = deadline - self.timeframe_ms
        distinct = sum(1 for t in values.seen.values() if low < t <= deadline)
        return CardinalityMatch(key, deadline, distinct, "below")
