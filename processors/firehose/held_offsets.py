"""Which input offsets the rule-type cores still hold state from, so that the firehose
does not commit past them.

The firehose recovers without a changelog: it commits an offset only when every record
before it is no longer needed, and replays the rest after a crash (docs/architecture.md,
"Delivery and failure"). Windows pin their offsets in :mod:`processors.windowing`; the
cores of :mod:`processors.firehose.typed_rules` hold state for at most a **horizon** of event
time after a record (``typed_rules.horizon_ms``: frequency and cardinality, timeframe +
grace; flatline, that and how long a silence is remembered; spike, two timeframes +
grace; the other types are not rebuilt by a replay). This keeps that coarsely:
consecutive records in segments of :data:`SEGMENT_RECORDS`, each with its first offset
and greatest time; a segment is released once its greatest time is a horizon behind
the clock. So it costs one small list per segment, and a replay re-reads at most a
segment more than needed.
"""

from __future__ import annotations

from collections import deque

SEGMENT_RECORDS = 1024


class HeldOffsets:
    __slots__ = ("_segments", "horizon_ms")

    def __init__(self, horizon_ms: int) -> None:
        self.horizon_ms = horizon_ms
        self._segments: deque[list[int]] = deque()  # [first offset, max ts, records]

    def note(self, offset: int, ts_ms: int) -> None:
        """A record (offsets in increasing order) whose state is held until ``ts_ms`` is a
        horizon behind the clock."""
        segments = self._segments
        if segments:
            last = segments[-1]
            if last[2] < SEGMENT_RECORDS:
                if ts_ms > last[1]:
                    last[1] = ts_ms
                last[2] += 1
                return
        segments.append([offset, ts_ms, 1])

    def release(self, clock_ms: int) -> None:
        segments = self._segments
        while segments and segments[0][1] + self.horizon_ms < clock_ms:
            segments.popleft()

    def first_offset(self) -> int | None:
        """The smallest offset still held, or None."""
        return self._segments[0][0] if self._segments else None
