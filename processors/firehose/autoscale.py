"""Horizontal autoscaling, the Kubernetes HPA controller's: a replica count for one scaled
target from one metric and its target, stabilised over recent recommendations and limited by
rate policies, with the time passed in.

It follows ``pkg/controller/podautoscaler`` of kubernetes/kubernetes (autoscaling/v2 with
behaviors, v1.33) function by function:

- :func:`proposal` is ``replica_calculator.go``. A metric per replica
  (``calcPlainMetricReplicas``): ``ratio = metric / target``, desired ``ceil(ratio × current)``.
  A metric over the whole fleet with a per-replica target (``GetExternalPerPodMetricReplicas``,
  an ``AverageValue`` target): ``ratio = metric / (target × current)``, desired
  ``ceil(metric / target)``. No change while ``1 - tolerance <= ratio <= 1 + tolerance``
  (``Tolerances.isWithin``, v1.33 on), so a ratio of exactly 1.1 stays; the older
  ``|1 - ratio| <= tolerance`` scaled there, 1.1 - 1 being 0.10000000000000009 in floating
  point. Then clamped to ``[min_replicas, max_replicas]``.
- :meth:`Autoscaler.evaluate` is ``horizontal.go``. ``stabilizeRecommendationWithBehaviors``:
  of the recommendations with ``ts > now - window``, and the new one, the lowest within the
  scale-up window and the highest within the scale-down window bound the current count from
  below and above. ``convertDesiredReplicasWithBehaviorRate``: with ``start = current - added
  + removed`` over each policy's period (``ts > now - period``), scale up to at most
  ``calculateScaleUpLimitWithScalingRules`` (percent ``ceil(start × (1 + value/100))``, pods
  ``start + value``; ``max`` takes the largest, ``min`` the smallest, ``disabled`` none) and
  scale down to at least ``calculateScaleDownLimitWithBehaviors`` (percent
  ``int32(start × (1 - value/100))``, truncated, not rounded up: 7 at 50% may go to 3; pods
  ``start - value``; ``max`` takes the smallest limit, the largest change, ``min`` the largest,
  ``disabled`` none). A limit never goes past the current count the wrong way, nor past
  ``max_replicas`` / ``min_replicas``.
- As ``reconcileAutoscaler``: the first evaluation records the current count as a
  recommendation (``recordInitialRecommendation``), so a fresh autoscaler (or one after a
  restart) does not scale down before a whole scale-down window has passed; a current count
  outside ``[min_replicas, max_replicas]`` goes straight to the bound; a current count of 0
  means autoscaling is disabled (someone scaled the target to zero), and it stays 0.

Not modelled: pods that are unready or have no metric (one value is all we see), several
metrics at once (HPA takes the largest proposal; evaluate each and pass the one that wins),
the per-direction tolerances of v1.33's ``HPAConfigurableTolerance``.

Memory per target: recommendations younger than the longer stabilisation window (20 with the
defaults and an evaluation every 15 s) and scale events younger than the longest policy period;
older ones can never count again and are forgotten. The core never scales anything itself: the
caller sends the action and reports it with :meth:`Autoscaler.record_scale`, so the rate
policies count it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

PolicyKind = Literal["percent", "pods"]
SelectPolicy = Literal["max", "min", "disabled"]


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """HPA's ``HPAScalingPolicy``: within any ``period_ms``, change the replicas by at most
    ``value`` pods or ``value`` percent of the count at the period's start."""

    kind: PolicyKind
    value: int  # > 0
    period_ms: int  # > 0


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """HPA's ``behavior.scaleUp`` / ``behavior.scaleDown``: the stabilisation window and the
    rate policies, of which ``select`` picks the one allowing the largest change (``max``), the
    smallest (``min``), or forbids scaling in this direction (``disabled``)."""

    stabilization_ms: int
    policies: tuple[ScalingPolicy, ...]
    select: SelectPolicy = "max"


# HPA's defaults (pkg/apis/autoscaling/v2/defaults.go, and the controller's 300 s
# --horizontal-pod-autoscaler-downscale-stabilization): scale up at once, by 100% or 4 pods per
# 15 s, whichever is more; scale down to the highest recommendation of the last 5 minutes, by
# up to 100% per 15 s.
DEFAULT_SCALE_UP = ScalingRules(
    0, (ScalingPolicy("percent", 100, 15_000), ScalingPolicy("pods", 4, 15_000))
)
DEFAULT_SCALE_DOWN = ScalingRules(300_000, (ScalingPolicy("percent", 100, 15_000),))


