"""Canary analysis, Kayenta's per-interval judging with Flagger's and Argo Rollouts'
cumulative failure limit: one analysis of one deployment, canary against a fresh
baseline, on the clock the caller passes.

Time. The analysis starts at ``started_ms``; samples before ``started_ms + warmup_ms``
are ignored (Kayenta's ``beginAfterMins``, Argo's ``initialDelay``). Then come
``intervals`` intervals of ``interval_ms``, ``[start, end)``: interval ``i`` starts at
``started_ms + warmup_ms + i * interval_ms``, and samples at or after the last one's
end are ignored. An interval is judged when the clock passed to :meth:`close_until`
reaches ``end + grace_ms``, in order, once; a sample for an interval already judged is
late and not counted (:attr:`CanaryAnalysis.late`), and its samples are dropped.

Judging an interval (:func:`judge`), per check, over the interval's samples alone
(Kayenta's growing window is not kept; each interval stands on its own):

- The check's stat of each side: ``mean``; ``error_ratio``, the mean of per-event 0/1
  values (1 = bad); ``p50`` … ``p99``, interpolated linearly between the two nearest
  ranks, ``q (n - 1)`` 0-based, as Prometheus's ``quantile_over_time`` and numpy's
  default ``method="linear"`` (so a p99 of a small interval moves with its values
  instead of jumping to the maximum).
- Fewer than ``min_samples`` values on either side: ``nodata`` (Kayenta's ``Nodata``;
  the Mann-Whitney test is only run past it, as the deployment notes advise). With
  ``nodata="fail"`` it fails the interval (Kayenta's ``mustHaveData``; Flagger always
  does, too strict at low traffic), with ``"ignore"`` it does not.
- ``max_ratio``: ``direction="increase"`` fails when ``canary > max_ratio ×
  baseline``, ``"decrease"`` when ``canary < baseline / max_ratio``, ``"either"`` on
  both (Kayenta's meanRatio effect size, on the chosen stat). A ratio exactly at the
  limit passes. Written as products, so a baseline of 0 needs no division: 0 against
  0 passes, anything above 0 against 0 is beyond any ratio.
- ``mann_whitney`` (a confidence such as Kayenta's 0.98): fails when the one-sided U
  test in the bad direction (:mod:`processors.firehose.mann_whitney`) gives ``p < 1 -
  confidence``; two-sided for ``"either"``. On all the interval's values of each side,
  whatever the stat.
- ``min_difference``: a check never fails while ``|canary - baseline| <
  min_difference`` (its stats). This is the floor against the zero-baseline pitfall
  (spinnaker/spinnaker#5622, kayenta#799): an error ratio of 0.001 against 0 is an
  infinite ratio, and one unlucky request must not roll a deployment back.
- A check fails if any of its tests fails; the interval fails if any check fails.

The verdict:

- Failed intervals are counted cumulatively, not consecutively (Flagger's
  ``failedChecks``, Argo's ``failureLimit``): the analysis rolls back as soon as
  ``failed >= max_failures`` — Flagger's ``threshold`` reading (Argo's ``failureLimit:
  N`` is ``max_failures = N + 1``).
- A failed ``critical`` check rolls back at once (Kayenta forces the score to 0). A
  critical check with ``nodata="fail"`` and no data rolls back too (Kayenta's critical
  ``Nodata`` does even without ``mustHaveData``; here the check's ``nodata`` decides).
- After the last interval with fewer failures, the analysis promotes, even if that
  interval failed (the failure limit alone decides, as Flagger; Kayenta's final
  judgement would also need the last interval to pass).
- A verdict's ``ts_ms`` is when its interval became judgeable, ``end + grace_ms``, so it
  does not depend on how often the caller closes; :meth:`CanaryAnalysis.abort` (the
  deployment failed or was rolled back outside) ends it with ``"aborted"`` at the time
  given. After a verdict, nothing is added or judged.

Memory: the values of the intervals not judged yet (two float lists per check and
interval with samples), dropped when an interval is judged. Values must be finite;
``error_ratio`` values must lie in [0, 1]; :meth:`CanaryAnalysis.add` refuses others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from processors.firehose.mann_whitney import mann_whitney_u

Stat = Literal["mean", "error_ratio", "p50", "p90", "p95", "p99"]
Direction = Literal["increase", "decrease", "either"]
Track = Literal["canary", "baseline"]

QUANTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
STATS: tuple[str, ...] = ("mean", "error_ratio", *QUANTILES)
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "either")


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """One metric compared each interval (the module docstring has the rules)."""

    name: str
    stat: Stat
    direction: Direction = "increase"  # which change is bad
    max_ratio: float | None = None  # ≥ 1: canary beyond max_ratio × baseline (or ÷) fails
    min_difference: float = 0.0  # |canary - baseline| below this never fails
    mann_whitney: float | None = None  # a confidence in (0, 1), such as 0.98
    critical: bool = False  # a failure rolls back at once
    nodata: Literal["ignore", "fail"] = "ignore"  # fewer than min_samples on a side

    def __post_init__(self) -> None:
        where = f"check {self.name!r}"
        if self.stat not in STATS:
            raise ValueError(f"{where}: stat {self.stat!r} is not one of {', '.join(STATS)}")
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"{where}: direction {self.direction!r} is not one of {', '.join(DIRECTIONS)}"
            )
        if self.max_ratio is None and self.mann_whitney is None:
            raise ValueError(f"{where}: set max_ratio, mann_whitney or both, or it never fails")
        if self.max_ratio is not None and not self.max_ratio >= 1.0:
            raise ValueError(f"{where}: max_ratio is a factor ≥ 1, such as 1.2 for +20%")
        if self.mann_whitney is not None and not 0.0 < self.mann_whitney < 1.0:
            raise ValueError(f"{where}: mann_whitney is a confidence in (0, 1), such as 0.98")
        if not self.min_difference >= 0.0:
            raise ValueError(f"{where}: min_difference is an absolute amount ≥ 0")
        if self.nodata not in ("ignore", "fail"):
            raise ValueError(f"{where}: nodata is 'ignore' or 'fail'")


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """One analysis: ``intervals`` of ``interval_ms`` after ``warmup_ms``."""

    interval_ms: int
    intervals: int
    max_failures: int  # rollback when failed intervals (cumulative) >= this
    checks: tuple[MetricCheck, ...]
    warmup_ms: int = 0
    min_samples: int = 10  # per side, per interval, per check
    grace_ms: int = 0  # an interval is judged once the clock reaches its end + grace_ms

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or self.intervals <= 0:
            raise ValueError("interval_ms and intervals must be > 0")
        if self.max_failures <= 0:
            raise ValueError("max_failures must be ≥ 1 (1: the first failed interval rolls back)")
        if self.warmup_ms < 0 or self.grace_ms < 0:
            raise ValueError("warmup_ms and grace_ms must be ≥ 0")
        if self.min_samples <= 0:
            raise ValueError("min_samples must be ≥ 1 per side")
        if not self.checks:
            raise ValueError("a canary analysis needs at least one check")
        names = [check.name for check in self.checks]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"check names must be unique; repeated: {', '.join(repeated)}")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    canary: float | None  # the stat, None without values
    baseline: float | None
    canary_n: int
    baseline_n: int
    outcome: Literal["pass", "fail", "nodata"]
    why: str


@dataclass(frozen=True, slots=True)
class IntervalResult:
    index: int  # from 0
    start_ms: int
    end_ms: int  # exclusive
    passed: bool
    checks: tuple[CheckResult, ...]  # in the config's order


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Literal["promote", "rollback", "aborted"]
    ts_ms: int
    failed_intervals: int
    judged_intervals: int
    why: str


def statistic(stat: Stat, values: Sequence[float]) -> float:
    """``stat`` of ``values`` (not empty): the mean, or a quantile interpolated between
    0-based ranks ``floor(q (n - 1))`` and the next (Prometheus's ``quantile``)."""
    if not values:
        raise ValueError("a statistic of no values")
    if stat in ("mean", "error_ratio"):
        return math.fsum(values) / len(values)
    ordered = sorted(values)
    rank = QUANTILES[stat] * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def judge(
    check: MetricCheck, canary: Sequence[float], baseline: Sequence[float], min_samples: int
) -> CheckResult:
    """One check over one interval's values of each side."""
    c_stat = statistic(check.stat, canary) if canary else None
    b_stat = statistic(check.stat, baseline) if baseline else None
    n1, n2 = len(canary), len(baseline)

    def result(outcome: Literal["pass", "fail", "nodata"], why: str) -> CheckResult:
        return CheckResult(check.name, c_stat, b_stat, n1, n2, outcome, why)

    if c_stat is None or b_stat is None or n1 < min_samples or n2 < min_samples:
        return result("nodata", f"canary {n1}, baseline {n2} values: fewer than {min_samples}")
    difference = abs(c_stat - b_stat)
    if difference < check.min_difference:
        return result(
            "pass",
            f"canary {_fmt(c_stat)} vs baseline {_fmt(b_stat)}: difference "
            f"{_fmt(difference)} under min_difference {_fmt(check.min_difference)}",
        )
    worse = check.direction in ("increase", "either")
    better = check.direction in ("decrease", "either")
    reasons = []
    if check.max_ratio is not None:
        limit = check.max_ratio
        if worse and c_stat > limit * b_stat:
            reasons.append(f"canary {_fmt(c_stat)} > {_fmt(limit)} × baseline {_fmt(b_stat)}")
        if better and c_stat < b_stat / limit:
            reasons.append(f"canary {_fmt(c_stat)} < baseline {_fmt(b_stat)} / {_fmt(limit)}")
    if check.mann_whitney is not None:
        alpha = 1.0 - check.mann_whitney
        test = mann_whitney_u(canary, baseline)
        p, side = {
            "increase": (test.p_greater, "greater"),
            "decrease": (test.p_less, "less"),
            "either": (test.p_two_sided, "different"),
        }[check.direction]
        if p < alpha:
            reasons.append(f"Mann-Whitney: canary {side}, p {p:.3g} < {alpha:.3g}")
    if reasons:
        return result("fail", "; ".join(reasons))
    return result("pass", f"canary {_fmt(c_stat)} vs baseline {_fmt(b_stat)}: within limits")


@dataclass(slots=True)
class _Sides:
    """One check's values in one interval."""

    canary: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)


