"""How many records per key within a sliding timeframe: the cores of the ``frequency``
and ``flatline`` rule types.

Both keep, per key, only the timestamps that can still decide something: the ``n``
most recent (``n`` = ``at_least`` or ``fewer_than``), sorted. So a key costs at most
``n`` integers whatever its rate, and a key is forgotten once nothing it holds can
matter (frequency: its newest record is older than ``timeframe + grace`` behind the
clock; flatline: after it fired).

A timeframe ``T`` is sliding. ``n`` records are "within T" when the newest minus the
oldest is at most ``T`` (ElastAlert's ``EventWindow``); "fewer than n in the last T" at
time ``t`` counts the records with ``t - T < ts <= t``. Times are event times in
milliseconds; the clock passed to :meth:`Flatline.due` / :meth:`Frequency.expire` is
the partition's event clock (greatest record time, moved on by processing time when
the partition is idle, see :mod:`processors.windowing`); ``grace_ms`` is how long
after a time late records are still waited for.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass

from processors.firehose.timers import Timers

_NO_TIME = -(2**62)


@dataclass(frozen=True, slots=True)
class FrequencyMatch:
    key: str
    ts_ms: int  # the record that made the count: the latest of the `count`
    first_ts_ms: int  # the earliest of them
    count: int


class Frequency:
    """At least ``at_least`` records within ``timeframe_ms`` per key (ElastAlert's
    ``frequency``, sliding). A match clears the key: the next one needs ``at_least``
    new records. Records are taken in any order; one older than the ``at_least`` most
    recent of its key changes nothing."""

    def __init__(self, at_least: int, timeframe_ms: int, grace_ms: int) -> None:
        if at_least < 1 or timeframe_ms <= 0 or grace_ms < 0:
            raise ValueError("need at_least >= 1, timeframe_ms > 0, grace_ms >= 0")
        self.at_least = at_least
        self.timeframe_ms = timeframe_ms
        self.grace_ms = grace_ms
        self._times: dict[str, list[int]] = {}
        self._timers = Timers.for_timeframe(timeframe_ms)

    def __len__(self) -> int:
        """Keys held."""
        return len(self._times)

    def add(self, key: str, ts_ms: int) -> FrequencyMatch | None:
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = [ts_ms]
            self._timers.schedule(key, ts_ms + self.timeframe_ms + self.grace_ms)
        else:
            insort(times, ts_ms)
            if len(times) > self.at_least:
                del times[0]
        if len(times) == self.at_least and times[-1] - times[0] <= self.timeframe_ms:
            del self._times[key]
            return FrequencyMatch(key, times[-1], times[0], len(times))
        return None

    def expire(self, clock_ms: int) -> None:
        """Forget the keys whose newest record can no longer be part of a match."""
        keep_ms = self.timeframe_ms + self.grace_ms
        for key in self._timers.pop_due(clock_ms):
            times = self._times.get(key)
            if times is None:
                continue
            if times[-1] + keep_ms <= clock_ms:
                del self._times[key]
            else:
                self._timers.schedule(key, times[-1] + keep_ms)


@dataclass(frozen=True, slots=True)
class FlatlineMatch:
    key: str
    ts_ms: int  # when the count fell below the threshold (the timeframe's end)
    count: int  # records within the timeframe ending at ts_ms (< fewer_than)
    last_ts_ms: int  # the key's latest record


@dataclass(frozen=True, slots=True)
class FlatlineRecovery:
    key: str
    ts_ms: int  # the record that ended the silence
    silent_since_ms: int  # the silence's match time


class Flatline:
    """Fewer than ``fewer_than`` records within ``timeframe_ms`` for a key seen before
    (ElastAlert's ``flatline`` per ``query_key``; ``fewer_than: 1`` is "no record for
    T", a lost heartbeat).

    The count of a key falls below ``n`` at ``deadline = (n-th most recent record, or
    the key's first record while it has fewer) + T``; it is reported once the clock
    passes ``deadline + grace``, with ``ts_ms = deadline``. Then the key is forgotten
    (ElastAlert's ``forget_keys``): one match per silence, and a key that never comes
    back costs nothing more. A key that sends again is watched again from its next
    record. A record after the deadline does not undo the silence before it, even if
    it arrives before the silence is judged (within ``grace``): that watch waits for
    its judgement in ``_fallen`` while the key is watched afresh from the record; a
    late record before a watch starts one of its own, and a late record that fills the
    silence between two watches joins them.

    With ``remember_ms`` (the longest ``verify.after`` of the rule's actions), a silence
    is remembered that long after its match: a record of the key within it ends the
    silence, and :meth:`add` returns a :class:`FlatlineRecovery` (so a verified heal of
    a lost heartbeat can tell that the heartbeat came back).
    """

    def __init__(
        self, fewer_than: int, timeframe_ms: int, grace_ms: int, remember_ms: int = 0
    ) -> None:
        if fewer_than < 1 or timeframe_ms <= 0 or grace_ms < 0 or remember_ms < 0:
            raise ValueError("need fewer_than >= 1, timeframe_ms > 0, grace_ms >= 0")
        self.fewer_than = fewer_than
        self.timeframe_ms = timeframe_ms
        self.grace_ms = grace_ms
        self.remember_ms = remember_ms
        # key -> [first record's ts, then the `fewer_than` most recent ts, ascending]
        self._keys: dict[str, list[int]] = {}
        # key -> its earlier watches whose count fell below before its later records,
        # waiting for their judgement, oldest first (each like a `_keys` entry)
        self._fallen: dict[str, list[list[int]]] = {}
        self._silent: dict[str, int] = {}  # key -> match time, for ``remember_ms``
        self._timers = Timers.for_timeframe(timeframe_ms)
        self._clock_ms = _NO_TIME

    def __len__(self) -> int:
        return len(self._keys) + len(self._silent) + sum(map(len, self._fallen.values()))

    def add(self, key: str, ts_ms: int) -> FlatlineRecovery | None:
        if ts_ms + self.timeframe_ms + self.grace_ms <= self._clock_ms:
            return None  # too late to change any deadline still ahead
        times = self._keys.get(key)
        if times is None:
            self._keys[key] = [ts_ms, ts_ms]
            self._timers.schedule(key, self._deadline([ts_ms, ts_ms]) + self.grace_ms)
            silent_since = self._silent.pop(key, None)
            if silent_since is not None and ts_ms > silent_since:
                return FlatlineRecovery(key, ts_ms, silent_since)
            return None
        watches = [*self._fallen.get(key, []), times]
        index = next((i for i, w in enumerate(watches) if ts_ms <= self._deadline(w)), None)
        if index is None:  # the count fell below before this record: that silence stands
            self._fallen.setdefault(key, []).append(times)
            self._keys[key] = [ts_ms, ts_ms]
            self._timers.schedule(key, self._deadline([ts_ms, ts_ms]) + self.grace_ms)
            return None
        if ts_ms < watches[index][0]:  # before the watch, after any silence before it
            watches.insert(index, [ts_ms, ts_ms])
            self._timers.schedule(key, self._deadline([ts_ms, ts_ms]) + self.grace_ms)
        else:
            self._insert(watches[index], ts_ms)
        while index + 1 < len(watches) and self._deadline(watches[index]) >= watches[index + 1][0]:
            later = watches.pop(index + 1)  # a late record filled the silence between them
            watches[index][1:] = (watches[index][1:] + later[1:])[-self.fewer_than :]
        self._keys[key] = watches[-1]
        if len(watches) > 1:
            self._fallen[key] = watches[:-1]
        else:
            self._fallen.pop(key, None)
        return None

    def _insert(self, times: list[int], ts_ms: int) -> None:
        if ts_ms < times[0]:
            times[0] = ts_ms
        recent = times[1:]
        insort(recent, ts_ms)
        times[1:] = recent[-self.fewer_than :]

    def _deadline(self, times: list[int]) -> int:
        n = self.fewer_than
        since = times[1] if len(times) - 1 >= n else times[0]
        return since + self.timeframe_ms

    def due(self, clock_ms: int) -> list[FlatlineMatch]:
        """Keys whose count fell below the threshold at least ``grace_ms`` before
        ``clock_ms``, ordered by time then key."""
        if clock_ms > self._clock_ms:
            self._clock_ms = clock_ms
        out = []
        for key in self._timers.pop_due(clock_ms):
            fallen = self._fallen.get(key, [])
            while fallen and self._deadline(fallen[0]) + self.grace_ms <= clock_ms:
                out.append(self._match(key, fallen.pop(0)))
            if fallen:
                self._timers.schedule(key, self._deadline(fallen[0]) + self.grace_ms)
            else:
                self._fallen.pop(key, None)
            times = self._keys.get(key)
            if times is None:
                silent_since = self._silent.get(key)
                if silent_since is not None and silent_since + self.remember_ms <= clock_ms:
                    del self._silent[key]  # remembered long enough
                continue  # else fired already (a second timer entry)
            deadline = self._deadline(times)
            if deadline + self.grace_ms > clock_ms:
                self._timers.schedule(key, deadline + self.grace_ms)
                continue
            del self._keys[key]
            if self.remember_ms:
                self._silent[key] = deadline
                self._timers.schedule(key, deadline + self.remember_ms)
            out.append(self._match(key, times))
        out.sort(key=lambda m: (m.ts_ms, m.key))
        return out

    def _match(self, key: str, times: list[int]) -> FlatlineMatch:
        deadline = self._deadline(times)
        low = deadline - self.timeframe_ms
        count = sum(1 for ts in times[1:] if low < ts <= deadline)
        return FlatlineMatch(key, deadline, count, times[-1])
