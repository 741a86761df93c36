"""Keys due at event times: the timers of the rule-type cores (flatline deadlines, spike
window ends, expiry of per-key state).

A key is scheduled at a time; :meth:`Timers.pop_due` hands back every key whose time
is at or before the clock. Timers are coarse and lazy, which keeps them at about 8 bytes
per key: times are rounded **up** to buckets of ``resolution_ms`` (so a popped key is
always due), one list of keys per bucket, and nothing is ever unscheduled — the caller
checks its own state for a popped key and schedules it again if it is not done yet. A
key scheduled twice comes back twice; callers schedule a key when its deadline moves
earlier (or it is new) and re-check on pop when it moved later, so each key has at
most a couple of entries.
"""

from __future__ import annotations

from heapq import heappop, heappush


class Timers:
    """Buckets of keys by due time. ``resolution_ms`` only decides how late a key may be
    handed back after its time (less than one bucket once the clock passes it)."""

    __slots__ = ("_buckets", "_order", "resolution_ms")

    def __init__(self, resolution_ms: int) -> None:
        if resolution_ms <= 0:
            raise ValueError(f"resolution_ms must be > 0, got {resolution_ms}")
        self.resolution_ms = resolution_ms
        self._buckets: dict[int, list[str]] = {}
        self._order: list[int] = []  # heap of bucket numbers

    @classmethod
    def for_timeframe(cls, timeframe_ms: int) -> Timers:
        """Timers at most a second or a sixteenth of ``timeframe_ms`` late."""
        return cls(max(1, min(1000, timeframe_ms // 16)))

    def __len__(self) -> int:
        """Scheduled entries (a key scheduled twice counts twice)."""
        return sum(len(keys) for keys in self._buckets.values())

    def schedule(self, key: str, at_ms: int) -> None:
        bucket = -(-at_ms // self.resolution_ms)  # ceil: the bucket ends at or after at_ms
        keys = self._buckets.get(bucket)
        if keys is None:
            self._buckets[bucket] = [key]
            heappush(self._order, bucket)
        else:
            keys.append(key)

    def pop_due(self, clock_ms: int) -> list[str]:
        """Every key scheduled at or before ``clock_ms`` (in bucket order), unscheduled."""
        out: list[str] = []
        order, buckets, resolution = self._order, self._buckets, self.resolution_ms
        while order and order[0] * resolution <= clock_ms:
            out.extend(buckets.pop(heappop(order)))
        return out

    def pop_first(self) -> list[str]:
        """The keys of the earliest bucket, unscheduled (to evict the oldest state)."""
        if not self._order:
            return []
        return self._buckets.pop(heappop(self._order))