@dataclass(frozen=True, slots=True)
class AutoscalerConfig:
    """One scaled target. ``per_replica``: the metric is a mean per replica (a utilisation, a
    per-pod rate) and ``target_value`` its target; otherwise the metric is a total over the
    fleet (a queue length, requests/s) and ``target_value`` the share of it one replica should
    take, HPA's ``AverageValue`` on an external metric."""

    target_value: float
    min_replicas: int
    max_replicas: int
    tolerance: float = 0.1
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN
    per_replica: bool = True

    def __post_init__(self) -> None:
        errors = []
        if not (math.isfinite(self.target_value) and self.target_value > 0):
            errors.append(f"target_value: a number above 0, not {self.target_value}")
        if self.min_replicas < 1:
            errors.append(f"min_replicas: at least 1, not {self.min_replicas}")
        if self.max_replicas < self.min_replicas:
            errors.append(
                f"max_replicas: at least min_replicas ({self.min_replicas}), "
                f"not {self.max_replicas}"
            )
        if not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            errors.append(f"tolerance: a ratio of 0 or more such as 0.1, not {self.tolerance}")
        errors += _rules_errors("scale_up", self.scale_up)
        errors += _rules_errors("scale_down", self.scale_down)
        if errors:
            raise ValueError("autoscaler config: " + "; ".join(errors))


def _rules_errors(name: str, rules: ScalingRules) -> list[str]:
    errors = []
    if rules.stabilization_ms < 0:
        errors.append(f"{name}.stabilization_ms: 0 or more, not {rules.stabilization_ms}")
    if rules.select not in ("max", "min", "disabled"):
        errors.append(f"{name}.select: 'max', 'min' or 'disabled', not {rules.select!r}")
    if not rules.policies:
        errors.append(f"{name}.policies: at least one (select 'disabled' to forbid scaling)")
    for i, policy in enumerate(rules.policies):
        where = f"{name}.policies[{i}]"
        if policy.kind not in ("percent", "pods"):
            errors.append(f"{where}.kind: 'percent' or 'pods', not {policy.kind!r}")
        if policy.value <= 0:
            errors.append(f"{where}.value: above 0, not {policy.value}")
        if policy.period_ms <= 0:
            errors.append(f"{where}.period_ms: above 0, not {policy.period_ms}")
    return errors


def _ratio(current: int, metric: float, config: AutoscalerConfig) -> float:
    if not (math.isfinite(metric) and metric >= 0):
        raise ValueError(f"metric: a finite number of 0 or more, not {metric}")
    if config.per_replica:
        return metric / config.target_value
    return metric / (config.target_value * current)


def _within_tolerance(ratio: float, tolerance: float) -> bool:
    return 1.0 - tolerance <= ratio <= 1.0 + tolerance


def proposal(current: int, metric: float, config: AutoscalerConfig) -> int:
    """HPA's raw recommendation for ``current`` replicas (at least 1) seeing ``metric``:
    ``current`` while the ratio is within the tolerance of 1, otherwise ``ceil(current ×
    ratio)`` (``ceil(metric / target)`` for a fleet total), clamped to ``[min_replicas,
    max_replicas]``."""
    if current < 1:
        raise ValueError(f"current: at least 1 replica, not {current}")
    ratio = _ratio(current, metric, config)
    if _within_tolerance(ratio, config.tolerance):
        desired = current
    elif config.per_replica:
        desired = math.ceil(ratio * current)
    else:
        desired = math.ceil(metric / config.target_value)
    return min(max(desired, config.min_replicas), config.max_replicas)


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    ts_ms: int
    current: int  # the replica count observed
    proposed: int  # the raw recommendation (proposal())
    stabilized: int  # after stabilisation
    replicas: int  # after the rate policies and min/max: what to scale to
    reason: str  # "metric 10 over target 1: 2 → 6 (wants 20: scale-up limit 6)"


