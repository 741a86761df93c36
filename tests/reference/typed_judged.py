"""The rule types that judge a time once it has passed (rules/README.md "Rule types"):
flatline, cardinality (its ``below``; its ``above`` is decided on a record) and spike.

A match is at the moment judged (a count falling below, a window's end), judged once the
partition's clock is ``grace`` past it; the records a judgement needs arrive within
grace (``late_for_judging`` refuses the others), so judging from every record of the key
is judging from the ones that had arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.reference.expressions import Unsettled, lookup
from tests.reference.typed_base import (
    IGNORED,
    Accepted,
    Firing,
    Group,
    TypedBase,
    distinct,
    late_for_judging,
    scalar,
    setting_ms,
)
from tests.reference.typed_records import forgotten_too_soon, in_arrival_order

Measure = Callable[[list[Accepted]], int]


def in_time_order(found: list[tuple[int, Group]]) -> list[Firing]:
    """Judged matches of one key come in the order of their moments."""
    return sorted(found)


def drops(records: list[Accepted], below: int, timeframe_ms: int, measure: Measure) -> list[int]:
    """Flatline's judgement of one key: the moments its measure of "the last timeframe"
    falls below ``below``, one per silence, the key "forgotten until it sends again".

    At a time t, the last timeframe holds the records within it ("within T": t minus the
    record's time at most T), so a measure falls only when a record leaves, at its time
    plus T: a drop is at m = r + T when the records in (m - T, m] measure less than
    ``below``. A key that never measured ``below`` is thereby "judged timeframe after its
    first" (m = its first + T)."""
    ordered = sorted(records, key=lambda each: each.ts_ms)
    moments = []
    start = 0
    while start < len(ordered):
        live = ordered[start:]
        for each in live:
            moment = each.ts_ms + timeframe_ms
            inside = [r for r in live if moment - timeframe_ms < r.ts_ms <= moment]
            if measure(inside) < below:
                moments.append(moment)
                break
        start += sum(1 for r in live if r.ts_ms <= moment)
    return moments


def beyond_the_bound(records: list[Accepted], timeframe_ms: int) -> None:
    """A late record before its key's first, close enough to fill the gap to it: its
    judgement needs more of the key's times than "the fewer_than latest" the README
    bounds the state to, and the engine's differs (FINDINGS.md, "Rule types")."""
    for index, each in enumerate(records[1:], start=1):
        first_ms = min(r.ts_ms for r in records[:index])
        if each.ts_ms < first_ms and first_ms - each.ts_ms <= timeframe_ms:
            raise Unsettled("a late record just before its key's first: beyond the bound")


class Flatline(TypedBase):
    """ "fewer_than records in the last timeframe, for a key seen before"; "one match per
    silence: the key is then forgotten until it sends again"."""

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        late_for_judging(ts_ms, partition_ms, self.grace_ms)

    def matches(self) -> list[Firing]:
        fewer_than = int(self.rule.settings.get("fewer_than", 1))
        timeframe_ms = setting_ms(self.rule, "timeframe")
        found = []
        for group, records in self.keys.items():
            beyond_the_bound(records, timeframe_ms)
            for moment in drops(records, fewer_than, timeframe_ms, len):
                found.append((moment, group))
        return in_time_order(found)


def distinct_values(records: list[Accepted]) -> int:
    return len(distinct([each.value for each in records]))


class Cardinality(TypedBase):
    """``above: a``: "fires on the record that makes more than a distinct values within the
    timeframe, then starts over"; ``below: b``: "fires when a key seen before has had fewer
    than b distinct values in the last timeframe (judged like flatline, once per drop: the
    key is then forgotten until it sends again)"."""

    @property
    def timeframe_ms(self) -> int:
        return setting_ms(self.rule, "timeframe")

    def read(self, fields: Mapping[str, Any]) -> Any:
        value = lookup(fields, str(self.rule.settings["field"]))
        if value is None:
            return IGNORED  # "a record without the field is ignored"
        return scalar(value, "cardinality's field")

    def too_late(self, ts_ms: int, partition_ms: int | None) -> bool:
        """ "A record timeframe plus grace or more behind the partition's clock is too late
        and is ignored"."""
        keep_ms = self.timeframe_ms + self.grace_ms
        return partition_ms is not None and partition_ms - ts_ms >= keep_ms

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        if "above" in self.rule.settings and "below" in self.rule.settings:
            raise Unsettled("cardinality with above and below: does a start over reset both")
        if "below" in self.rule.settings:
            late_for_judging(ts_ms, partition_ms, self.grace_ms)
        else:
            forgotten_too_soon(before, ts_ms, partition_ms, self.timeframe_ms, self.grace_ms)

    def matches(self) -> list[Firing]:
        if "below" in self.rule.settings:
            return self._below(int(self.rule.settings["below"]))
        above = int(self.rule.settings["above"])
        found = []
        for group, records in self.keys.items():
            since = 0
            for index, each in enumerate(records):
                counted = records[since : index + 1]
                inside = [r for r in counted if each.ts_ms - r.ts_ms <= self.timeframe_ms]
                if distinct_values(inside) > above:
                    found.append((each.arrival, each.ts_ms, group))
                    since = index + 1
        return in_arrival_order(found)

    def _below(self, below: int) -> list[Firing]:
        found = []
        for group, records in self.keys.items():
            beyond_the_bound(records, self.timeframe_ms)
            for moment in drops(records, below, self.timeframe_ms, distinct_values):
                found.append((moment, group))
        return in_time_order(found)


class Spike(TypedBase):
    """Tumbling windows of ``timeframe`` aligned to the epoch; at each window's end, ``up``
    when count >= ratio * previous, ``down`` when count * ratio <= previous (``both``:
    either), only with previous >= min_previous and count >= min_current. "A key is
    inactive until it has been seen for two whole windows (its first record at or before
    the start of the previous window), and is forgotten after a window without records (a
    drop to nothing is judged once)". The match is at the window's end
    ("an action is decided at … a window's end")."""

    @property
    def size_ms(self) -> int:
        return setting_ms(self.rule, "timeframe")

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        end_ms = (ts_ms // self.size_ms + 1) * self.size_ms
        if partition_ms is not None and partition_ms >= end_ms + self.grace_ms:
            raise Unsettled("a spike record for a window that may have been judged")

    def matches(self) -> list[Firing]:
        found = []
        for group, records in self.keys.items():
            counts: dict[int, int] = {}
            earliest: dict[int, int] = {}  # window -> its earliest record's time
            for each in records:
                index = each.ts_ms // self.size_ms
                counts[index] = counts.get(index, 0) + 1
                earliest[index] = min(earliest.get(index, each.ts_ms), each.ts_ms)
            found += [(end_ms, group) for end_ms in self._spikes(counts, earliest)]
        return in_time_order(found)

    def _spikes(self, counts: dict[int, int], earliest: dict[int, int]) -> list[int]:
        """The ends of the windows that spike, from a key's count per window."""
        ends = []
        seen = min(counts)
        while True:
            # "Seen for two whole windows (its first record at or before the start of
            # the previous window)": its first window counts if that record is at its start.
            first_judged = seen + (1 if earliest[seen] % self.size_ms == 0 else 2)
            current = seen + 1
            while True:
                count, previous = counts.get(current, 0), counts.get(current - 1, 0)
                if current >= first_judged and self._spike(count, previous):
                    ends.append((current + 1) * self.size_ms)
                if count == 0:
                    break  # forgotten
                current += 1
            later = [index for index in counts if index > current]
            if not later:
                return ends
            seen = min(later)

    def _spike(self, count: int, previous: int) -> bool:
        settings = self.rule.settings
        if previous < int(settings.get("min_previous", 1)):
            return False
        if count < int(settings.get("min_current", 0)):
            return False
        ratio = float(settings["ratio"])
        up, down = count >= ratio * previous, count * ratio <= previous
        direction = settings.get("direction", "up")
        return {"up": up, "down": down, "both": up or down}[direction]
