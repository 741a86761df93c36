"""Anomaly detection in the firehose: which metric series to score, and the per
partition core that scores them and makes ``anomaly`` signals.

The series to score are the ones rules ask for: a rule on ``source: signal`` whose
``match`` requires ``kind == "anomaly"`` and names metrics (``metric == "…"`` or
``metric in [...]``, in a conjunction) turns detection on for those metric names::

    - id: host_cpu_anomalous
      source: signal
      match: kind == "anomaly" and metric == "system.cpu.utilization"
      window: {size: 1m, stat: max, value: score}
      condition: value > 0.9
      for: 5m
      group_by: [host]

A series is one metric name on one host (and service): the detector
(:mod:`processors.firehose.anomaly`) keeps its state, online and causal. Input is configurable:
the raw samples, or the mean of each tumbling window of ``window_ms`` per series
(scored when the series' next window starts, so nothing waits on a timer). A point
scoring at least :data:`processors.firehose.anomaly.THRESHOLD` becomes a Signal of kind
``anomaly`` keyed by host (the key of metric records), carrying the score, the value,
the expected value and range, and the direction. Those signals go to ``ops.signals``,
where the firehose reads them back as the ``signal`` source: the rules above then
window, group and time them like any other record (empty windows resolve the alert).

State is bounded per series (the detector's fixed-size state, plus one partial window
in window mode); a series is forgotten after ``forget_after_ms`` of event time without
a sample, checked each time the partition's event clock passes another such span.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from processors.firehose.anomaly import (
    DEFAULT_CONFIG,
    THRESHOLD,
    DetectorConfig,
    DetectorState,
    new_state,
    score_point,
)
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook
from processors.rules.expressions import Binary, Field, ListLit, Literal, Node, parse
from processors.rules.model import Rule

DIRECTIONS = {"up": 1.0, "down": -1.0}


@dataclass(frozen=True, slots=True)
class AnomalyPlan:
    metrics: frozenset[str]  # metric names some rule asks anomalies of
    window_ms: int | None  # None: score raw samples; else each window's mean

    @classmethod
    def of(cls, rulebook: CompiledRulebook, window_ms: int) -> AnomalyPlan:
        """The plan of a rulebook's rules; ``window_ms`` 0 scores raw samples."""
        rules = [compiled.rule for compiled in rulebook.rules.values()]
        return cls(anomaly_metrics(rules), window_ms=window_ms or None)


def anomaly_metrics(rules: Iterable[Rule]) -> frozenset[str]:
    """Metric names named by ``signal`` rules, or ``signal`` steps of sequence rules,
    that match ``kind == "anomaly"``."""
    names: set[str] = set()
    for rule in rules:
        if not rule.enabled:
            continue
        matches = [rule.match] if rule.source == "signal" else []
        if rule.sequence is not None:
            matches += [step.match for step in rule.sequence.steps if step.source == "signal"]
        for match in matches:
            conjuncts = _conjuncts(parse(match))
            if any(_equals(node, "kind") == {"anomaly"} for node in conjuncts):
                for node in conjuncts:
                    names |= _equals(node, "metric")
    return frozenset(names)


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _equals(node: Node, path: str) -> set[str]:
    """The strings ``path`` must equal for ``node`` to hold (``==`` or ``in``)."""
    if not isinstance(node, Binary) or not isinstance(node.left, Field):
        return set()
    if node.left.path != path:
        return set()
    if node.op == "==" and isinstance(node.right, Literal) and isinstance(node.right.value, str):
        return {node.right.value}
    if node.op == "in" and isinstance(node.right, ListLit):
        return {v.value for v in node.right.items if isinstance(v.value, str)}
    return set()


class _Series:
    __slots__ = ("count", "last_ts_ms", "state", "sum", "window_start_ms")

    def __init__(self, config: DetectorConfig) -> None:
        self.state: DetectorState = new_state(config)
        self.window_start_ms: int | None = None
        self.sum = 0.0
        self.count = 0
        self.last_ts_ms = 0


class AnomalyFeed:
    """The detectors of one metrics partition."""

    def __init__(
        self,
        plan: AnomalyPlan,
        *,
        config: DetectorConfig = DEFAULT_CONFIG,
        threshold: float = THRESHOLD,
        forget_after_ms: int = 24 * 3_600_000,
    ) -> None:
        self.plan = plan
        self.config = config
        self.threshold = threshold
        self.forget_after_ms = forget_after_ms
        self.series: dict[tuple[str, str, str], _Series] = {}
        self._next_sweep_ms: int | None = None

    def add(self, record: Mapping[str, Any]) -> Signal | None:
        """Feed one metric sample (decoded fields with ``ts_ms``); the anomaly signal
        it makes, if any."""
        name = record.get("name")
        if name not in self.plan.metrics:
            return None
        value, ts_ms = record["value"], record["ts_ms"]
        host, service = record.get("host") or "", record.get("service") or ""
        key = (name, host, service)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _Series(self.config)
        series.last_ts_ms = max(series.last_ts_ms, ts_ms)
        self._sweep(ts_ms)
        window_ms = self.plan.window_ms
        if window_ms is None:
            return self._score(key, series, float(value), ts_ms)
        start_ms = ts_ms - ts_ms % window_ms
        out = None
        if series.window_start_ms is None:
            series.window_start_ms = start_ms
        elif start_ms > series.window_start_ms:
            if series.count:
                mean = series.sum / series.count
                out = self._score(key, series, mean, series.window_start_ms + window_ms)
            series.window_start_ms, series.sum, series.count = start_ms, 0.0, 0
        elif start_ms < series.window_start_ms:
            return None  # behind this series' window: causal order only
        series.sum += float(value)
        series.count += 1
        return out

    def _score(
        self, key: tuple[str, str, str], series: _Series, value: float, ts_ms: int
    ) -> Signal | None:
        verdict = score_point(series.state, value, ts_ms, self.config)
        if verdict.score < self.threshold:
            return None
        name, host, service = key
        group = {"metric": name}
        if host:
            group["host"] = host
        if service:
            group["service"] = service
        values = {
            "score": verdict.score,
            "value": value,
            "expected": _finite(verdict.expected),
            "low": _finite(verdict.low),
            "high": _finite(verdict.high),
            "direction": DIRECTIONS.get(verdict.direction or "", 0.0),
        }
        return Signal(
            id=stable_id("anomaly", name, host, service, ts_ms),
            kind="anomaly",
            key=host or name,
            source="metric",
            group=group,
            ts_ms=ts_ms,
            values=values,
        )

    def _sweep(self, now_event_ms: int) -> None:
        if self._next_sweep_ms is None:
            self._next_sweep_ms = now_event_ms + self.forget_after_ms
        if now_event_ms < self._next_sweep_ms:
            return
        horizon = now_event_ms - self.forget_after_ms
        for key in [k for k, s in self.series.items() if s.last_ts_ms < horizon]:
            del self.series[key]
        self._next_sweep_ms = now_event_ms + self.forget_after_ms


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
