"""The sequence rule type (rules/README.md "### sequence"): "one record of every step, in
order or not, within timeframe, same join key".

Each step chooses records of its own source (its ``match``) and reads the join key from
them (``fields``, by default the field named like the ``group_by`` name); "a record
without a join value is no step". Its event waits, per key, for the other steps:
ordered means ``ts(step 1) <= ts(step 2) <= …`` and the last at most ``timeframe`` after
the first; unordered, one event of every step within ``timeframe``. "An event takes part
in at most one match (the earliest-ending one its arrival completes)"; a step's event at
the time of a pending event of the same step is that event re-sent and is ignored.
Events expire "timeframe + grace after their time by the join's clock (the latest time
among its own steps in the partition, moved on by processing time when idle)". The match
is at the time of the sequence's last event (its end).

What the README leaves open is set aside (``Unsettled``) or followed every way:

- which events a match uses up when several sequences end equally early: every choice
  is followed (a branch each), and the key's matches must not depend on it;
- whether the join's clock had expired an event when a step within ``timeframe`` of it
  arrives, or the step itself, when only processing time decides it (how far it moves
  an idle clock is not said);
- a ninth pending event of a step (which one goes); one record that is two steps of a
  rule; a join value that is not a string.

Steps on ``source: signal`` (other rules' signals) are not modelled.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.reference.expressions import Node, Unsettled, lookup, parse, truth
from tests.reference.typed_base import Firing, Group, TypedBase, setting_ms
from tests.reference.typed_records import in_arrival_order

SEQUENCE_GRACE_MS = 60_000  # "grace: 1m  # how late a step may arrive (default 1m)"
PER_STEP = 8  # "at most 8 events per step"
MAX_BRANCHES = 64  # ways of using up events followed per key before giving up

Event = tuple[int, int]  # (time in ms, step index)


@dataclass(frozen=True)
class _Branch:
    """One way the key's events may have been used up: its pending events (sorted) and
    its matches so far, as (arrival, time)."""

    pending: tuple[Event, ...] = ()
    found: tuple[tuple[int, int], ...] = ()


@dataclass
class Sequence(TypedBase):
    """A sequence rule: its steps' events per join key, in every branch still open."""

    branches: dict[Group, list[_Branch]] = field(default_factory=dict)
    clock_ms: int | None = None  # the latest time among the rule's own steps

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        return list(self.rule.settings["steps"])

    @property
    def sources(self) -> set[str]:
        return {str(step["source"]) for step in self.steps}

    @property
    def grace_ms(self) -> int:
        return setting_ms(self.rule, "grace", SEQUENCE_GRACE_MS)

    @property
    def timeframe_ms(self) -> int:
        return setting_ms(self.rule, "timeframe")

    @property
    def ordered(self) -> bool:
        return bool(self.rule.settings.get("ordered", True))

    def record(
        self,
        fields: Mapping[str, Any],
        ts_ms: int,
        partition_ms: int | None,
        *,
        source: str = "",
        now_ms: int | None = None,
    ) -> Iterator[Firing]:
        """The steps this record of ``source`` is; ``now_ms`` is processing time (the
        latest event time read on any topic, as the offline run has it)."""
        self.arrivals += 1
        found = []
        for index, step in enumerate(self.steps):
            if step["source"] != source or not truth(_match(step), fields):
                continue
            key = self._key(step, fields)
            if key is not None:
                found.append((index, key))
        if len(found) > 1:
            raise Unsettled("one record as two steps of a sequence")
        for index, key in found:
            self._add(key, (ts_ms, index), ts_ms if now_ms is None else now_ms)
        return iter(())

    def _key(self, step: Mapping[str, Any], fields: Mapping[str, Any]) -> Group | None:
        """The join key of a step's record; None when a join value is missing."""
        paths = step.get("fields", {})
        values = []
        for name in self.rule.group_by:
            value = lookup(fields, paths.get(name, name))
            if value is None:
                return None  # "a record without a join value is no step"
            if not isinstance(value, str):
                raise Unsettled(f"a join value {value!r}, not a string")
            values.append((name, value))
        return tuple(values)

    def _add(self, key: Group, event: Event, now_ms: int) -> None:
        keep_ms = self.timeframe_ms + self.grace_ms
        ts_ms = event[0]
        if self.clock_ms is not None and self.clock_ms - ts_ms >= keep_ms:
            return  # expired as it arrives
        if now_ms - ts_ms >= keep_ms:
            raise Unsettled("a step an idle join clock may have expired as it arrives")
        branches = []
        for branch in self.branches.get(key, [_Branch()]):
            branches += self._arrive(branch, event, keep_ms, now_ms)
        branches = list(dict.fromkeys(branches))
        if len(branches) > MAX_BRANCHES:
            raise Unsettled("too many ways of using up a sequence's events to follow")
        self.branches[key] = branches
        self.clock_ms = ts_ms if self.clock_ms is None else max(self.clock_ms, ts_ms)

    def _arrive(self, branch: _Branch, event: Event, keep_ms: int, now_ms: int) -> list[_Branch]:
        """The branches after ``event`` arrives in ``branch``: one per way of using up
        events in the earliest-ending sequence it completes."""
        ts_ms, step = event
        pending = []
        for each in branch.pending:
            if self.clock_ms is not None and self.clock_ms - each[0] >= keep_ms:
                continue  # expired by the steps' clock alone
            if now_ms - each[0] >= keep_ms and abs(ts_ms - each[0]) <= self.timeframe_ms:
                raise Unsettled("a step near an event an idle join clock may have expired")
            pending.append(each)
        if event in pending:
            return [_Branch(tuple(pending), branch.found)]  # the same step re-sent
        if sum(1 for _, s in pending if s == step) >= PER_STEP:
            raise Unsettled("a ninth pending event of a sequence step")
        chains = self._chains(pending, event)
        if not chains:
            return [_Branch(tuple(sorted([*pending, event])), branch.found)]
        end_ms = min(max(t for t, _ in chain) for chain in chains)
        found = (*branch.found, (self.arrivals, end_ms))
        return [
            _Branch(tuple(e for e in pending if e not in chain), found)
            for chain in dict.fromkeys(c for c in chains if max(t for t, _ in c) == end_ms)
        ]

    def _chains(self, pending: list[Event], event: Event) -> list[frozenset[Event]]:
        """Every complete sequence of pending events and ``event`` that holds ``event``."""
        choices = [
            [event] if index == event[1] else [e for e in pending if e[1] == index]
            for index in range(len(self.steps))
        ]
        chains = []
        for chosen in itertools.product(*choices):
            times = [t for t, _ in chosen]
            if max(times) - min(times) > self.timeframe_ms:
                continue
            if self.ordered and any(a > b for a, b in itertools.pairwise(times)):
                continue
            chains.append(frozenset(chosen))
        return chains

    def matches(self) -> list[Firing]:
        found = []
        for group, branches in self.branches.items():
            ways = {branch.found for branch in branches}
            if len(ways) > 1:
                raise Unsettled("which events a sequence match uses up decides later matches")
            found += [(arrival, ts_ms, group) for arrival, ts_ms in ways.pop()]
        return in_arrival_order(found)


def _match(step: Mapping[str, Any]) -> Node:
    return parse(str(step.get("match", "true")))
