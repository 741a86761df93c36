"""A field's value changed for a key, compared with the key's previous record: the core
of the ``change`` rule type (ElastAlert's ``change``: ``query_key`` = the rule's
``group_by``, ``compare_key`` = ``field``).

"Previous" is in event time: a record older than the key's latest is out of order
and neither compared nor remembered. With ``timeframe_ms``, only a change within that
time of the previous record counts, and keys are forgotten that long after their last
record. Missing values (``None``) are left out by the caller.

Memory: one entry per key (its latest time and value text, values longer than
:data:`MAX_VALUE_CHARS` held as a digest), at most ``max_keys`` of them: past that
the least recently seen key is forgotten (:attr:`Change.evicted`), and its next record
is a first one again (no match). This memory is not recovered after a restart: the
first record of each key after one is a first one too.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from processors.firehose.timers import Timers

MAX_VALUE_CHARS = 256


def value_text(value: str) -> str:
    """The text kept for a value: itself, or a digest when it is long."""
    if len(value) <= MAX_VALUE_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{value[:64]}…(sha256:{digest})"


@dataclass(frozen=True, slots=True)
class ChangeMatch:
    key: str
    ts_ms: int
    value: str
    previous: str
    previous_ts_ms: int


class Change:
    def __init__(self, *, timeframe_ms: int | None, max_keys: int) -> None:
        if max_keys < 1 or (timeframe_ms is not None and timeframe_ms <= 0):
            raise ValueError("need max_keys >= 1 and timeframe_ms > 0 (or None)")
        self.timeframe_ms = timeframe_ms
        self.max_keys = max_keys
        self.evicted = 0
        self._last: OrderedDict[str, tuple[int, str]] = OrderedDict()  # LRU order
        self._timers = Timers.for_timeframe(timeframe_ms) if timeframe_ms is not None else None

    def __len__(self) -> int:
        return len(self._last)

    def add(self, key: str, ts_ms: int, value: str) -> ChangeMatch | None:
        kept = value_text(value)
        last = self._last.get(key)
        if last is None:
            if len(self._last) >= self.max_keys:
                self._last.popitem(last=False)
                self.evicted += 1
            self._last[key] = (ts_ms, kept)
            if self._timers is not None and self.timeframe_ms is not None:
                self._timers.schedule(key, ts_ms + self.timeframe_ms)
            return None
        previous_ms, previous = last
        if ts_ms < previous_ms:
            return None  # out of order: the key's latest stays the reference
        self._last[key] = (ts_ms, kept)
        self._last.move_to_end(key)
        if kept == previous:
            return None
        if self.timeframe_ms is not None and ts_ms - previous_ms > self.timeframe_ms:
            return None
        return ChangeMatch(key, ts_ms, kept, previous, previous_ms)

    def expire(self, clock_ms: int) -> None:
        """With a timeframe: forget keys whose latest record is more than it behind."""
        if self._timers is None or self.timeframe_ms is None:
            return
        for key in self._timers.pop_due(clock_ms):
            last = self._last.get(key)
            if last is None:
                continue
            if last[0] + self.timeframe_ms < clock_ms:
                del self._last[key]
            else:
                self._timers.schedule(key, last[0] + self.timeframe_ms)
