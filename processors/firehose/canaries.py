"""Canary analyses in the firehose, in two stages (the repartition of
:mod:`processors.firehose.repartition`): a deployment's event (ops.events) and its
checks' samples (metrics keyed by host, health checks, logs) sit on many input
partitions; one signals partition per analysis brings them together.

**Per input partition** (:class:`CanarySamples`): a deploy event an analysis ``match``
selects goes out at once as a ``kind="part"`` signal keyed by the analysis's id
(``record.deploy``: entity, status, version, previous_version, strategy). Each sample a
check's ``match`` selects whose track field says canary or baseline adds its number to
the interval's values of that check and side (intervals aligned to the epoch; at most
:data:`MAX_VALUES` per side and interval per partition, the first ones); when the
partition's clock less the grace passes an interval's end, its values go out as a part
(``record.samples``).

**Per signals partition** (:class:`CanaryAnalyses`): a deploy ``started`` opens the
analysis of its entity (:class:`~processors.firehose.canary.CanaryAnalysis`) from the
first interval boundary after its time plus ``warmup``, replacing that entity's one
still running; ``failed`` or ``rolled_back`` ends that entity's without a verdict. Once
the partition's clock is :data:`~processors.firehose.repartition.MERGE_WAIT_MS` past an
interval's end plus the grace, the interval's parts (one per origin, the fuller of two)
are judged by every analysis running (they are kept a while longer for a deploy whose
event comes late: :func:`keep_ms`); a verdict
is a ``kind="match"`` signal of the analysis's ``_rollback`` or ``_promote`` rule
(``record``: ``target``, ``version``, ``previous_version``, ``strategy``, ``command``,
``reason``, ``failed_intervals``, ``judged_intervals``, ``stage``, ``weight``). With
``stages``, each stage but the last is a health gate: once its last interval is judged,
every one of its intervals passed sends an ``advance`` match (``command: set_weight``,
the next stage's ``weight``), one failed rolls back at once. The analyses live in memory
(carried over a hot reload or a rewind): a restart in the middle of one forgets it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from processors.firehose.canary import (
    CanaryAnalysis,
    CanaryConfig,
    IntervalResult,
    MetricCheck,
    Track,
    Verdict,
)
from processors.firehose.repartition import MERGE_WAIT_MS, Parts
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import CanaryCheckPlan, CanaryPlan, group_text

Record = Mapping[str, Any]
Samples = dict[str, dict[str, list[float]]]  # check -> side -> values

MAX_VALUES = 2_000  # per check, side, interval and input partition
DEPLOY_FIELDS = ("entity", "status", "version", "previous_version", "strategy")


class CanarySamples:
    """The deploys and samples one input partition contributes to canary analyses."""

    def __init__(
        self,
        deploys: tuple[CanaryPlan, ...],
        checks: tuple[tuple[CanaryPlan, CanaryCheckPlan], ...],
        source: str,
        origin: str,
    ) -> None:
        self.deploys = deploys
        self.checks = checks
        self.source = source
        self.origin = origin
        self.windows: dict[str, dict[int, Samples]] = {}
        self.sent_until: dict[str, int] = {}
        self.late = 0

    def __bool__(self) -> bool:
        return bool(self.deploys or self.checks)

    @property
    def horizon_ms(self) -> int:
        plans = [plan for plan, _ in self.checks]
        return max((2 * p.config.interval_ms + p.config.grace_ms for p in plans), default=0)

    def add(self, record: Record, ts_ms: int, out: list[Signal]) -> bool:
        """Take a record; a deploy's part goes to ``out`` at once. True when a sample was
        kept (its offset is held until its interval is sent)."""
        for plan in self.deploys:
            if record.get("type") == "deploy" and plan.deploys(record):
                out.append(self._deploy(plan, record, ts_ms))
        kept = False
        for plan, check in self.checks:
            if not check.match(record):
                continue
            side = _side(plan, check.track(record))
            value = _number(check.value(record))
            if side is None or value is None:
                continue
            size = plan.config.interval_ms
            start = ts_ms - ts_ms % size
            if start < self.sent_until.get(plan.canary_id, start):
                self.late += 1
                continue
            windows = self.windows.setdefault(plan.canary_id, {})
            values = windows.setdefault(start, {}).setdefault(check.name, {}).setdefault(side, [])
            if len(values) < MAX_VALUES:
                values.append(value)
                kept = True
        return kept

    def close(self, clock_ms: int) -> list[Signal]:
        out: list[Signal] = []
        for plan in {plan.canary_id: plan for plan, _ in self.checks}.values():
            size = plan.config.interval_ms
            until = clock_ms - plan.config.grace_ms
            boundary = until - until % size
            self.sent_until[plan.canary_id] = max(
                self.sent_until.get(plan.canary_id, boundary), boundary
            )
            windows = self.windows.get(plan.canary_id, {})
            for start in sorted(s for s in windows if s < boundary):
                out.append(self._samples(plan, start, windows.pop(start)))
        return out

    def _deploy(self, plan: CanaryPlan, record: Record, ts_ms: int) -> Signal:
        deploy = {name: record.get(name) for name in DEPLOY_FIELDS}
        return Signal(
            id=stable_id("canary_deploy", plan.canary_id, self.origin, ts_ms, str(deploy)),
            kind="part",
            key=plan.canary_id,
            source="event",
            ts_ms=ts_ms,
            record={"canary": plan.canary_id, "origin": self.origin, "deploy": deploy},
        )

    def _samples(self, plan: CanaryPlan, start_ms: int, samples: Samples) -> Signal:
        return Signal(
            id=stable_id("canary_samples", plan.canary_id, start_ms, self.origin),
            kind="part",
            key=plan.canary_id,
            source=self.source,
            ts_ms=start_ms + plan.config.interval_ms,
            window_start_ms=start_ms,
            record={"canary": plan.canary_id, "origin": self.origin, "samples": samples},
        )


@dataclass(slots=True)
class _Run:
    analysis: CanaryAnalysis
    deploy: dict[str, Any]
    fed_until_ms: int  # the first interval start not fed to it yet
    stage: int = 0  # with stages: the one whose intervals are being judged
    stage_failed: bool = False  # one of its intervals failed: its gate will not open


class CanaryAnalyses:
    """Every canary analysis of one partition of the signals topic: one per analysed
    entity (a deploy of each), fed the samples of the analysis's checks."""

    def __init__(self, plans: tuple[CanaryPlan, ...]) -> None:
        self.plans = {plan.canary_id: plan for plan in plans}
        self.parts: dict[str, Parts[Samples]] = {p: Parts(_size) for p in self.plans}
        self.running: dict[str, dict[str, _Run]] = {p: {} for p in self.plans}
        self.judged: dict[str, list[IntervalResult]] = {}  # the intervals judged, by canary
        # deploy events waiting for the clock to reach them, by canary: (time, deploy)
        self.deploys: dict[str, list[tuple[int, dict[str, Any]]]] = {p: [] for p in self.plans}

    def __bool__(self) -> bool:
        return bool(self.plans)

    def add(self, part: Record) -> bool:
        """Take a canary's part; False when it is not one."""
        record = part.get("record") or {}
        canary_id = record.get("canary")
        if canary_id is None:
            return False
        plan = self.plans.get(canary_id)
        if plan is None:
            return True  # an analysis removed since
        deploy = record.get("deploy")
        if isinstance(deploy, dict):
            self.deploys[canary_id].append((int(part.get("ts_ms") or 0), deploy))
            return True
        samples, start_ms = record.get("samples"), part.get("window_start_ms")
        if isinstance(samples, dict) and isinstance(start_ms, int):
            self.parts[canary_id].add(canary_id, start_ms, str(record.get("origin")), samples)
        return True

    def close(self, clock_ms: int) -> list[Signal]:
        """Feed each running analysis the intervals the clock has passed (less the grace
        and the wait for other partitions' parts), judge them, and send the verdicts.
        Deploy events take effect in time order among them: a deploy rolled back at 6m
        ends its analysis after the intervals up to 6m were judged, however early its
        event arrived. Intervals are kept :func:`keep_ms` after that, for a deploy whose
        event comes late (its partition behind the samples')."""
        out: list[Signal] = []
        for canary_id, plan in self.plans.items():
            until_ms = clock_ms - plan.config.grace_ms - MERGE_WAIT_MS
            waiting = sorted(self.deploys[canary_id], key=lambda d: d[0])
            self.deploys[canary_id] = [d for d in waiting if d[0] > until_ms]
            for ts_ms, deploy in (d for d in waiting if d[0] <= until_ms):
                self._advance(plan, ts_ms, out)
                self._deploy(plan, deploy, ts_ms)
            self._advance(plan, until_ms, out)
            self.parts[canary_id].drop_before(canary_id, until_ms - keep_ms(plan))
        return out

    def _advance(self, plan: CanaryPlan, until_ms: int, out: list[Signal]) -> None:
        """Judge every running analysis of ``plan`` up to ``until_ms``."""
        canary_id, config = plan.canary_id, plan.config
        parts = self.parts[canary_id]
        for entity, run in list(self.running[canary_id].items()):
            windows = parts.peek(canary_id, run.fed_until_ms, until_ms, config.interval_ms)
            for start_ms, samples in windows:
                for each in samples:
                    _feed(run.analysis, start_ms, each)
                run.fed_until_ms = start_ms + config.interval_ms
            for found in run.analysis.close_until(until_ms):
                verdict = found if isinstance(found, Verdict) else None
                if isinstance(found, IntervalResult):
                    self.judged.setdefault(canary_id, []).append(found)
                    verdict = self._gate(plan, run, found, out)
                if verdict is not None:
                    del self.running[canary_id][entity]
                    signal = self._verdict(plan, run.deploy, verdict)
                    if signal is not None:
                        out.append(signal)
                    break

    def adopt(self, previous: CanaryAnalyses) -> None:
        for canary_id, plan in self.plans.items():
            old = previous.plans.get(canary_id)
            if old is None or old.config != plan.config:
                continue
            self.parts[canary_id] = previous.parts[canary_id]
            self.running[canary_id] = previous.running[canary_id]
            self.deploys[canary_id] = previous.deploys[canary_id]

    def _deploy(self, plan: CanaryPlan, deploy: dict[str, Any], ts_ms: int) -> None:
        status, entity = deploy.get("status"), group_text(deploy.get("entity"))
        running = self.running[plan.canary_id]
        if status == "started" and deploy.get("strategy") in (None, "canary", "blue_green"):
            config = plan.config
            size = config.interval_ms
            begin = ts_ms + config.warmup_ms
            started = begin + (-begin % size)  # the next interval boundary
            running[entity] = _Run(CanaryAnalysis(_core_config(plan), started), deploy, started)
            self.judged[plan.canary_id] = []
        elif status in ("failed", "rolled_back"):
            running.pop(entity, None)

    def _gate(
        self, plan: CanaryPlan, run: _Run, interval: IntervalResult, out: list[Signal]
    ) -> Verdict | None:
        """With stages: at the last interval of a stage but the last, its gate. Every
        interval of the stage passed: the next stage's weight goes out (an ``advance``
        match); one failed: a rollback verdict, at once."""
        stages = plan.config.stages
        if not stages:
            return None
        run.stage_failed = run.stage_failed or not interval.passed
        ends = [sum(s.intervals for s in stages[: i + 1]) - 1 for i in range(len(stages))]
        if run.stage >= len(stages) - 1 or interval.index != ends[run.stage]:
            return None
        judged = interval.index + 1
        if run.stage_failed:
            why = f"stage {run.stage + 1} at {stages[run.stage].weight}%: an interval failed"
            return Verdict("rollback", interval.end_ms, 0, judged, why)
        run.stage += 1
        run.stage_failed = False
        rule_id = dict(plan.rule_ids).get("advance")
        if rule_id is not None:
            out.append(
                self._signal(
                    rule_id,
                    run.deploy,
                    interval.end_ms,
                    command="set_weight",
                    reason=f"every interval of stage {run.stage} passed",
                    judged_intervals=judged,
                    stage=run.stage,
                    weight=stages[run.stage].weight,
                )
            )
        return None

    def _verdict(self, plan: CanaryPlan, deploy: dict[str, Any], verdict: Verdict) -> Signal | None:
        rule_id = dict(plan.rule_ids).get(verdict.outcome)
        if rule_id is None:
            return None  # aborted, or that rule is disabled
        if verdict.outcome == "rollback":
            command = "rollback"
        else:
            command = "switch" if deploy.get("strategy") == "blue_green" else "promote"
        return self._signal(
            rule_id,
            deploy,
            verdict.ts_ms,
            command=command,
            reason=verdict.why,
            failed_intervals=verdict.failed_intervals,
            judged_intervals=verdict.judged_intervals,
        )

    def _signal(self, rule_id: str, deploy: dict[str, Any], ts_ms: int, **computed: Any) -> Signal:
        """A match of one of an analysis's rules: what its templates see."""
        entity = group_text(deploy.get("entity"))
        record = {
            "target": entity,
            "version": deploy.get("version"),
            "previous_version": deploy.get("previous_version"),
            "strategy": deploy.get("strategy"),
            "failed_intervals": None,
            "stage": None,
            "weight": None,
            **computed,
        }
        return Signal(
            id=stable_id("canary", rule_id, entity, ts_ms),
            kind="match",
            key=entity,
            source="event",
            rules=[rule_id],
            group={"entity": entity},
            ts_ms=ts_ms,
            record=record,
        )


