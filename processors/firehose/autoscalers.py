"""Autoscalers in the firehose, in two stages as SLOs are (the repartition of
:mod:`processors.firehose.repartition`): a scaled target's replicas report on many input
partitions (metrics are keyed by host).

**Per input partition** (:class:`ReplicaWindows`): each record an autoscaler's ``match``
selects adds its ``value`` (a finite number; by default a metric sample's value, 1 for
any other record) to the window of its replica (its ``per`` value); when the
partition's event clock less the grace passes a window's end, the window's per-replica
sums and counts go out as a ``kind="part"`` signal keyed by the autoscaler's id
(``record``: ``autoscaler``, ``origin``, ``replicas``).

**Per signals partition** (:class:`ScaleDecisions`): the parts of a window are put
together (one per origin, the fuller of two) once the partition's clock is
:data:`~processors.firehose.repartition.MERGE_WAIT_MS` past its end plus the grace. The
current replica count is how many replicas reported; a replica's own figure is the mean
of its samples on ``source: metric``, the sum of its values on any other source (its
records in the window: a request count); the metric is the mean of the replicas'
figures (``metric: mean``) or their sum (``metric: total``). The HPA core
(:class:`~processors.firehose.autoscale.Autoscaler`) decides the replicas to run; when
they differ from the current count and from the last count sent, a ``kind="match"``
signal of the autoscaler's rule goes out (``record``: ``target``, ``replicas``,
``current``, ``metric``, ``target_value``, ``proposed``, ``stabilized``, ``reason``), and
its scale action is counted for the rate policies. A window nobody reported in decides
nothing. The HPA state lives in memory (carried over a hot reload or a rewind, as SLOs'):
after a restart it starts as HPA's does, with the current count as its first
recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from processors.firehose.autoscale import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Autoscaler,
    AutoscalerConfig,
    ScalingPolicy,
    ScalingRules,
)
from processors.firehose.repartition import MERGE_WAIT_MS, Parts
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import AutoscalePlan, group_text
from processors.rules.rule_types import AutoscaleRuleConfig, ScalingRulesConfig

Record = Mapping[str, Any]
Replicas = dict[str, list[float]]  # replica -> [sum, count]


def hpa_config(config: AutoscaleRuleConfig) -> AutoscalerConfig:
    """The HPA core's settings from the rule's, HPA's defaults where the file says none."""
    return AutoscalerConfig(
        target_value=config.target_value,
        min_replicas=config.min_replicas,
        max_replicas=config.max_replicas,
        tolerance=config.tolerance,
        scale_up=_rules(config.behavior.scale_up, DEFAULT_SCALE_UP),
        scale_down=_rules(config.behavior.scale_down, DEFAULT_SCALE_DOWN),
        per_replica=config.metric == "mean",
    )


def _rules(written: ScalingRulesConfig, default: ScalingRules) -> ScalingRules:
    policies = default.policies
    if written.policies is not None:
        policies = tuple(
            ScalingPolicy("percent", p.percent, p.period_ms)
            if p.percent is not None
            else ScalingPolicy("pods", p.pods or 1, p.period_ms)
            for p in written.policies
        )
    stabilization = written.stabilization_ms
    return ScalingRules(
        default.stabilization_ms if stabilization is None else stabilization,
        policies,
        written.select,
    )


