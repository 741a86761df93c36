"""SLOs in the firehose, in two stages, as a repartition through the signals topic: the
records of one SLO group may sit on many input partitions (metrics are keyed by host,
an SLO is per service), so each partition counts its own and one signals partition per
group adds them up.

**Counting** (:class:`SloCounts`, one per input partition): each record an SLO's
``total`` matches counts as ``events`` events (by default a metric sample's ``value``,
any other record 1; a number that is not finite and ≥ 0 counts nothing, in
:attr:`SloCounts.skipped`) of the group its ``group_by`` values name, bad ones when its
``bad`` holds, in one-minute buckets of event time. When the partition's event clock
less the SLO's grace passes a minute's end, each group's bucket is sent as a
``kind="part"`` signal keyed by ``<slo id>:<group>`` (``values``: ``total``, ``bad``;
``record``: ``slo``, ``origin``, the input partition). Records of a minute already sent
are late, counted in :attr:`SloCounts.late`.

**Accounting** (:class:`SloMerge`, in the firehose's partitions of the signals topic):
the parts of a group's minute are added up (:mod:`processors.firehose.repartition`: one
per origin, the fuller of two) and, once the signals partition's clock is
:data:`MERGE_WAIT_MS` past the minute's end plus the grace, fed to the group's
:class:`~processors.firehose.slo_budget.SloSeries`; each minute closed is a signal
(``kind="slo"``, ``ts_ms`` the minute's end) whose ``values`` hold the burn rate over
each of the workbook's windows (``burn_5m`` … ``burn_3d``), ``budget_remaining``, and
the minute's ``total`` and ``bad``; ``record`` names the SLO (``slo``, ``objective``).
It feeds the SLO's rules (``<id>_page``, ``<id>_ticket``), which the decision tier
decides on those values like a windowed rule, and any rule on signals (``kind ==
"slo"``), such as a deployment freeze when ``values.budget_remaining`` is low.
A part is seen by no rule on signals.

A group sends a signal every minute from its first event until it has had no event for
the SLO window (and 3 days), its whole budget left again; then it is forgotten. An
input partition holds back the offsets of the records its open minutes counted, so a
rewind or a restart counts them again; the firehose carries each signals partition's
accounting over a hot reload or a rewind (:meth:`SloMerge.adopt`). It lives in memory:
a restart or a rebalance of the signals partition starts it afresh (burn rates and
budget count from then, as right after a first start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from processors.firehose.repartition import MERGE_WAIT_MS, Parts
from processors.firehose.slo_budget import MINUTE_MS, SloSeries
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import SloPlan, group_text
from processors.series_keys import group_values, series_key

Record = Mapping[str, Any]

__all__ = ["MERGE_WAIT_MS", "SloCounts", "SloMerge"]


class SloCounts:
    """Every SLO of one input partition's source: its events per group per minute."""

    def __init__(self, plans: tuple[SloPlan, ...], source: str, origin: str) -> None:
        self.plans = plans
        self.source = source
        self.origin = origin
        # slo id -> minute -> group key -> [total, bad]
        self.minutes: dict[str, dict[int, dict[str, list[float]]]] = {p.slo_id: {} for p in plans}
        self.sent_until: dict[str, int] = {}  # slo id -> the first minute not sent yet
        self.skipped = 0  # records whose events are not a finite number >= 0
        self.late = 0  # records of a minute already sent

    def __bool__(self) -> bool:
        return bool(self.plans)

    @property
    def horizon_ms(self) -> int:
        """How long after its time a counted record may still be needed: until its
        minute's part was sent and one more minute (the input partition's offsets of
        those records are held, so a restart or a rewind counts them again)."""
        return 2 * MINUTE_MS + max((plan.grace_ms for plan in self.plans), default=0)

    def add(self, record: Record, ts_ms: int) -> bool:
        """Count the record for every SLO whose events it is; True when it was."""
        minute = ts_ms // MINUTE_MS
        counted = False
        for plan in self.plans:
            if not plan.total(record):
                continue
            events = _events(plan.events(record))
            if events is None:
                self.skipped += 1
                continue
            if minute < self.sent_until.get(plan.slo_id, minute):
                self.late += 1
                continue
            key = series_key([group_text(get(record)) for _, get in plan.group_getters])
            counts = self.minutes[plan.slo_id].setdefault(minute, {}).setdefault(key, [0.0, 0.0])
            counts[0] += events
            if plan.bad(record):
                counts[1] += events
            counted = True
        return counted

    def close(self, clock_ms: int) -> list[Signal]:
        """A part per group of each minute whose end the clock has passed (less each
        SLO's grace), ordered by time."""
        out: list[Signal] = []
        for plan in self.plans:
            until = (clock_ms - plan.grace_ms) // MINUTE_MS  # minutes before it have ended
            self.sent_until[plan.slo_id] = max(self.sent_until.get(plan.slo_id, until), until)
            minutes = self.minutes[plan.slo_id]
            for minute in sorted(m for m in minutes if m < until):
                for key, (total, bad) in minutes.pop(minute).items():
                    out.append(self._part(plan, key, minute, total, bad))
        out.sort(key=lambda s: (s.ts_ms, s.key))
        return out

    def _part(self, plan: SloPlan, key: str, minute: int, total: float, bad: float) -> Signal:
        start_ms = minute * MINUTE_MS
        return Signal(
            id=stable_id("slo_part", plan.slo_id, key, start_ms, self.origin),
            kind="part",
            key=f"{plan.slo_id}:{key}",
            source=self.source,
            group=group_values(plan.group_by, key),
            ts_ms=start_ms + MINUTE_MS,
            window_start_ms=start_ms,
            values={"total": total, "bad": bad},
            record={"slo": plan.slo_id, "origin": self.origin},
        )


