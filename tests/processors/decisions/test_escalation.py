"""The closed loop: a verified heal escalates when its condition still holds after the
wait, or when its executor reports failure — once; an incident opened for an alert is
referenced by the alert's later actions."""

from __future__ import annotations

from pathlib import Path

from processors.ids import stable_id
from processors.timestamps import format_ts
from tests.processors.decisions.decision_runs import Run, key_of, minute_ms
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: service_down
    source: metric
    match: name == "up"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [service]
    severity: warning
    annotations: {summary: "{{ service }} is down"}
    actions:
      - type: heal
        params: {command: restart, target: "{{ service }}"}
        verify:
          after: 3m
          escalate:
            type: incident
            severity: critical
            params: {title: "restart did not help {{ service }}"}
      - type: alert
"""
SERVICE = {"service": "checkout"}
KEY = key_of("service_down", **SERVICE)


def test_condition_still_holding_after_the_wait_escalates_once(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    sent = run.windows("service_down", SERVICE, [2, 2, 2, 2, 2, 2, 0])
    assert sent == [
        (0, "heal", "firing"),
        (0, "alert", "firing"),
        (3, "incident", "firing"),  # heal at 1, still down at 4 (= 1 + 3m)
        (6, "alert", "resolved"),
    ]
    heal, _alert, escalation, resolved = run.actions
    assert escalation.id == stable_id("service_down", KEY, heal.id, "escalation")
    assert escalation.severity == "critical"
    assert escalation.params == {"title": "restart did not help checkout"}
    assert escalation.summary == "Escalation: checkout is down (the condition still holds 3m after)"
    assert escalation.decision is not None
    assert escalation.decision.because == "escalation"
    assert escalation.decision.detail["escalates"] == heal.id
    # the escalation opened an incident: later actions of the alert reference it
    assert heal.incident_id is None and escalation.incident_id == escalation.id
    assert resolved.incident_id == escalation.id
    assert run.store.verifying == {}


def test_a_heal_that_worked_does_not_escalate(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    sent = run.windows("service_down", SERVICE, [2, 2, 0, 0, 0, 2])
    assert [t for _, t, _ in sent] == ["heal", "alert", "alert", "heal", "alert"]
    assert run.store.verifying.keys() == {run.actions[-2].id}  # the new heal waits


def test_a_failed_result_escalates_at_once_and_only_once(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    run.windows("service_down", SERVICE, [2])
    heal = run.actions[0]
    assert run.store.verifying == {heal.id: KEY}
    escalated = run.result(heal, "failed", 1.5, message="systemctl: unit not found")
    (escalation,) = escalated.actions
    assert escalation.type == "incident"
    assert escalation.ts == format_ts(minute_ms(1.5))
    assert escalation.decision is not None
    assert escalation.decision.detail["why"] == (
        "the executor test reported failure: systemctl: unit not found"
    )
    assert run.result(heal, "failed", 2).actions == []  # reported twice: once is enough
    assert run.windows("service_down", SERVICE, [2, 2, 2, 2], first=1) == []  # no second one


def test_a_succeeded_result_leaves_the_check_on_the_condition(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    run.windows("service_down", SERVICE, [2])
    assert run.result(run.actions[0], "succeeded", 1.5).actions == []
    sent = run.windows("service_down", SERVICE, [2, 2, 2], first=1)
    assert sent == [(3, "incident", "firing")]


INCIDENTS = """
rules:
  - id: error_burst
    source: metric
    match: name == "errors"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [service]
    actions:
      - type: alert
      - type: incident
        params: {title: "Error burst in {{ service }}"}
"""


def test_an_incident_is_referenced_by_the_alerts_other_actions(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, INCIDENTS))
    run.windows("error_burst", SERVICE, [2, 0])
    alert, incident, resolved = run.actions
    assert incident.type == "incident"
    assert alert.incident_id == incident.id == incident.incident_id == resolved.incident_id
    assert run.store.data[key_of("error_burst", **SERVICE)].incident_id == incident.id


def test_a_reload_that_drops_the_verify_drops_the_waiting(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    run.windows("service_down", SERVICE, [2])
    heal = run.actions[0]
    run.rulebook = rulebook_from_yaml(tmp_path, RULES.split("    actions:")[0])  # alert only
    assert run.result(heal, "failed", 1.5).actions == []
    assert run.store.verifying == {}
