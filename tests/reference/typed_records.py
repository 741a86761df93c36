"""The rule types decided on a record (rules/README.md "Rule types"): frequency, change
and new_term. A match is at the record's time and made when the record arrives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.reference.expressions import Unsettled, lookup
from tests.reference.typed_base import (
    IGNORED,
    Accepted,
    Firing,
    Group,
    TypedBase,
    same,
    scalar,
    setting_ms,
)

NEW_TERM_LEARNING_MS = 86_400_000  # "learning (default 1d)"
NEW_TERM_MAX_TERMS = 1_000
NEW_TERM_MAX_KEYS = 10_000


def in_arrival_order(found: list[tuple[int, int, Group]]) -> list[Firing]:
    """(arrival, time, group) matches as firings, in the order they were made."""
    return [(ts_ms, group) for _, ts_ms, group in sorted(found)]


def forgotten_too_soon(
    before: list[Accepted], ts_ms: int, partition_ms: int | None, keep_ms: int, grace_ms: int
) -> None:
    """Counting types forget a key its ``grace`` after its records age out ("grace: 10s
    (only for forgetting keys)"); when they forget is open, so a record the forgotten
    times could still count with is unsettled, as is one older than its key's latest
    ("fires on the record that makes N": which record makes it, out of order, is open)."""
    if not before:
        return
    latest = max(each.ts_ms for each in before)
    if ts_ms < latest:
        raise Unsettled("a record older than its key's latest, for a counting type")
    forgettable = partition_ms is not None and partition_ms - latest >= keep_ms + grace_ms
    if forgettable and ts_ms - latest <= keep_ms:
        raise Unsettled("a record of a key the partition's clock may have forgotten")


class Frequency(TypedBase):
    """ "At least at_least records within timeframe (sliding)": fires on the record that
    makes at_least within any timeframe; a match starts the count over."""

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        forgotten_too_soon(before, ts_ms, partition_ms, self.timeframe_ms, self.grace_ms)

    @property
    def timeframe_ms(self) -> int:
        return setting_ms(self.rule, "timeframe")

    def matches(self) -> list[Firing]:
        at_least = int(self.rule.settings["at_least"])
        found = []
        for group, records in self.keys.items():
            since = 0  # the count starts over after a match
            for index, each in enumerate(records):
                counted = records[since : index + 1]
                inside = [r for r in counted if each.ts_ms - r.ts_ms <= self.timeframe_ms]
                if len(inside) >= at_least:
                    found.append((each.arrival, each.ts_ms, group))
                    since = index + 1
        return in_arrival_order(found)


@dataclass
class Change(TypedBase):
    """``field`` differs from the key's previous record: "compared with the key's latest
    record in event time (an older record arriving late is ignored); a record without the
    field is ignored"; with ``timeframe``, "only a change within that time of the previous
    record counts"; a key is forgotten, with timeframe, as ``check`` says."""

    def read(self, fields: Mapping[str, Any]) -> Any:
        value = lookup(fields, str(self.rule.settings["field"]))
        return IGNORED if value is None else scalar(value, "change's field")

    afresh: set[int] = field(default_factory=set)  # arrivals that find their key forgotten

    @property
    def within_ms(self) -> int | None:
        timeframe = self.rule.settings.get("timeframe")
        return None if timeframe is None else setting_ms(self.rule, "timeframe")

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        """With timeframe, "a key is forgotten once the partition's clock is more than
        timeframe past its latest record: a record arriving later is a first one"."""
        if self.within_ms is None or not before or partition_ms is None:
            return
        latest_ms = max(each.ts_ms for each in before)
        if partition_ms - latest_ms > self.within_ms:
            if ts_ms < latest_ms:
                raise Unsettled("a forgotten change key's first record older than its last")
            self.afresh.add(self.arrivals)

    def matches(self) -> list[Firing]:
        found = []
        for group, records in self.keys.items():
            latest: Accepted | None = None
            for each in records:
                if latest is None or each.arrival in self.afresh:
                    latest = each
                    continue
                if each.ts_ms < latest.ts_ms:
                    continue
                differs = not same(each.value, latest.value)
                if differs and each.ts_ms == latest.ts_ms:
                    raise Unsettled("two values of a change field at the same time")
                within_ms = self.within_ms
                if differs and (within_ms is None or each.ts_ms - latest.ts_ms <= within_ms):
                    found.append((each.arrival, each.ts_ms, group))
                latest = each
        return in_arrival_order(found)


class NewTerm(TypedBase):
    """ "Each key learns for learning from its first record; after that a term (the values
    of fields together) it never had fires once and is remembered." At most max_terms per
    key, the least recently seen evicted first; an evicted term is new again. "A record
    without one of the fields is ignored (it is not a key's first record either)"."""

    def read(self, fields: Mapping[str, Any]) -> Any:
        term = []
        for path in self.rule.settings["fields"]:
            value = lookup(fields, path)
            if value is None:
                return IGNORED  # "a record without one of the fields is ignored"
            term.append(scalar(value, "a new_term field"))
        return tuple(term)

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        if before and ts_ms < before[0].ts_ms:
            raise Unsettled("a record older than its key's first, for new_term's learning")
        if not before and len(self.keys) >= self.rule.settings.get("max_keys", NEW_TERM_MAX_KEYS):
            raise Unsettled("new_term past max_keys: which key is least recently seen")

    def matches(self) -> list[Firing]:
        learning_ms = setting_ms(self.rule, "learning", NEW_TERM_LEARNING_MS)
        max_terms = int(self.rule.settings.get("max_terms", NEW_TERM_MAX_TERMS))
        found = []
        for group, records in self.keys.items():
            first_ms = records[0].ts_ms
            known: list[tuple[Any, ...]] = []  # least recently seen first
            for each in records:
                seen = [t for t in known if all(map(same, t, each.value))]
                known = [t for t in known if t not in seen] + [each.value]
                age_ms = each.ts_ms - first_ms
                if not seen and age_ms == learning_ms:
                    raise Unsettled("a new term exactly when learning ends")
                if not seen and age_ms > learning_ms:
                    found.append((each.arrival, each.ts_ms, group))
                known = known[-max_terms:]
        return in_arrival_order(found)
