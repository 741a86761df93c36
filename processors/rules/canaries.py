"""Canary analysis in rule files (``canaries:``): a deployment event opens an analysis that
compares the canary's metrics with a fresh baseline's per interval, as Kayenta, Argo
Rollouts and Flagger do, and rolls back or promotes.

```yaml
canaries:
  - id: checkout_canary
    match: entity == "checkout"          # deploy events (ops.events, type deploy) it analyses
    track: labels.track                  # the field telling canary from baseline samples
    interval: 1m
    intervals: 10                        # the analysis lasts interval × intervals
    max_failures: 2                      # failed intervals (in all) that roll back
    checks:
      - name: error_ratio
        match: name == "http.server.requests" and service == "checkout"
        value: labels.class == "5xx"     # 1 when bad
        stat: error_ratio
        max_ratio: 2
        min_difference: 0.01
        critical: true
      - name: latency_p99
        match: name == "http.server.request.duration" and service == "checkout"
        stat: p99
        max_ratio: 1.2
        min_difference: 0.05
        mann_whitney: 0.98
```

A ``deploy`` event with ``status: started`` (and ``strategy: canary`` or
``blue_green``, or none) that ``match`` selects opens the analysis of its ``entity``,
from the next interval boundary after ``warmup``; ``failed`` or ``rolled_back`` ends it
(no verdict). Each entry becomes two rules of ``type: canary`` on ``ops.events``:

- ``<id>_rollback``: the analysis failed (``max_failures`` failed intervals, or a
  critical check failed): a heal ``{command: rollback, target, to: previous_version}``
  and an alert;
- ``<id>_promote``: it passed every interval it needed: a heal ``{command: promote,
  target, version}`` (for ``strategy: blue_green``, ``command: switch``: the green
  fleet, the canary track, takes the traffic).

The judging is :mod:`processors.firehose.canary`'s; the samples of each check (any
source) and the deploy events are brought together on one partition of the signals
topic per canary (:mod:`processors.firehose.canaries`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from processors.records import Severity
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
)
from processors.rules.model_base import StrictModel
from processors.rules.rule_types import CanaryCheckConfig, CanaryStageConfig

VERDICTS = ("rollback", "promote")  # and "advance", with stages


class Canary(StrictModel):
    """How a deployment's canary is judged against its baseline."""

    id: str = entry_id("its rules are <id>_rollback, <id>_promote and <id>_advance", 110)
    description: str = ""
    match: str = Field(
        "true", description="Which deploy events it analyses, e.g. 'entity == \"checkout\"'."
    )
    track: str = Field(
        "labels.track", description="The samples' field telling canary from baseline."
    )
    canary: str = Field("canary", description="The track's value of canary samples.")
    baseline: str = Field("baseline", description="The track's value of baseline samples.")
    interval_ms: PositiveDurationMs = Field(
        60_000, alias="interval", description="Each judged interval (default 1m)."
    )
    intervals: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="How many intervals it lasts (default 10; with stages, theirs in all).",
    )
    warmup_ms: DurationMs = Field(0, alias="warmup", description="Samples ignored first.")
    max_failures: int = Field(2, ge=1, description="Failed intervals (in all) that roll back.")
    min_samples: int = Field(10, ge=1, description="Per side per interval, else no data.")
    grace_ms: DurationMs = Field(10_000, alias="grace", description="Wait for late samples.")
    checks: list[CanaryCheckConfig] = Field(min_length=1, max_length=20)
    stages: list[CanaryStageConfig] = Field(
        default_factory=list,
        max_length=20,
        description="Traffic steps, each gated on its intervals all passing (optional).",
    )
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict, description="On its actions.")
    rollback: AlertOverride = Field(default_factory=AlertOverride)
    promote: AlertOverride = Field(default_factory=AlertOverride)
    advance: AlertOverride = Field(default_factory=AlertOverride)
    enabled: bool = Field(True, description="false: checked but not run.")

    @model_validator(mode="after")
    def _stages_fit(self) -> Canary:
        if self.stages:
            total = sum(stage.intervals for stage in self.stages)
            if self.intervals is not None and self.intervals != total:
                raise ValueError(
                    f"intervals {self.intervals}, but the stages' add up to {total} "
                    "(leave intervals out: the stages say it)"
                )
            weights = [stage.weight for stage in self.stages]
            if weights != sorted(set(weights)):
                raise ValueError("stages: each weight above the one before")
        return self

    @property
    def total_intervals(self) -> int:
        if self.stages:
            return sum(stage.intervals for stage in self.stages)
        return self.intervals if self.intervals is not None else 10

    @field_validator("checks")
    @classmethod
    def _unique_names(cls, checks: list[CanaryCheckConfig]) -> list[CanaryCheckConfig]:
        names = [check.name for check in checks]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"check names must be unique: {', '.join(repeated)} repeated")
        return checks