class Autoscaler:
    """One scaled target: its recent recommendations and scale events, in ms."""

    __slots__ = (
        "_downs",
        "_events_ms",
        "_recommendations",
        "_recommendations_ms",
        "_ups",
        "config",
    )

    def __init__(self, config: AutoscalerConfig) -> None:
        self.config = config
        # (ts_ms, replicas); None until the first evaluation records the current count
        self._recommendations: list[tuple[int, int]] | None = None
        self._ups: list[tuple[int, int]] = []  # (ts_ms, replicas added)
        self._downs: list[tuple[int, int]] = []  # (ts_ms, replicas removed)
        up, down = config.scale_up, config.scale_down
        self._recommendations_ms = max(up.stabilization_ms, down.stabilization_ms)
        self._events_ms = max(p.period_ms for p in up.policies + down.policies)

    def evaluate(self, now_ms: int, current: int, metric: float) -> ScaleDecision:
        """What to scale to at ``now_ms`` with ``current`` replicas seeing ``metric``."""
        config = self.config
        if current < 0:
            raise ValueError(f"current: 0 or more replicas, not {current}")
        if self._recommendations is None:
            self._recommendations = [(now_ms, current)]
        if current == 0:
            reason = "scaling disabled: the target has 0 replicas"
            return ScaleDecision(now_ms, 0, 0, 0, 0, reason)
        if not config.min_replicas <= current <= config.max_replicas:
            bound = min(max(current, config.min_replicas), config.max_replicas)
            which = "max_replicas" if bound < current else "min_replicas"
            reason = f"{current} replicas outside {which} {bound}: {current} → {bound}"
            return ScaleDecision(now_ms, current, bound, bound, bound, reason)
        proposed = proposal(current, metric, config)
        stabilized = self._stabilize(now_ms, current, proposed)
        replicas, limit = self._limit_rate(now_ms, current, stabilized)
        reason = self._reason(current, metric, proposed, stabilized, replicas, limit)
        return ScaleDecision(now_ms, current, proposed, stabilized, replicas, reason)

    def record_scale(self, now_ms: int, from_replicas: int, to_replicas: int) -> None:
        """The caller scaled the target at ``now_ms``: the rate policies count the change."""
        if from_replicas < 0 or to_replicas < 0:
            raise ValueError(f"a scale from {from_replicas} to {to_replicas} replicas")
        cutoff = now_ms - self._events_ms
        self._ups = [e for e in self._ups if e[0] > cutoff]
        self._downs = [e for e in self._downs if e[0] > cutoff]
        if to_replicas > from_replicas:
            self._ups.append((now_ms, to_replicas - from_replicas))
        elif to_replicas < from_replicas:
            self._downs.append((now_ms, from_replicas - to_replicas))

    def _stabilize(self, now_ms: int, current: int, proposed: int) -> int:
        """``stabilizeRecommendationWithBehaviors``; records ``proposed``."""
        assert self._recommendations is not None
        up_cutoff = now_ms - self.config.scale_up.stabilization_ms
        down_cutoff = now_ms - self.config.scale_down.stabilization_ms
        up = down = proposed
        for ts_ms, replicas in self._recommendations:
            if ts_ms > up_cutoff:
                up = min(up, replicas)
            if ts_ms > down_cutoff:
                down = max(down, replicas)
        cutoff = now_ms - self._recommendations_ms
        self._recommendations = [r for r in self._recommendations if r[0] > cutoff]
        self._recommendations.append((now_ms, proposed))
        return min(max(current, up), down)  # up <= proposed <= down

    def _limit_rate(self, now_ms: int, current: int, stabilized: int) -> tuple[int, int]:
        """``convertDesiredReplicasWithBehaviorRate``: the replicas and the limit applied."""
        config = self.config
        if stabilized > current:
            limit = min(max(self._scale_up_limit(now_ms, current), current), config.max_replicas)
            return min(stabilized, limit), limit
        if stabilized < current:
            limit = max(min(self._scale_down_limit(now_ms, current), current), config.min_replicas)
            return max(stabilized, limit), limit
        return current, current

    def _period_start(self, now_ms: int, current: int, period_ms: int) -> int:
        cutoff = now_ms - period_ms
        added = sum(n for ts_ms, n in self._ups if ts_ms > cutoff)
        removed = sum(n for ts_ms, n in self._downs if ts_ms > cutoff)
        return current - added + removed

    def _scale_up_limit(self, now_ms: int, current: int) -> int:
        """``calculateScaleUpLimitWithScalingRules``."""
        rules = self.config.scale_up
        if rules.select == "disabled":
            return current
        limits = []
        for policy in rules.policies:
            start = self._period_start(now_ms, current, policy.period_ms)
            if policy.kind == "pods":
                limits.append(start + policy.value)
            else:  # rounded up, or a small percentage would never add a replica
                limits.append(math.ceil(start * (1 + policy.value / 100)))
        return max(limits) if rules.select == "max" else min(limits)

    def _scale_down_limit(self, now_ms: int, current: int) -> int:
        """``calculateScaleDownLimitWithBehaviors``: the lowest count allowed."""
        rules = self.config.scale_down
        if rules.select == "disabled":
            return current
        limits = []
        for policy in rules.policies:
            start = self._period_start(now_ms, current, policy.period_ms)
            if policy.kind == "pods":
                limits.append(start - policy.value)
            else:  # Go's int32(): truncated towards zero, as Kubernetes does
                limits.append(int(start * (1 - policy.value / 100)))
        # the largest change is the lowest limit
        return min(limits) if rules.select == "max" else max(limits)

    def _reason(
        self, current: int, metric: float, proposed: int, stabilized: int, replicas: int, limit: int
    ) -> str:
        config = self.config
        ratio = _ratio(current, metric, config)
        if _within_tolerance(ratio, config.tolerance):
            relation = "within tolerance of"
        else:
            relation = "over" if ratio > 1 else "under"
        target = f"{config.target_value:g}" + ("" if config.per_replica else f" × {current}")
        move = f"{current} → {replicas}" if replicas != current else f"stays at {current}"
        why = []
        if stabilized != proposed:
            rules = config.scale_down if stabilized > proposed else config.scale_up
            direction = "scale-down" if stabilized > proposed else "scale-up"
            why.append(f"{direction} stabilised over {rules.stabilization_ms / 1000:g} s")
        if replicas != stabilized:
            direction = "scale-up" if stabilized > current else "scale-down"
            rules = config.scale_up if stabilized > current else config.scale_down
            why.append(
                f"{direction} disabled"
                if rules.select == "disabled"
                else f"{direction} limit {limit}"
            )
        detail = f" (wants {proposed}: {'; '.join(why)})" if why else ""
        return f"metric {metric:g} {relation} target {target}: {move}{detail}"
