"""Partial counts on their way from the input partitions to one partition of the signals
topic: the repartition that SLOs (:mod:`processors.firehose.slos`) and autoscalers
(:mod:`processors.firehose.autoscalers`) need, whose records of one group (a service, a
scaled target) come from many input partitions (metrics are keyed by host).

Each input partition sends, per group and closed window, a ``kind="part"`` signal keyed
by the group (so every part of a group lands on one signals partition) and naming its
``origin`` (the input partition). :class:`Parts` holds them per group and window until
the signals partition's clock is :data:`MERGE_WAIT_MS` past the window's end plus grace;
of two parts of one origin (sent again after a rewind or a restart, from the records
read again) the one that counted more is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

# How long after a window's end (and its grace), by the signals partition's clock, the
# parts of other input partitions are waited for.
MERGE_WAIT_MS = 60_000

P = TypeVar("P")


class Parts(Generic[P]):
    """Parts per group, per window start, per origin; ``size`` says which of two parts of
    one origin counted more."""

    def __init__(self, size: Callable[[P], float]) -> None:
        self.size = size
        self.pending: dict[str, dict[int, dict[str, P]]] = {}

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, key: str, start_ms: int, origin: str, part: P) -> None:
        origins = self.pending.setdefault(key, {}).setdefault(start_ms, {})
        kept = origins.get(origin)
        if kept is None or self.size(part) >= self.size(kept):
            origins[origin] = part

    def due(self, key: str, until_ms: int, window_ms: int) -> list[tuple[int, list[P]]]:
        """The windows of ``key`` that end at or before ``until_ms``, in order, each with
        its parts; taken out."""
        windows = self.pending.get(key)
        if not windows:
            return []
        out = [
            (start, list(windows.pop(start).values()))
            for start in sorted(s for s in windows if s + window_ms <= until_ms)
        ]
        if not windows:
            del self.pending[key]
        return out

    def peek(
        self, key: str, from_ms: int, until_ms: int, window_ms: int
    ) -> list[tuple[int, list[P]]]:
        """The windows of ``key`` from ``from_ms`` on that end at or before ``until_ms``,
        in order, each with its parts; left in place (:meth:`drop_before` takes them)."""
        windows = self.pending.get(key) or {}
        return [
            (start, list(windows[start].values()))
            for start in sorted(s for s in windows if s >= from_ms and s + window_ms <= until_ms)
        ]

    def drop_before(self, key: str, start_ms: int) -> None:
        """Forget the windows of ``key`` that start before ``start_ms``."""
        windows = self.pending.get(key)
        if not windows:
            return
        for start in [s for s in windows if s < start_ms]:
            del windows[start]
        if not windows:
            del self.pending[key]
