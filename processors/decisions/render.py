"""The records a decision writes: the ``Decision`` (the trail) and the ``Action``
executors act on, with its templates rendered (processors/rules/templates.py) and the
evidence of the signal that caused it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.decisions.gates import Due, Gate
from processors.records import Action, Decision, Signal
from processors.rules.actions import ActionConfig, EscalationConfig
from processors.rules.compiler import CompiledRule
from processors.rules.templates import render_param, render_template
from processors.timestamps import format_ts


def target_of(
    config: ActionConfig | EscalationConfig,
    rule_id: str,
    group: Mapping[str, str],
    template: Mapping[str, Any],
) -> str:
    """What the action acts on: its ``target`` param, else the group (k=v,…)."""
    target = config.params.get("target")
    if isinstance(target, str):
        return render_template(target, template)
    return ",".join(f"{k}={v}" for k, v in sorted(group.items())) or rule_id


def decision_record(
    rule: CompiledRule,
    key: str,
    group: dict[str, str],
    values: Mapping[str, Any],
    due: Due,
    action_id: str,
    gate: Gate,
    target: str,
    t_ms: int,
    action_type: Any = None,
) -> Decision:
    """The trail entry of ``due`` (of ``action_type``, default the due action's)."""
    if gate.reason is None:
        outcome = "sent"
    else:
        outcome = "dry_run" if gate.reason == "dry_run" else "suppressed"
    return Decision(
        action_id=action_id,
        action_type=action_type if action_type is not None else due.config.type,
        action_index=due.index,
        status="resolved" if due.status == "resolved" else "firing",
        outcome=outcome,
        reason=gate.reason,
        because=due.because,
        rule_id=rule.id,
        rule_version=rule.version,
        fingerprint=key,
        target=target,
        group=group,
        values=dict(values),
        suppressed_by=gate.by,
        ts=format_ts(t_ms),
    )


def action_record(
    rule: CompiledRule,
    key: str,
    group: dict[str, str],
    template: Mapping[str, Any],
    due: Due,
    decision: Decision,
    evidence: list[dict[str, Any]],
    incident_id: str | None,
    t_ms: int,
) -> Action:
    """The action of a ``sent`` decision, its annotations and string params rendered
    with the values the condition read and the group (a param that is exactly one
    number's template stays a number: :func:`render_param`)."""
    spec, config = rule.rule, due.config
    context = {**template, "rule_id": rule.id, "severity": spec.severity}
    context["status"] = due.status
    annotations = {k: render_template(v, context) for k, v in spec.annotations.items()}
    summary = annotations.get("summary") or spec.description or rule.id
    params = {k: render_param(v, context) for k, v in config.params.items()}
    return Action(
        id=decision.action_id,
        type=config.type,
        status="resolved" if due.status == "resolved" else "firing",
        rule_id=rule.id,
        rule_version=rule.version,
        severity=spec.severity,
        group=dict(group),
        fingerprint=key,
        labels={**spec.labels, **group},
        summary=summary,
        annotations=annotations,
        params=params,
        evidence=evidence,
        starts_at=format_ts(due.starts_ms),
        ts=format_ts(t_ms),
        target=decision.target,
        incident_id=incident_id,
        decision=decision,
    )


def evidence_of(signal: Signal) -> dict[str, Any]:
    """What an action carries of the signal that caused it."""
    evidence: dict[str, Any] = {"signal_id": signal.id, "ts": format_ts(signal.ts_ms)}
    if signal.window_start_ms is not None:
        evidence["window_start"] = format_ts(signal.window_start_ms)
        evidence["values"] = dict(signal.values)
    if signal.record is not None:
        evidence["record"] = signal.record
    return evidence
