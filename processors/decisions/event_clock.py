"""A signals partition's event clock, for the decision tier's own timers (verification).

The newest signal's event time; once no signal came for ``idle_timeout_ms`` of
processing time, it moves on with processing time from the clock at the last signal,
as the firehose's partition clock does
(:meth:`processors.windowing.PartitionWindows.clock_at`), so a timer fires on an idle
partition too. Time is passed in.
"""

from __future__ import annotations


class EventClock:
    def __init__(self, idle_timeout_ms: int) -> None:
        self.idle_timeout_ms = idle_timeout_ms
        self.clock_ms: int | None = None
        self._last_now_ms = 0
        self._at_last_ms = 0

    def observe(self, ts_ms: int, now_ms: int) -> None:
        """A signal of event time ``ts_ms`` read at processing time ``now_ms`` (or a
        restored state's last evaluation)."""
        at = self.at(now_ms)
        self.clock_ms = ts_ms if at is None else max(at, ts_ms)
        self._last_now_ms, self._at_last_ms = now_ms, self.clock_ms

    def at(self, now_ms: int) -> int | None:
        """The clock at processing time ``now_ms``; None before any signal."""
        if self.clock_ms is None:
            return None
        idle_ms = now_ms - self._last_now_ms
        if idle_ms >= self.idle_timeout_ms:
            return max(self.clock_ms, self._at_last_ms + idle_ms)
        return self.clock_ms
