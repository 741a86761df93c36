"""The decision trail: every action and every suppressed one says why; dry runs decide
and record but send nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.decisions.context import DecisionContext
from tests.processors.decisions.decision_runs import Run, key_of
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: hot
    source: metric
    match: name == "t"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host]
    dry_run: {dry_run}
    actions:
      - type: alert
      - type: heal
        params: {{target: "{{{{ host }}}}"}}
        cooldown: 10m
"""


def test_every_action_carries_its_decision(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES.format(dry_run="false")))
    run.windows("hot", {"host": "web-1"}, [2, 0, 2])
    alert, heal, resolved, again = run.actions
    for action in run.actions:
        decision = action.decision
        assert decision is not None and decision.outcome == "sent" and decision.reason is None
        assert decision.action_id == action.id
        assert decision.rule_id == "hot" and decision.rule_version == action.rule_version
        assert decision.fingerprint == key_of("hot", host="web-1")
    assert heal.target == "web-1" and alert.target == "host=web-1"
    assert heal.decision.values == {"max": 2.0, "count": 1.0}  # type: ignore[union-attr]
    assert (resolved.status, resolved.decision.because) == ("resolved", "resolved")  # type: ignore[union-attr]
    # the heal's cooldown held back its repeat: a decision without an action
    (cooled,) = [d for d in run.outcomes[2].decisions if d.reason]
    assert (cooled.action_type, cooled.outcome, cooled.reason) == ("heal", "suppressed", "cooldown")
    assert cooled.suppressed_by["cooldown"] == "10m"
    assert again.type == "alert"


@pytest.mark.parametrize("where", ["rule", "context"])
def test_dry_run_records_would_be_actions_and_sends_none(tmp_path: Path, where: str) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES.format(dry_run=str(where == "rule").lower()))
    run = Run(rulebook, DecisionContext(dry_run=where == "context"))
    sent = run.windows("hot", {"host": "web-1"}, [2, 0, 2])
    assert sent == []
    decisions = [d for o in run.outcomes for d in o.decisions]
    assert [(d.action_type, d.status, d.outcome, d.reason) for d in decisions] == [
        ("alert", "firing", "dry_run", "dry_run"),
        ("heal", "firing", "dry_run", "dry_run"),
        ("alert", "resolved", "dry_run", "dry_run"),
        ("alert", "firing", "dry_run", "dry_run"),
        ("heal", "firing", "suppressed", "cooldown"),  # as it would have been
    ]
    source = "rule" if where == "rule" else "OPSRULES_DRY_RUN"
    assert decisions[0].suppressed_by == {"dry_run": source}