class SloMerge:
    """Every SLO's accounting in one partition of the signals topic: the parts in, the
    ``slo`` signals out."""

    def __init__(self, plans: tuple[SloPlan, ...]) -> None:
        self.plans = {plan.slo_id: plan for plan in plans}
        self.series: dict[str, dict[str, SloSeries]] = {slo_id: {} for slo_id in self.plans}
        # slo id -> parts (total, bad) by group key, minute start and origin
        self.pending: dict[str, Parts[tuple[float, float]]] = {
            slo_id: Parts(_total) for slo_id in self.plans
        }
        self.late = 0  # parts of a minute already closed
        self.unknown = 0  # parts of an SLO no longer in the rules

    def __bool__(self) -> bool:
        return bool(self.plans)

    def __len__(self) -> int:
        """Groups held, over every SLO."""
        return sum(len(groups) for groups in self.series.values())

    def add(self, part: Record) -> None:
        record = part.get("record") or {}
        plan = self.plans.get(record.get("slo") or "")
        start_ms = part.get("window_start_ms")
        values = part.get("values") or {}
        if plan is None or not isinstance(start_ms, int):
            self.unknown += 1
            return
        group = part.get("group") or {}
        key = series_key([group_text(group.get(name)) for name in plan.group_by])
        series = self.series[plan.slo_id].get(key)
        minute = start_ms // MINUTE_MS
        if series is not None and series.closed(minute):
            self.late += 1
            return
        counts = (float(values.get("total") or 0.0), float(values.get("bad") or 0.0))
        self.pending[plan.slo_id].add(key, start_ms, str(record.get("origin")), counts)

    def adopt(self, previous: SloMerge) -> None:
        """Carry the accounting of ``previous`` (the same signals partition before a hot
        reload or a rewind rebuilt the firehose's cores) for each SLO counted alike."""
        for slo_id, plan in self.plans.items():
            old = previous.plans.get(slo_id)
            if old is not None and _alike(old, plan):
                self.series[slo_id] = previous.series[slo_id]
                self.pending[slo_id] = previous.pending[slo_id]

    def close(self, clock_ms: int) -> list[Signal]:
        """The minutes the signals partition's clock has passed (less the grace and
        :data:`MERGE_WAIT_MS`), ordered by time."""
        out: list[Signal] = []
        for slo_id, plan in self.plans.items():
            until_ms = clock_ms - plan.grace_ms - MERGE_WAIT_MS
            groups, pending = self.series[slo_id], self.pending[slo_id]
            for key in sorted(set(groups) | set(pending.pending)):
                series = groups.get(key)
                if series is None:
                    series = groups[key] = SloSeries(plan.objective, plan.window_ms)
                for start_ms, parts in pending.due(key, until_ms, MINUTE_MS):
                    series.add(start_ms, sum(t for t, _ in parts), sum(b for _, b in parts))
                for minute, values in series.close_until(until_ms):
                    out.append(self._signal(plan, key, minute, values))
                if series.idle and key not in pending.pending:
                    del groups[key]
        out.sort(key=lambda s: (s.ts_ms, s.key))
        return out

    def _signal(self, plan: SloPlan, key: str, minute: int, values: dict[str, float]) -> Signal:
        start_ms = minute * MINUTE_MS
        return Signal(
            id=stable_id("slo", plan.slo_id, key, start_ms),
            kind="slo",
            key=key,
            source=plan.source,
            rules=list(plan.rule_ids),
            group=group_values(plan.group_by, key),
            ts_ms=start_ms + MINUTE_MS,
            window_start_ms=start_ms,
            values=dict(values),
            record={"slo": plan.slo_id, "objective": plan.objective},
        )


def _total(counts: tuple[float, float]) -> float:
    return counts[0]


def _alike(old: SloPlan, new: SloPlan) -> bool:
    """Whether an SLO's accounting stays valid under its new definition (the events it
    counts may change: they count from the change on)."""
    return (old.objective, old.window_ms, old.group_by) == (
        new.objective,
        new.window_ms,
        new.group_by,
    )


def _events(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None
