"""Autoscalers in rule files (``autoscalers:``): target tracking as Kubernetes' HPA does it,
compiled into a rule whose matches are ``scale`` actions.

```yaml
autoscalers:
  - id: checkout_autoscale
    target: checkout                     # what to scale: params.target
    source: metric
    match: name == "system.cpu.utilization" and service == "checkout"
    per: host                            # current replicas = distinct values in the window
    window: 1m
    target_value: 0.6                    # desired mean per replica
    metric: mean                         # or total: the fleet's total (a queue length)
    min_replicas: 2
    max_replicas: 10
    tolerance: 0.1                       # HPA default
    behavior:                            # HPA defaults when absent
      scale_up:
        stabilization: 0s
        policies: [{percent: 100, period: 15s}, {pods: 4, period: 15s}]
      scale_down: {stabilization: 5m, policies: [{percent: 100, period: 15s}]}
```

Each entry becomes one rule of ``type: autoscale`` with the entry's id. Per window, the
firehose takes each replica's (each ``per`` value's) mean of the records ``match``
selects (counted per input partition and added up per target on a partition of the
signals topic, :mod:`processors.firehose.autoscalers`): the current replicas are how
many there are; the metric is their mean (``metric: mean``, a utilisation) or their
sum (``metric: total``, a queue length or request rate the fleet shares: the target is
then per replica). :class:`processors.firehose.autoscale.Autoscaler` computes the
desired count with HPA's formula, tolerance, stabilisation and rate policies; when it
differs from the current count and from the last one sent, the rule matches and its
action goes out: ``scale`` with ``params: {target, replicas, from}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from processors.records import Severity, Source
from processors.rules.actions import ActionConfig
from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.generated import (
    AlertOverride,
    Expanded,
    Expression,
    GeneratedRule,
    Section,
    alert_fields,
    entry_id,
    number_as_expression,
)
from processors.rules.model_base import StrictModel
from processors.rules.rule_types import BehaviorConfig


class Autoscaler(StrictModel):
    """Keep a metric of a target at ``target_value`` per replica by scaling it."""

    id: str = entry_id("the id of its rule and of its scale actions", 128)
    description: str = ""
    target: str = Field(min_length=1, description="What to scale: the actions' params.target.")
    source: Source = "metric"
    match: str = Field("true", description="The records of the metric (default: all).")
    per: str = Field(description="The field naming a replica (host, instance): one per value.")
    value: str | None = Field(
        None, description="Each record's number (default: value for metrics, else 1)."
    )
    window_ms: PositiveDurationMs = Field(
        60_000, alias="window", description="Each evaluation's window (default 1m)."
    )
    grace_ms: DurationMs = Field(
        10_000, alias="grace", description="How long a window waits for late records."
    )
    target_value: float = Field(gt=0, description="The metric's target per replica.")
    metric: Literal["mean", "total"] = Field(
        "mean",
        description="mean: the replicas' mean (a utilisation); total: their sum, divided "
        "by the replicas (a queue length, a request rate).",
    )
    min_replicas: int = Field(1, ge=1, le=100_000)
    max_replicas: int = Field(ge=1, le=100_000)
    tolerance: float = Field(0.1, ge=0, lt=1, description="No change within it (HPA: 0.1).")
    behavior: BehaviorConfig = Field(default_factory=BehaviorConfig)
    severity: Severity = "info"
    labels: dict[str, str] = Field(default_factory=dict, description="On its actions.")
    scale: AlertOverride = Field(
        default_factory=AlertOverride,
        description="Overrides of its rule (default action: scale with target, replicas, from).",
    )
    enabled: bool = Field(True, description="false: checked but not run.")

    _number = field_validator("value", mode="before")(number_as_expression)

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaler:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not be above max_replicas")
        return self


_SCALE = ActionConfig(
    type="scale",
    params={"target": "{{ target }}", "replicas": "{{ replicas }}", "from": "{{ current }}"},
)


def autoscaler_rules(entry: Autoscaler, expanded: Expanded) -> list[GeneratedRule]:
    """The rule ``<id>`` of an ``autoscalers:`` entry, its expressions as ``expanded``."""
    settings = entry.model_dump(
        mode="python",
        by_alias=True,
        include={
            "target",
            "per",
            "window_ms",
            "grace_ms",
            "target_value",
            "metric",
            "min_replicas",
            "max_replicas",
            "tolerance",
            "behavior",
        },
    )
    settings["window"] = f"{entry.window_ms}ms"
    settings["grace"] = f"{entry.grace_ms}ms"
    settings["value"] = expanded.get(("value",)) or entry.value or _default_value(entry.source)
    settings["behavior"] = entry.behavior  # a model: its durations are already in ms
    fields: dict[str, Any] = {
        "id": entry.id,
        "description": entry.description
        or f"scale {entry.target} to keep {entry.metric} at {entry.target_value:g} per replica",
        "source": entry.source,
        "type": "autoscale",
        "match": expanded.get(("match",), entry.match),
        "autoscale": settings,
        "keep_firing_for": "0s",  # every new desired count is an action
        "tags": ["autoscale"],
        **alert_fields(
            entry.scale,
            severity=entry.severity,
            labels=entry.labels,
            annotations={
                "summary": "scale {{ target }} from {{ current }} to {{ replicas }} "
                "replicas ({{ reason }})"
            },
            actions=[_SCALE],
            enabled=entry.enabled,
        ),
    }
    return [GeneratedRule(fields, "scale")]


def _default_value(source: str) -> str:
    return "value" if source == "metric" else "1"


def _expressions(node: Mapping[str, Any]) -> tuple[Expression, ...]:
    source = node.get("source", "metric")
    return (
        Expression(("match",), "true", "match"),
        Expression(("value",), _default_value(str(source)), "value"),
        Expression(("per",), "true", "per"),
    )


SECTION = Section(
    "autoscalers",
    "autoscaler",
    Autoscaler,
    lambda node: node.get("source", "metric"),
    _expressions,
    autoscaler_rules,
    lambda _: ("",),
    group_by=(),
)
