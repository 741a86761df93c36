"""Records of possibly different sources, joined on fields, in order or together within
a timeframe: the join core of the ``sequence`` rule type (Sigma's ``temporal`` and
``temporal_ordered`` correlations, EQL's ``sequence by … with maxspan``).

**Where it runs, and why that is correct with many partitions and workers.** The
steps of one sequence come from different topics (a metric and a security event on the
same host), which are partitioned by their own keys, so no single input partition sees
them all. So the join is done after a repartition through ``ops.signals``:

1. In the firehose, the router of each input partition matches every step of the
   sequence rules on its source and sends each match as a small ``kind="step"`` signal
   whose Kafka key is the **join key** (the rule's ``group_by`` values, taken from each
   step's fields). ``rules`` is empty, so the decision tier has nothing to decide on it.
2. Kafka puts every step of one join key on the same partition of ``ops.signals``.
3. The firehose also reads ``ops.signals`` (source ``signal``, one router per
   partition, only when some rule needs it). That router feeds each step signal to the
   :class:`SequenceJoin` of its rule: the join state of a key lives in exactly one
   partition, hence in exactly one worker of the group, and moves with it on a
   rebalance (rebuilt by replay, below).
4. A completed sequence is a ``kind="match"`` signal with the rule's id, keyed by the
   join key, which the decision tier decides like a match of a rule on single records.

Steps on ``source: signal`` (a window or anomaly signal as a step) are matched by the
signals router itself and re-sent keyed by the join key: the same repartition.

**Semantics, in event time** (arrival order does not matter): ``ordered`` — events
``e0 … e(n-1)`` of steps ``0 … n-1`` with ``ts(e0) <= ts(e1) <= … `` and
``ts(e(n-1)) - ts(e0) <= T``; unordered — one event of every step, all within ``T``
(max minus min). The state of a key never holds a complete sequence: after each event
the earliest-ending sequence it completes is reported and its events are used up (an
event is part of at most one match). Events expire once ``T + grace`` behind the
join's clock: the greatest time among **this rule's** steps seen in the partition
(not every signal's: window signals of other series, sent in bulk when a backlog is
read, would race it ahead), moved on by processing time when no step arrived for the
idle timeout, as partitions are (:mod:`processors.windowing`). ``grace`` is how far
one step's source may lag another's: a step that is a window signal arrives a window
plus its grace after its records, and every step makes a round trip through
``ops.signals``; after an outage, when the sources catch up at different speeds, a
step lagging more than ``grace`` behind can miss its sequence.

**Bounded memory.** Per key the pending events are one flat tuple ``(ts, step, ts,
step, …)`` sorted by time, at most :data:`MAX_PER_STEP` per step (the oldest of a step
is dropped first); a coarse timer (:mod:`processors.firehose.timers`) expires them. At most
``max_keys`` keys per rule and partition; past that the keys due to expire first are
evicted (:attr:`SequenceJoin.evicted`). Measured by ``bench/sequence_memory.py``: a
million pending first events (one per key, keys included) take 216 bytes each of RSS
(206 MiB). durable_rules keeps each unmatched event of a correlation at 8.4 KB (same
bench: 20k → 160 MiB, never released), 39 times more, so the join does not use it.

**Recovery.** The signals router's commit offset is held back to the oldest step still
held (:mod:`processors.firehose.held_offsets`); after a crash the steps are read again, the
state is rebuilt, and a sequence completed before the crash completes again under the
same signal id and time, which the alert state machine ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.firehose.timers import Timers

MAX_PER_STEP = 8  # pending events per step and key; the oldest is dropped first
_NO_TIME = -(2**62)
MAX_STEPS = 8

Pending = tuple[int, ...]  # (ts, step, ts, step, ...) sorted by (ts, step)


@dataclass(frozen=True, slots=True)
class SequenceMatch:
    key: str
    times_ms: tuple[int, ...]  # the time of the event of each step, in step order

    @property
    def ts_ms(self) -> int:
        return max(self.times_ms)

    @property
    def first_ms(self) -> int:
        return min(self.times_ms)


class SequenceJoin:
    """The pending events of one sequence rule in one partition, by join key."""

    def __init__(
        self, steps: int, *, timeframe_ms: int, grace_ms: int, ordered: bool, max_keys: int
    ) -> None:
        if not 2 <= steps <= MAX_STEPS:
            raise ValueError(f"a sequence has 2 to {MAX_STEPS} steps, got {steps}")
        if timeframe_ms <= 0 or grace_ms < 0 or max_keys < 1:
            raise ValueError("need timeframe_ms > 0, grace_ms >= 0, max_keys >= 1")
        self.steps = steps
        self.timeframe_ms = timeframe_ms
        self.grace_ms = grace_ms
        self.ordered = ordered
        self.max_keys = max_keys
        self.evicted = 0  # keys dropped by the max_keys cap
        self.clock_ms = _NO_TIME  # the greatest step time seen
        self._swept_ms = _NO_TIME  # the latest clock of an expiry (idle clocks included)
        self._last_now_ms: int | None = None  # processing time of the last step
        self._pending: dict[str, Pending] = {}
        self._timers = Timers(max(1000, (timeframe_ms + grace_ms) // 64))

    def __len__(self) -> int:
        """Keys with pending events."""
        return len(self._pending)

    def pending_events(self) -> int:
        return sum(len(p) // 2 for p in self._pending.values())

    def add(self, key: str, step: int, ts_ms: int, now_ms: int) -> SequenceMatch | None:
        """One event of ``step`` for ``key`` at processing time ``now_ms``; the sequence
        it completes, if any."""
        if not 0 <= step < self.steps:
            raise ValueError(f"step {step} of a {self.steps}-step sequence")
        if ts_ms > self.clock_ms:
            self.clock_ms = ts_ms
        self._last_now_ms = now_ms
        keep_ms = self.timeframe_ms + self.grace_ms
        # Expired events are dropped here too, exactly: the timers hand a key back up to
        # a bucket late, and an event timeframe + grace behind the clock must not
        # complete a sequence meanwhile (nor one arriving that late).
        low = max(self.clock_ms, self._swept_ms) - keep_ms
        if ts_ms <= low:
            return None
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_keys:
                self._evict()
            self._pending[key] = (ts_ms, step)
            self._timers.schedule(key, ts_ms + keep_ms)
            return None
        oldest = pending[0]
        events = [(pending[i], pending[i + 1]) for i in range(0, len(pending), 2)]
        events = [event for event in events if event[0] > low]
        if (ts_ms, step) in events:
            return None  # the same step again (a replay): nothing new
        events.append((ts_ms, step))
        events.sort()
        if sum(1 for _, s in events if s == step) > MAX_PER_STEP:
            events.remove(next(e for e in events if e[1] == step))
        chain = self._ordered_chain(events) if self.ordered else self._unordered_chain(events)
        match = None
        if chain is not None:
            times = [0] * self.steps
            for index in sorted(chain, reverse=True):
                event_ms, event_step = events.pop(index)
                times[event_step] = event_ms
            match = SequenceMatch(key, tuple(times))
        if not events:
            del self._pending[key]
            return match
        self._pending[key] = tuple(x for event in events for x in event)
        if events[0][0] < oldest:
            self._timers.schedule(key, events[0][0] + keep_ms)
        return match

    def _ordered_chain(self, events: list[tuple[int, int]]) -> list[int] | None:
        """Indexes of the earliest-ending chain ``step 0 <= step 1 <= …`` in time within
        the timeframe (the latest start among those), or None."""
        best: tuple[int, int, list[int]] | None = None  # (end, -start, chain)
        for first, (start_ms, first_step) in enumerate(events):
            if first_step != 0:
                continue
            chain, at = [first], first
            for wanted in range(1, self.steps):
                at = next((i for i in range(at + 1, len(events)) if events[i][1] == wanted), -1)
                if at < 0:
                    break
                chain.append(at)
            if at < 0:
                continue
            end_ms = events[at][0]
            if end_ms - start_ms <= self.timeframe_ms and (
                best is None or (end_ms, -start_ms) < best[:2]
            ):
                best = (end_ms, -start_ms, chain)
        return best[2] if best is not None else None

    def _unordered_chain(self, events: list[tuple[int, int]]) -> list[int] | None:
        """Indexes of one event per step, all within the timeframe, ending earliest (the
        latest event of each step in that span), or None."""
        counts = [0] * self.steps
        covered = low = 0
        for high, (high_ms, step) in enumerate(events):
            if counts[step] == 0:
                covered += 1
            counts[step] += 1
            while high_ms - events[low][0] > self.timeframe_ms:
                counts[events[low][1]] -= 1
                if counts[events[low][1]] == 0:
                    covered -= 1
                low += 1
            if covered == self.steps:
                latest: dict[int, int] = {}
                for index in range(low, high + 1):
                    latest[events[index][1]] = index
                return sorted(latest.values())
        return None

    def clock_at(self, now_ms: int, idle_ms: int) -> int | None:
        """The join's clock at processing time ``now_ms``: the greatest step time seen,
        plus the processing time since the last step once that is ``idle_ms`` or more;
        None before any step."""
        if self._last_now_ms is None:
            return None
        idle = now_ms - self._last_now_ms
        return self.clock_ms + idle if idle >= idle_ms else self.clock_ms

    def expire(self, now_ms: int, idle_ms: int) -> None:
        """Drop events ``timeframe + grace`` behind the join's clock."""
        clock_ms = self.clock_at(now_ms, idle_ms)
        if clock_ms is None:
            return
        self._swept_ms = max(self._swept_ms, clock_ms)
        keep_ms = self.timeframe_ms + self.grace_ms
        low = clock_ms - keep_ms
        for key in self._timers.pop_due(clock_ms):
            pending = self._pending.get(key)
            if pending is None:
                continue
            if pending[0] > low:
                self._timers.schedule(key, pending[0] + keep_ms)
                continue
            kept = tuple(
                x for i in range(0, len(pending), 2) if pending[i] > low for x in pending[i : i + 2]
            )
            if kept:
                self._pending[key] = kept
                self._timers.schedule(key, kept[0] + keep_ms)
            else:
                del self._pending[key]

    def _evict(self) -> None:
        """Make room for one key: drop the keys due to expire first."""
        while len(self._pending) >= self.max_keys:
            keys = self._timers.pop_first()
            if not keys:  # timers are never behind the state; defensive
                self._pending.pop(next(iter(self._pending)))
                self.evicted += 1
                continue
            for key in keys:
                if self._pending.pop(key, None) is not None:
                    self.evicted += 1