_ACTIONS = {
    "rollback": [
        ActionConfig(type="alert"),
        ActionConfig(
            type="heal",
            params={
                "command": "rollback",
                "target": "{{ target }}",
                "to": "{{ previous_version }}",
            },
        ),
    ],
    "advance": [
        ActionConfig(
            type="heal",
            params={"command": "set_weight", "target": "{{ target }}", "weight": "{{ weight }}"},
        )
    ],
    "promote": [
        ActionConfig(
            type="heal",
            params={
                "command": "{{ command }}",
                "target": "{{ target }}",
                "version": "{{ version }}",
            },
        )
    ],
}
_SUMMARY = {
    "rollback": "canary {{ version }} of {{ target }} failed: {{ reason }}; rolling back to "
    "{{ previous_version }}",
    "promote": "canary {{ version }} of {{ target }} passed {{ judged_intervals }} intervals: "
    "{{ command }}",
    "advance": "canary {{ version }} of {{ target }} passed stage {{ stage }}: "
    "{{ weight }}% of the traffic next",
}


def canary_rules(entry: Canary, expanded: Expanded) -> list[GeneratedRule]:
    """The rules ``<id>_rollback`` and ``<id>_promote``, expressions as ``expanded``."""
    checks = [
        check.model_copy(
            update={
                "match": expanded.get(("checks", i, "match"), check.match),
                "value": expanded.get(("checks", i, "value"))
                or check.value
                or ("value" if check.source == "metric" else "1"),
                "track": expanded.get(("checks", i, "track"))
                or check.track
                or expanded.get(("track",), entry.track),
            }
        )
        for i, check in enumerate(entry.checks)
    ]
    rules = []
    for verdict in (*VERDICTS, "advance") if entry.stages else VERDICTS:
        fields: dict[str, Any] = {
            "id": f"{entry.id}_{verdict}",
            "description": f"{entry.description or entry.id}: the analysis says {verdict}",
            "source": "event",
            "type": "canary",
            "match": f'type == "deploy" and ({expanded.get(("match",), entry.match)})',
            "group_by": ["entity"],
            "canary": {
                "canary": entry.id,
                "verdict": verdict,
                "track": expanded.get(("track",), entry.track),
                "canary_value": entry.canary,
                "baseline_value": entry.baseline,
                "interval": f"{entry.interval_ms}ms",
                "intervals": entry.total_intervals,
                "max_failures": entry.max_failures,
                "warmup": f"{entry.warmup_ms}ms",
                "min_samples": entry.min_samples,
                "grace": f"{entry.grace_ms}ms",
                "checks": checks,
                "stages": entry.stages,
            },
            "keep_firing_for": "0s",
            "tags": ["canary"],
            **alert_fields(
                getattr(entry, verdict),
                severity=entry.severity if verdict == "rollback" else "info",
                labels=entry.labels,
                annotations={"summary": _SUMMARY[verdict]},
                actions=_ACTIONS[verdict],
                enabled=entry.enabled,
            ),
        }
        rules.append(GeneratedRule(fields, verdict))
    return rules


def _expressions(node: Mapping[str, Any]) -> tuple[Expression, ...]:
    """The deploy events' ``match``; each check's ``match``, ``value`` and track field
    (its own, or the canary's ``track``) against its own source's records."""
    checks = node.get("checks")
    out = [Expression(("match",), "true", "match")]
    track = node.get("track", "labels.track")
    for i, check in enumerate(checks if isinstance(checks, list) else []):
        if not isinstance(check, Mapping):
            continue
        source = str(check.get("source", "metric"))
        value = "value" if source == "metric" else "1"
        out.append(Expression(("checks", i, "match"), "true", f"checks[{i}].match", source))
        out.append(Expression(("checks", i, "value"), value, f"checks[{i}].value", source))
        if "track" in check:
            out.append(Expression(("checks", i, "track"), "", f"checks[{i}].track", source))
        elif isinstance(track, str):  # the canary's track must be a field of these records
            out.append(Expression(("track",), "labels.track", "track", source))
    return tuple(out)


SECTION = Section(
    "canaries",
    "canary",
    Canary,
    lambda node: "event",
    _expressions,
    canary_rules,
    lambda node: (*VERDICTS, "advance") if node.get("stages") else VERDICTS,
    group_by=(),
)