def keep_ms(plan: CanaryPlan) -> int:
    """How long after their time intervals' samples wait for a deploy event that comes
    late: its warmup and ten intervals (at least ten minutes)."""
    return plan.config.warmup_ms + max(10 * plan.config.interval_ms, 600_000)


def _core_config(plan: CanaryPlan) -> CanaryConfig:
    config = plan.config
    return CanaryConfig(
        interval_ms=config.interval_ms,
        intervals=config.intervals,
        max_failures=config.max_failures,
        checks=tuple(
            MetricCheck(
                name=c.name,
                stat=c.stat,
                direction=c.direction,
                max_ratio=c.max_ratio,
                min_difference=c.min_difference,
                mann_whitney=c.mann_whitney,
                critical=c.critical,
                nodata=c.nodata,
            )
            for c in config.checks
        ),
        min_samples=config.min_samples,
    )


def _feed(analysis: CanaryAnalysis, start_ms: int, samples: Samples) -> None:
    for check, sides in samples.items():
        if not isinstance(sides, dict):
            continue
        for side in ("canary", "baseline"):
            track: Track = "canary" if side == "canary" else "baseline"
            for value in sides.get(side) or ():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    analysis.add(str(check), track, start_ms, float(value))


def _side(plan: CanaryPlan, track: Any) -> str | None:
    text = group_text(track)
    if text == plan.config.canary_value:
        return "canary"
    if text == plan.config.baseline_value:
        return "baseline"
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _size(samples: Samples) -> float:
    return sum(len(v) for sides in samples.values() for v in sides.values())
