"""The rule test file format, as pydantic models (``extra="forbid"``: a typo is an error).

```yaml
rule_files: [hosts.yaml]          # relative to the rules folder; default: all of it
tests:
  - name: cpu above 90% for five minutes fires
    interval: 1m                  # default step between records of one input
    input:
      - topic: metrics            # metrics | logs | security | health | events | signals
        record: {name: system.cpu.utilization, host: web-1}
        values: "0.5 0.95x6 0.4x3"   # metrics only: one record per value
      - topic: logs
        at: 4m                    # offset from the case start (default 0s)
        count: 120                # this many copies, every `interval`
        interval: 250ms
        record: {service: checkout, severity_number: 17, body: boom}
    evals:
      - eval_at: 7m               # actions decided after the previous eval, up to 7m
        expect:
          - {type: alert, rule: host_cpu_saturated, group: {host: web-1}}
        partial: false            # true: other actions may happen too
      - eval_at: 20m
        expect: []                # nothing at all
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from processors.records import ActionType, AlertStatus
from processors.rules.durations import DurationMs, PositiveDurationMs

Topic = Literal["metrics", "logs", "security", "health", "events", "signals"]

DEFAULT_INTERVAL_MS = 60_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputSpec(_Strict):
    """Records of one topic: ``record`` once, ``count`` times, or once per value of
    ``values``, starting at ``at`` and ``interval`` apart."""

    topic: Topic
    record: dict[str, Any] = Field(default_factory=dict)
    at_ms: DurationMs = Field(0, alias="at")
    interval_ms: PositiveDurationMs | None = Field(None, alias="interval")
    values: str | None = None
    count: int | None = Field(None, ge=1, le=100_000)


class ExpectedAction(_Strict):
    """An action that must be among those decided; fields left out match anything
    (``status`` defaults to firing)."""

    rule: str
    type: ActionType
    status: AlertStatus = "firing"
    group: dict[str, str] | None = None
    summary: str | None = None  # a part of the rendered summary
    params: dict[str, Any] | None = None  # each given param must equal
    at_ms: DurationMs | None = Field(None, alias="at")  # when decided (event time)


class EvalSpec(_Strict):
    eval_at_ms: DurationMs = Field(alias="eval_at")
    expect: list[ExpectedAction]
    partial: bool = False


class CaseSpec(_Strict):
    name: str = Field(min_length=1)
    interval_ms: PositiveDurationMs = Field(DEFAULT_INTERVAL_MS, alias="interval")
    input: list[InputSpec] = Field(default_factory=list)
    evals: list[EvalSpec] = Field(min_length=1)


class RuleTestFile(_Strict):
    """The top level; each case is validated on its own (:class:`CaseSpec`), so that
    one broken case does not hide the errors of the others."""

    rule_files: list[str] | None = None
    tests: list[dict[str, Any]] = Field(min_length=1)


def keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


# Which model a mapping is, by the key it sits under (for "did you mean").
KEYS_BY_PARENT = {
    None: keys(RuleTestFile),
    "tests": keys(CaseSpec),
    "input": keys(InputSpec),
    "evals": keys(EvalSpec),
    "expect": keys(ExpectedAction),
}