class ReplicaWindows:
    """Every autoscaler of one input partition's source: per window, per replica, the
    sum and count of its values."""

    def __init__(self, plans: tuple[AutoscalePlan, ...], source: str, origin: str) -> None:
        self.plans = plans
        self.source = source
        self.origin = origin
        self.windows: dict[str, dict[int, Replicas]] = {p.rule_id: {} for p in plans}
        self.sent_until: dict[str, int] = {}  # rule id -> the first window start not sent
        self.late = 0

    def __bool__(self) -> bool:
        return bool(self.plans)

    @property
    def horizon_ms(self) -> int:
        """How long a counted record may still be needed (see SLOs' counts)."""
        return max((2 * p.config.window_ms + p.config.grace_ms for p in self.plans), default=0)

    def add(self, record: Record, ts_ms: int) -> bool:
        counted = False
        for plan in self.plans:
            if not plan.match(record):
                continue
            value, replica = plan.value(record), plan.per(record)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or replica is None:
                continue
            size = plan.config.window_ms
            start = ts_ms - ts_ms % size
            if start < self.sent_until.get(plan.rule_id, start):
                self.late += 1
                continue
            sums = self.windows[plan.rule_id].setdefault(start, {})
            entry = sums.setdefault(group_text(replica), [0.0, 0.0])
            entry[0] += float(value)
            entry[1] += 1.0
            counted = True
        return counted

    def close(self, clock_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for plan in self.plans:
            size = plan.config.window_ms
            until = clock_ms - plan.config.grace_ms
            boundary = until - until % size  # the windows starting before it have ended
            sent = self.sent_until.get(plan.rule_id, boundary)
            self.sent_until[plan.rule_id] = max(sent, boundary)
            windows = self.windows[plan.rule_id]
            for start in sorted(s for s in windows if s < boundary):
                out.append(self._part(plan, start, windows.pop(start)))
        return out

    def _part(self, plan: AutoscalePlan, start_ms: int, replicas: Replicas) -> Signal:
        return Signal(
            id=stable_id("autoscale_part", plan.rule_id, start_ms, self.origin),
            kind="part",
            key=plan.rule_id,
            source=self.source,
            ts_ms=start_ms + plan.config.window_ms,
            window_start_ms=start_ms,
            values={"replicas": float(len(replicas))},
            record={"autoscaler": plan.rule_id, "origin": self.origin, "replicas": replicas},
        )


class ScaleDecisions:
    """Every autoscaler's decisions in one partition of the signals topic."""

    def __init__(self, plans: tuple[AutoscalePlan, ...]) -> None:
        self.plans = {plan.rule_id: plan for plan in plans}
        self.parts: dict[str, Parts[Replicas]] = {p: Parts(_reports) for p in self.plans}
        self.cores: dict[str, Autoscaler] = {}
        self.last_sent: dict[str, int] = {}
        self.decided_until: dict[str, int] = {}  # rule id -> end of the last window decided
        self.late = 0

    def __bool__(self) -> bool:
        return bool(self.plans)

    def add(self, part: Record) -> bool:
        """Take an autoscaler's part; False when it is not one (an SLO's)."""
        record = part.get("record") or {}
        rule_id = record.get("autoscaler")
        if rule_id is None:
            return False
        plan, start_ms = self.plans.get(rule_id), part.get("window_start_ms")
        if plan is None or not isinstance(start_ms, int):
            return True  # an autoscaler removed since
        if start_ms + plan.config.window_ms <= self.decided_until.get(rule_id, 0):
            self.late += 1
            return True
        replicas = record.get("replicas")
        if isinstance(replicas, dict):
            self.parts[rule_id].add(rule_id, start_ms, str(record.get("origin")), replicas)
        return True

    def close(self, clock_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for rule_id, plan in self.plans.items():
            config = plan.config
            until_ms = clock_ms - config.grace_ms - MERGE_WAIT_MS
            for start_ms, parts in self.parts[rule_id].due(rule_id, until_ms, config.window_ms):
                end_ms = start_ms + config.window_ms
                self.decided_until[rule_id] = max(self.decided_until.get(rule_id, 0), end_ms)
                signal = self._decide(plan, end_ms, _merged(parts))
                if signal is not None:
                    out.append(signal)
        return out

    def adopt(self, previous: ScaleDecisions) -> None:
        """Carry the HPA state of autoscalers defined alike (a hot reload, a rewind)."""
        for rule_id, plan in self.plans.items():
            old = previous.plans.get(rule_id)
            if old is None or old.config != plan.config:
                continue
            self.parts[rule_id] = previous.parts[rule_id]
            if rule_id in previous.cores:
                self.cores[rule_id] = previous.cores[rule_id]
            if rule_id in previous.last_sent:
                self.last_sent[rule_id] = previous.last_sent[rule_id]
            if rule_id in previous.decided_until:
                self.decided_until[rule_id] = previous.decided_until[rule_id]

    def _decide(self, plan: AutoscalePlan, end_ms: int, replicas: Replicas) -> Signal | None:
        # A replica's metric: its samples' mean (a utilisation, a queue length), or on
        # any other source the sum of its records' values (by default its record count)
        metric_source = plan.source == "metric"
        means = [
            total / count if metric_source else total for total, count in replicas.values() if count
        ]
        if not means:
            return None
        config = plan.config
        current = len(means)
        metric = sum(means) / current if config.metric == "mean" else sum(means)
        core = self.cores.get(plan.rule_id)
        if core is None:
            core = self.cores[plan.rule_id] = Autoscaler(hpa_config(config))
        decision = core.evaluate(end_ms, current, metric)
        wanted = decision.replicas
        if wanted == current or wanted == self.last_sent.get(plan.rule_id):
            return None
        core.record_scale(end_ms, current, wanted)
        self.last_sent[plan.rule_id] = wanted
        return Signal(
            id=stable_id("autoscale", plan.rule_id, end_ms),
            kind="match",
            key=plan.rule_id,
            source=plan.source,
            rules=[plan.rule_id],
            ts_ms=end_ms,
            window_start_ms=end_ms - config.window_ms,
            record={
                "target": config.target,
                "replicas": wanted,
                "current": current,
                "metric": round(metric, 6),
                "target_value": config.target_value,
                "proposed": decision.proposed,
                "stabilized": decision.stabilized,
                "reason": decision.reason,
            },
        )


def _reports(replicas: Replicas) -> float:
    return sum(count for _, count in replicas.values())


def _merged(parts: list[Replicas]) -> Replicas:
    out: Replicas = {}
    for part in parts:
        for replica, entry in part.items():
            if not (isinstance(entry, list) and len(entry) == 2):
                continue
            total, count = entry
            merged = out.setdefault(str(replica), [0.0, 0.0])
            merged[0] += float(total)
            merged[1] += float(count)
    return out