class CanaryAnalysis:
    """One analysis of one deployment: :meth:`add` samples, :meth:`close_until` the
    clock; it ends with one :class:`Verdict`."""

    __slots__ = (
        "_checks",
        "_done",
        "_failed",
        "_next",
        "_open",
        "_start_ms",
        "config",
        "late",
    )

    def __init__(self, config: CanaryConfig, started_ms: int) -> None:
        self.config = config
        self.late = 0  # samples for intervals already judged
        self._checks = {check.name: check for check in config.checks}
        self._start_ms = started_ms + config.warmup_ms  # interval 0's start
        self._next = 0  # the next interval to judge
        self._failed = 0
        self._done = False
        self._open: dict[int, dict[str, _Sides]] = {}  # interval → check → values

    @property
    def done(self) -> bool:
        """A verdict was given: nothing more is added or judged."""
        return self._done

    def add(self, check: str, track: Track, ts_ms: int, value: float) -> bool:
        """Count ``value`` of ``check`` on ``track`` at ``ts_ms``; False, not counted,
        when done, ``check`` is not in the config, ``ts_ms`` is in the warmup or past the
        last interval, its interval was judged (late), or the value is not finite (or,
        for ``error_ratio``, not in [0, 1])."""
        if track not in ("canary", "baseline"):
            raise ValueError(f"track {track!r}: 'canary' or 'baseline'")
        spec = self._checks.get(check)
        if self._done or spec is None or not math.isfinite(value):
            return False
        if spec.stat == "error_ratio" and not 0.0 <= value <= 1.0:
            return False
        offset = ts_ms - self._start_ms
        if offset < 0:
            return False
        index = offset // self.config.interval_ms
        if index >= self.config.intervals:
            return False
        if index < self._next:
            self.late += 1
            return False
        sides = self._open.setdefault(index, {}).setdefault(check, _Sides())
        (sides.canary if track == "canary" else sides.baseline).append(value)
        return True

    def close_until(self, clock_ms: int) -> list[IntervalResult | Verdict]:
        """Judge every interval whose ``end + grace_ms <= clock_ms``, in order, each
        followed by the verdict if it decides one."""
        config = self.config
        out: list[IntervalResult | Verdict] = []
        while not self._done and self._end_ms(self._next) + config.grace_ms <= clock_ms:
            interval = self._judge(self._next)
            out.append(interval)
            self._next += 1
            if not interval.passed:
                self._failed += 1
            verdict = self._verdict(interval)
            if verdict is not None:
                out.append(verdict)
                self._finish()
        return out

    def abort(self, ts_ms: int, why: str) -> Verdict | None:
        """End the analysis without a promote (the deployment failed or was rolled back
        outside it); None when it had already ended."""
        if self._done:
            return None
        self._finish()
        return Verdict("aborted", ts_ms, self._failed, self._next, why)

    def _end_ms(self, index: int) -> int:
        return self._start_ms + (index + 1) * self.config.interval_ms

    def _judge(self, index: int) -> IntervalResult:
        samples = self._open.pop(index, {})
        config = self.config
        checks = []
        for check in config.checks:
            sides = samples.get(check.name) or _Sides()
            checks.append(judge(check, sides.canary, sides.baseline, config.min_samples))
        passed = not any(map(_fails, config.checks, checks))
        end_ms = self._end_ms(index)
        return IntervalResult(index, end_ms - config.interval_ms, end_ms, passed, tuple(checks))

    def _verdict(self, interval: IntervalResult) -> Verdict | None:
        config = self.config
        ts_ms = interval.end_ms + config.grace_ms
        judged = interval.index + 1
        for check, result in zip(config.checks, interval.checks, strict=True):
            if check.critical and _fails(check, result):
                why = f"critical check {check.name!r} failed in interval {interval.index}"
                return Verdict("rollback", ts_ms, self._failed, judged, f"{why}: {result.why}")
        counted = f"{self._failed} of {judged} intervals failed"
        if self._failed >= config.max_failures:
            why = f"{counted}, reaching max_failures {config.max_failures}"
            return Verdict("rollback", ts_ms, self._failed, judged, why)
        if judged == config.intervals:
            why = f"{counted}, under max_failures {config.max_failures}"
            return Verdict("promote", ts_ms, self._failed, judged, why)
        return None

    def _finish(self) -> None:
        self._done = True
        self._open.clear()


def _fails(check: MetricCheck, result: CheckResult) -> bool:
    """Whether ``result`` fails its interval: a failed check, or no data that must not be."""
    return result.outcome == "fail" or (result.outcome == "nodata" and check.nodata == "fail")
