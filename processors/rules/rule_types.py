"""Rule types' settings in rule files: the threshold rule's ``window``, and the block of
every other type (frequency, flatline, change, new_term, cardinality, spike, sequence),
named after it.

processors/firehose/typed_rules.py runs the types beyond thresholds; rules/README.md
documents them.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from processors.records import Source
from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.model_base import StrictModel

Stat = Literal["count", "sum", "min", "max", "mean", "last", "rate", "p50", "p90", "p99"]


class WindowConfig(StrictModel):
    """A window per ``group_by`` series over the records that ``match``; each closed
    window is evaluated once."""

    size_ms: PositiveDurationMs = Field(alias="size", description="Length of a window.")
    hop_ms: PositiveDurationMs | None = Field(
        None,
        alias="hop",
        description="Start a window every hop (hopping windows); default: size (tumbling).",
    )
    grace_ms: DurationMs = Field(
        10_000,
        alias="grace",
        description="How long a window waits for late records after its end (default 10s).",
    )
    stat: Stat = Field(description="The statistic the condition sees as 'value'.")
    value: str | None = Field(
        None,
        description="Expression giving each record's number; booleans count as 1/0 "
        "(e.g. 'status == \"fail\"'). Default: the field 'value' for metrics, else 1.",
    )

    @model_validator(mode="after")
    def _hop_fits(self) -> WindowConfig:
        if self.hop_ms is not None and self.hop_ms > self.size_ms:
            raise ValueError("hop must not be longer than size")
        return self


# --- Rule types beyond thresholds --------------------------------------------------------
# Each type's settings are a block named after it.

RuleType = Literal[
    "threshold",
    "frequency",
    "flatline",
    "change",
    "new_term",
    "cardinality",
    "spike",
    "sequence",
    "unfinished",
    "slo",
    "autoscale",
    "canary",
]
# the types with settings, each in the block of its name (TYPE_SETTINGS)
TYPE_BLOCKS: tuple[str, ...] = tuple(t for t in get_args(RuleType) if t != "threshold")
_TIMEFRAME = "A sliding timeframe (per group_by key)."
_GRACE = "How long to wait for late records before judging a time (default 10s)."
_FIELD_PATH = "A field of the source's records (e.g. host.name, attributes.version)."


def _timeframe(description: str = _TIMEFRAME) -> Any:
    return Field(alias="timeframe", description=description)


def _grace(default_ms: int = 10_000, description: str = _GRACE) -> Any:
    return Field(default_ms, alias="grace", description=description)


class FrequencyConfig(StrictModel):
    """``type: frequency``: at least ``at_least`` matching records within ``timeframe``
    per group_by key (sliding). A match starts the count over."""

    at_least: int = Field(ge=1, le=100_000, description="Records needed within the timeframe.")
    timeframe_ms: PositiveDurationMs = _timeframe()
    grace_ms: DurationMs = _grace()


class FlatlineConfig(StrictModel):
    """``type: flatline``: fewer than ``fewer_than`` records within ``timeframe`` for a
    group_by key seen before (``fewer_than: 1``: no record at all). One match per
    silence."""

    fewer_than: int = Field(1, ge=1, le=100_000, description="Default 1: silence.")
    timeframe_ms: PositiveDurationMs = _timeframe()
    grace_ms: DurationMs = _grace()


class ChangeConfig(StrictModel):
    """``type: change``: ``field`` differs from the previous record of the group_by key."""

    field: str = Field(description=_FIELD_PATH)
    timeframe_ms: PositiveDurationMs | None = Field(
        None,
        alias="timeframe",
        description="Only a change within this time of the previous record counts.",
    )
    max_keys: int = Field(
        100_000, ge=1, le=10_000_000, description="Keys remembered (least recently seen go)."
    )


class NewTermConfig(StrictModel):
    """``type: new_term``: a value of ``fields`` the group_by key never had, once the key
    has been learning for ``learning``."""

    fields: list[str] = Field(
        min_length=1, max_length=8, description="Fields whose values together are a term."
    )
    learning_ms: DurationMs = Field(
        86_400_000, alias="learning", description="Per key, terms are only learnt (default 1d)."
    )
    max_terms: int = Field(
        1000, ge=1, le=1_000_000, description="Terms per key (least recently seen go)."
    )
    max_keys: int = Field(
        10_000, ge=1, le=10_000_000, description="Keys per partition (least recently seen go)."
    )


class CardinalityConfig(StrictModel):
    """``type: cardinality``: distinct values of ``field`` within ``timeframe`` per
    group_by key above ``above`` and/or below ``below``."""

    field: str = Field(description=_FIELD_PATH)
    timeframe_ms: PositiveDurationMs = _timeframe()
    above: int | None = Field(None, ge=0, le=100_000, description="More than this many.")
    below: int | None = Field(
        None, ge=1, le=100_000, description="Fewer than this many (keys seen before)."
    )
    grace_ms: DurationMs = _grace()

    @model_validator(mode="after")
    def _a_bound(self) -> CardinalityConfig:
        if self.above is None and self.below is None:
            raise ValueError("give above, below or both")
        return self


class SpikeConfig(StrictModel):
    """``type: spike``: a window's record count against the previous window's, per
    group_by key (tumbling windows of ``timeframe``)."""

    timeframe_ms: PositiveDurationMs = _timeframe("Length of each window.")
    ratio: float = Field(gt=1, le=1e9, description="Current at least ratio x previous (up).")
    direction: Literal["up", "down", "both"] = "up"
    min_previous: int = Field(1, ge=0, description="Records the previous window needs.")
    min_current: int = Field(0, ge=0, description="Records the current window needs.")
    grace_ms: DurationMs = _grace()


class SequenceStep(StrictModel):
    """One step: which records, and where each group_by value is in them."""

    source: Source
    match: str = Field("true", description="Which records of the source are this step.")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="group_by name -> field path in this step's records (default: the "
        "field of the same name).",
    )


class SequenceConfig(StrictModel):
    """``type: sequence``: one record of every step with the same group_by values (the
    join key), in order (``ordered: true``) or in any order, within ``timeframe``."""

    ordered: bool = Field(True, description="Steps in the order written (default true).")
    timeframe_ms: PositiveDurationMs = _timeframe("From the first step's record to the last.")
    grace_ms: DurationMs = _grace(
        60_000, "How late a step may arrive (default 1m; more when a step is a window signal)."
    )
    steps: list[SequenceStep] = Field(min_length=2, max_length=8)
    max_keys: int = Field(
        1_000_000,
        ge=1,
        le=100_000_000,
        description="Pending join keys per signals partition (the oldest go first).",
    )


class UnfinishedConfig(StrictModel):
    """``type: unfinished``: a record ``start`` matches, and no record ``end`` matches
    for its group_by key within ``within`` (a job that hangs)."""

    start: str = Field(description="Which of the rule's records start a run.")
    end: str = Field(description="Which of them end it (success or failure).")
    within_ms: PositiveDurationMs = Field(alias="within", description="How long a run may take.")
    grace_ms: DurationMs = _grace()
    max_keys: int = Field(
        100_000, ge=1, le=10_000_000, description="Open runs held (the oldest go first)."
    )


class SloRuleConfig(StrictModel):
    """``type: slo``: one of the two rules an entry of ``slos:`` compiles into (never
    written by hand; :mod:`processors.rules.slos`). Its records are the SLI's ``total``
    (the rule's ``match``); this block holds the rest of the SLO, the same in both."""

    slo: str = Field(description="The SLO's id.")
    alert: Literal["page", "ticket"]
    objective: float = Field(gt=0, lt=1)
    window_ms: PositiveDurationMs = Field(alias="window")
    bad: str = Field(description="Which of the SLI's records are bad events.")
    events: str = Field(description="How many events a record counts as.")
    grace_ms: DurationMs = _grace()


class ScalingPolicyConfig(StrictModel):
    """HPA's ``HPAScalingPolicy``: ``{percent: 100, period: 15s}`` or ``{pods: 4, period: 15s}``."""

    percent: int | None = Field(None, ge=1, le=10_000)
    pods: int | None = Field(None, ge=1, le=100_000)
    period_ms: PositiveDurationMs = Field(alias="period", description="At most 30m (HPA's).")

    @model_validator(mode="after")
    def _one_kind(self) -> ScalingPolicyConfig:
        if (self.percent is None) == (self.pods is None):
            raise ValueError("a policy is {percent: N, period: D} or {pods: N, period: D}")
        if self.period_ms > 1_800_000:
            raise ValueError("period: at most 30m, as HPA's")
        return self


class ScalingRulesConfig(StrictModel):
    """HPA's ``HPAScalingRules`` for one direction."""

    stabilization_ms: DurationMs | None = Field(
        None, alias="stabilization", description="Default: 0s up, 5m down (at most 1h)."
    )
    select: Literal["max", "min", "disabled"] = "max"
    policies: list[ScalingPolicyConfig] | None = Field(
        None, min_length=1, description="Default: HPA's for the direction."
    )

    @field_validator("stabilization_ms")
    @classmethod
    def _at_most_an_hour(cls, value: int | None) -> int | None:
        if value is not None and value > 3_600_000:
            raise ValueError("at most 1h, as HPA's")
        return value


class BehaviorConfig(StrictModel):
    scale_up: ScalingRulesConfig = Field(default_factory=ScalingRulesConfig)
    scale_down: ScalingRulesConfig = Field(default_factory=ScalingRulesConfig)


class AutoscaleRuleConfig(StrictModel):
    """``type: autoscale``: the rule an entry of ``autoscalers:`` compiles into (never
    written by hand; :mod:`processors.rules.autoscalers`)."""

    target: str
    per: str
    value: str
    window_ms: PositiveDurationMs = Field(alias="window")
    grace_ms: DurationMs = _grace()
    target_value: float = Field(gt=0)
    metric: Literal["mean", "total"]
    min_replicas: int = Field(ge=1)
    max_replicas: int = Field(ge=1)
    tolerance: float = Field(ge=0, lt=1)
    behavior: BehaviorConfig


class CanaryCheckConfig(StrictModel):
    """One metric a canary analysis compares, canary against baseline, per interval."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    source: Source = "metric"
    match: str = Field("true", description="Which records are this metric's samples.")
    value: str | None = Field(
        None,
        description="Each sample's number (default: value for metrics, else 1); for "
        "error_ratio a condition, 1 when bad: 'status == \"fail\"'.",
    )
    track: str | None = Field(
        None, description="The field telling canary from baseline here (default: the canary's)."
    )
    stat: Literal["mean", "error_ratio", "p50", "p90", "p95", "p99"] = "mean"
    direction: Literal["increase", "decrease", "either"] = Field(
        "increase", description="Which change is bad (default: an increase)."
    )
    max_ratio: float | None = Field(None, gt=1, description="Canary / baseline beyond it fails.")
    min_difference: float = Field(
        0.0, ge=0, description="Never fails while |canary - baseline| is below it."
    )
    mann_whitney: float | None = Field(
        None, gt=0.5, lt=1, description="A confidence (0.98): fails when the U test says worse."
    )
    critical: bool = Field(False, description="A failure rolls back at once.")
    nodata: Literal["ignore", "fail"] = Field(
        "ignore", description="An interval with too few samples on a side: ignore or fail."
    )

    @model_validator(mode="after")
    def _can_fail(self) -> CanaryCheckConfig:
        if self.max_ratio is None and self.mann_whitney is None:
            raise ValueError("give max_ratio, mann_whitney or both: a check must be able to fail")
        return self


class CanaryStageConfig(StrictModel):
    """A traffic step of a canary: ``weight`` percent to the canary for ``intervals``
    intervals, every one of which must pass before the next step (a health gate)."""

    weight: int = Field(ge=1, le=100, description="The canary's share of traffic, percent.")
    intervals: int = Field(ge=1, le=1000, description="Intervals judged at this weight.")


class CanaryRuleConfig(StrictModel):
    """``type: canary``: one of the two rules an entry of ``canaries:`` compiles into
    (never written by hand; :mod:`processors.rules.canaries`): its verdict, and the
    whole analysis (the same in both)."""

    canary: str
    verdict: Literal["rollback", "promote", "advance"]
    track: str
    canary_value: str
    baseline_value: str
    interval_ms: PositiveDurationMs = Field(alias="interval")
    intervals: int = Field(ge=1)
    max_failures: int = Field(ge=1)
    warmup_ms: DurationMs = Field(alias="warmup")
    min_samples: int = Field(ge=1)
    grace_ms: DurationMs = _grace()
    checks: list[CanaryCheckConfig] = Field(min_length=1)
    stages: list[CanaryStageConfig] = Field(default_factory=list)


TYPE_SETTINGS: dict[str, type[StrictModel]] = {
    "frequency": FrequencyConfig,
    "flatline": FlatlineConfig,
    "change": ChangeConfig,
    "new_term": NewTermConfig,
    "cardinality": CardinalityConfig,
    "spike": SpikeConfig,
    "sequence": SequenceConfig,
    "unfinished": UnfinishedConfig,
    "slo": SloRuleConfig,
    "autoscale": AutoscaleRuleConfig,
    "canary": CanaryRuleConfig,
}
