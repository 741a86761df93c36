"""Which offsets of an action partition may be committed: those whose deliveries are all
done, and every offset before them.

Deliveries finish out of order (a slow receiver, retries), so the committable offset of
a partition is its smallest offset still in flight, or one past the highest offset seen
when none is. A crash then redelivers exactly what was in flight (and what was fetched
after it), never skips an action that was not delivered.
"""

from __future__ import annotations

import heapq


class PartitionProgress:
    __slots__ = ("_heap", "_next", "_pending")

    def __init__(self) -> None:
        self._pending: dict[int, int] = {}  # offset -> deliveries still in flight
        self._heap: list[int] = []  # offsets in flight (lazily cleaned)
        self._next: int | None = None  # one past the highest offset seen

    def started(self, offset: int, deliveries: int) -> None:
        """The record at ``offset`` (increasing) has ``deliveries`` to make (0: done)."""
        self._next = offset + 1 if self._next is None else max(self._next, offset + 1)
        if deliveries > 0:
            self._pending[offset] = deliveries
            heapq.heappush(self._heap, offset)

    def finished(self, offset: int) -> None:
        """One delivery of the record at ``offset`` is done."""
        left = self._pending[offset] - 1
        if left:
            self._pending[offset] = left
        else:
            del self._pending[offset]

    @property
    def in_flight(self) -> int:
        return sum(self._pending.values())

    def committable(self) -> int | None:
        """The offset to commit (the next to read after a restart), or None before any."""
        heap, pending = self._heap, self._pending
        while heap and heap[0] not in pending:
            heapq.heappop(heap)
        return heap[0] if heap else self._next


class RecentKeys:
    """The delivery keys known done, the most recent ``max_keys`` of them (115 bytes
    each for a 16-character action id and a 11-character receiver name, measured with
    tracemalloc over 100,000 keys). A key is needed when its action is read again:
    after a crash or a rebalance (the keys are then read again from the deliveries
    topic) or when the engine sent the action twice (after its own crash, soon after
    the first), so old keys can go."""

    __slots__ = ("_keys", "max_keys")

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._keys: dict[str, None] = {}  # insertion order: oldest first

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str) -> None:
        keys = self._keys
        keys.pop(key, None)
        keys[key] = None
        if len(keys) > self.max_keys:
            del keys[next(iter(keys))]
