"""The SLOs of one input partition: records in, one ``slo`` signal per SLO, group and
minute out.

Each record an SLO's ``total`` matches counts as ``events`` events (by default a
metric sample's ``value``, any other record 1; a number that is not finite and ≥ 0
counts nothing, in :attr:`SloAccounts.skipped`) of the group its ``group_by`` values
name, bad ones when its ``bad`` holds; :class:`~processors.firehose.slo_budget.SloSeries`
counts them per minute of event time. :meth:`SloAccounts.close` takes the partition's
event clock: each minute whose end plus the SLO's grace the clock has passed becomes a
signal (``kind="slo"``, ``ts_ms`` the minute's end) whose ``values`` hold the burn rate
over each of the workbook's windows (``burn_5m`` … ``burn_3d``), ``budget_remaining``,
and the minute's ``total`` and ``bad``; ``record`` names the SLO (``slo``,
``objective``). It feeds the SLO's rules (``<id>_page``, ``<id>_ticket``), which the
decision tier decides on those values like a windowed rule, and any rule on signals
(``kind == "slo"``), such as a deployment freeze when ``values.budget_remaining`` is low.

A group sends a signal every minute from its first event until it has had no event for
the SLO window (and 3 days), its whole budget left again; then it is forgotten. The
counts live in memory: a restart or a rebalance starts a partition's SLOs afresh (burn
rates and budget count from then, as right after a first start).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from processors.firehose.slo_budget import MINUTE_MS, SloSeries
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import SloPlan, group_text
from processors.series_keys import group_values, series_key

Record = Mapping[str, Any]


class SloAccounts:
    """Every SLO of one input partition's source."""

    def __init__(self, plans: tuple[SloPlan, ...], source: str) -> None:
        self.plans = plans
        self.source = source
        self.series: dict[str, dict[str, SloSeries]] = {plan.slo_id: {} for plan in plans}
        self.skipped = 0  # records whose events are not a finite number >= 0

    def __bool__(self) -> bool:
        return bool(self.plans)

    def add(self, record: Record, ts_ms: int) -> None:
        for plan in self.plans:
            if not plan.total(record):
                continue
            events = _events(plan.events(record))
            if events is None:
                self.skipped += 1
                continue
            bad = events if plan.bad(record) else 0.0
            key = series_key([group_text(get(record)) for _, get in plan.group_getters])
            groups = self.series[plan.slo_id]
            series = groups.get(key)
            if series is None:
                series = groups[key] = SloSeries(plan.objective, plan.window_ms)
            series.add(ts_ms, events, bad)

    def close(self, clock_ms: int) -> list[Signal]:
        """The minutes the clock has passed (less each SLO's grace), ordered by time."""
        out: list[Signal] = []
        for plan in self.plans:
            groups = self.series[plan.slo_id]
            for key in list(groups):
                series = groups[key]
                for minute, values in series.close_until(clock_ms - plan.grace_ms):
                    out.append(self._signal(plan, key, minute, values))
                if series.idle:
                    del groups[key]
        out.sort(key=lambda s: (s.ts_ms, s.key))
        return out

    def __len__(self) -> int:
        """Groups held, over every SLO."""
        return sum(len(groups) for groups in self.series.values())

    def _signal(self, plan: SloPlan, key: str, minute: int, values: dict[str, float]) -> Signal:
        start_ms = minute * MINUTE_MS
        return Signal(
            id=stable_id("slo", plan.slo_id, key, start_ms),
            kind="slo",
            key=key,
            source=self.source,
            rules=list(plan.rule_ids),
            group=group_values(plan.group_by, key),
            ts_ms=start_ms + MINUTE_MS,
            window_start_ms=start_ms,
            values=dict(values),
            record={"slo": plan.slo_id, "objective": plan.objective},
        )


def _events(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None
