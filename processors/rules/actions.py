"""A rule's actions in rule files: what is sent when the alert fires (``ActionConfig``),
and what keeps each action safe — cooldown or exponential realert, budgets, a circuit
breaker — and closes the loop (verify, then escalate).

processors/decisions/ runs them (the gates in gates.py); rules/README.md documents them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from processors.records import ActionType, Severity
from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.model_base import StrictModel


class RealertConfig(StrictModel):
    """Exponential realert (ElastAlert's): after the action is sent, no repeat for
    ``initial``; each repeat that comes while alerts keep coming doubles it, up to ``max``;
    quiet time brings it back down."""

    initial_ms: PositiveDurationMs = Field(alias="initial")
    max_ms: PositiveDurationMs = Field(alias="max")

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RealertConfig:
        if self.max_ms < self.initial_ms:
            raise ValueError("max must not be shorter than initial")
        return self


class BudgetConfig(StrictModel):
    """At most ``max`` of this action type per ``per`` (a sliding window of event time),
    counted over every alert of the rule (``by: rule``) or over every rule's actions on the
    same target (``by: target``)."""

    max: int = Field(ge=1, description="Most actions sent per window.")
    per_ms: PositiveDurationMs = Field(alias="per", description="The sliding window.")
    by: Literal["rule", "target"] = Field("rule", description="What is counted together.")


class CircuitBreakerConfig(StrictModel):
    """Opens after ``failures`` failed ActionResults in a row for this rule's action on one
    target; half-open after ``cool_off`` (one trial action); closes on a success."""

    failures: int = Field(ge=1)
    cool_off_ms: PositiveDurationMs = Field(alias="cool_off")


class EscalationConfig(StrictModel):
    """The action sent when a verified action did not work."""

    type: ActionType = Field(description="Often a different type than the action verified.")
    severity: Severity | None = Field(None, description="Default: the rule's severity.")
    params: dict[str, Any] = Field(default_factory=dict, description="Templates, as actions'.")
    summary: str | None = Field(None, description="A template; default: 'Escalation: …'.")


class VerifyConfig(StrictModel):
    """Closed loop: escalate if the condition still holds ``after`` the action, or if the
    executor reports the action failed."""

    after_ms: PositiveDurationMs = Field(alias="after")
    escalate: EscalationConfig


class ActionConfig(StrictModel):
    """One action emitted when the alert fires."""

    type: ActionType = Field(description="Sent to the topic ops.actions.<type>.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Passed to the executor; string values are templates ('{{ host }}').",
    )
    cooldown_ms: DurationMs = Field(
        0,
        alias="cooldown",
        description="No repeat of this action for the same alert within this time.",
    )
    # -- decision side -------------------------------------------------------------------
    realert: RealertConfig | None = Field(
        None, description="Exponential realert instead of a fixed cooldown."
    )
    budgets: list[BudgetConfig] = Field(
        default_factory=list, description="At most N of these actions per window."
    )
    circuit_breaker: CircuitBreakerConfig | None = None
    verify: VerifyConfig | None = Field(
        None, description="Escalate when the heal or scale did not work."
    )

    @model_validator(mode="after")
    def _decision_fields_fit(self) -> ActionConfig:
        if self.realert is not None and self.cooldown_ms:
            raise ValueError("use cooldown or realert, not both")
        if self.verify is not None and self.type not in ("heal", "scale"):
            raise ValueError("verify is for heal and scale actions")
        return self
