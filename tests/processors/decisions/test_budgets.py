"""Action budgets: per rule across alerts, per target across rules, sliding windows,
dry runs counting, and a replayed decision not counting against itself."""

from __future__ import annotations

from pathlib import Path

from processors.decisions.ledger import Ledger, budget_key
from processors.records import Decision
from processors.timestamps import format_ts
from tests.processors.decisions.decision_runs import Run, minute_ms
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: disk_full
    source: metric
    match: name == "disk"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {command: clean, target: "{{ host }}"}
        budgets:
          - {max: 2, per: 10m}               # this rule: 2 heals per 10 minutes
          - {max: 1, per: 30m, by: target}   # any rule: 1 heal per host per 30 minutes
  - id: inode_full
    source: metric
    match: name == "inodes"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {command: clean, target: "{{ host }}"}
        budgets: [{max: 1, per: 30m, by: target}]
"""


def heals(run: Run, rule: str, host: str, minute: int) -> list[str | None]:
    """Fire ``rule`` on ``host`` at ``minute`` (and resolve it a minute later)."""
    fired = run.window(rule, {"host": host}, minute, 2)
    run.window(rule, {"host": host}, minute + 1, 0)
    return [d.reason for d in fired.decisions]


def test_a_rule_budget_spans_alerts_and_frees_up_as_the_window_slides(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    assert heals(run, "disk_full", "a", 0) == [None]
    assert heals(run, "disk_full", "b", 2) == [None]
    over = run.window("disk_full", {"host": "c"}, 4, 2).decisions[0]
    assert over.reason == "budget"
    assert over.suppressed_by == {
        "budget": "2 per 10m",
        "by": "rule",
        "subject": "disk_full",
        "used": 2,
    }
    run.window("disk_full", {"host": "c"}, 5, 0)
    # windows end a minute after they start: minute 0's heal, decided at 1, is in the
    # window (0, 10] of minute 9's decision and out of the window (1, 11] of minute 10's
    assert heals(run, "disk_full", "c", 9) == ["budget"]
    assert heals(run, "disk_full", "c", 11) == [None]


def test_a_target_budget_spans_rules(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    assert heals(run, "disk_full", "a", 0) == [None]
    assert heals(run, "inode_full", "a", 2) == ["budget"]  # the same host
    assert heals(run, "inode_full", "b", 2) == [None]  # another host
    assert heals(run, "inode_full", "a", 31) == [None]  # 30 minutes later


def test_dry_run_decisions_count_and_replays_do_not_count_themselves() -> None:
    ledger = Ledger()

    def decision(action_id: str, minute: int, outcome: str) -> Decision:
        return Decision(
            action_id=action_id,
            action_type="heal",
            action_index=0,
            status="firing",
            outcome=outcome,  # type: ignore[arg-type]
            reason=None if outcome == "sent" else ("dry_run" if outcome == "dry_run" else "budget"),
            because="firing",
            rule_id="r",
            rule_version="v",
            fingerprint="f",
            target="web-1",
            ts=format_ts(minute_ms(minute)),
        )

    ledger.record(decision("a", 1, "sent"))
    ledger.record(decision("b", 2, "dry_run"))
    ledger.record(decision("c", 3, "suppressed"))  # not sent: not counted
    ledger.record(decision("a", 1, "sent"))  # read back from the topic: idempotent
    key = budget_key("rule", "r", None, "heal")
    assert ledger.count(key, minute_ms(0), minute_ms(5), exclude_id="x") == 2
    assert ledger.count(key, minute_ms(0), minute_ms(5), exclude_id="a") == 1
    assert ledger.count(key, minute_ms(1), minute_ms(5), exclude_id="x") == 1  # (since, until]
    assert ledger.count(budget_key("target", "other", "web-1", "heal"), 0, minute_ms(5), "x") == 2
