"""``opsrules explain``: the compiled form of a rule (text and JSON), unknown ids, and
how stored alert states are attributed to a rule (the live part without Kafka; with
Kafka: tests/integration/test_explain_live.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from processors.ids import fingerprint
from processors.rules.compiler import compile_rulebook
from processors.rules.loader import load_rules
from streams.cli import main
from streams.explain import rule_alerts

RULES = Path(__file__).resolve().parent / "ruletest_cases" / "rules"


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", "--rules", str(RULES), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _compiled() -> tuple[dict[str, Any], Any]:
    loaded = load_rules([RULES])
    assert loaded.ok
    return {item.rule.id: item for item in loaded.rules}, compile_rulebook(loaded.rules)


def test_json_shows_the_rule_as_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSRULES_TOPIC_PREFIX", "prod.")
    code, out, _ = _explain(capsys, "cpu_hot", "--json")
    assert code == 0
    info = json.loads(out)
    items, rulebook = _compiled()
    spec_id = rulebook.rules["cpu_hot"].spec_id
    assert spec_id is not None and spec_id == rulebook.rules["cpu_idle"].spec_id
    assert info == {
        "id": "cpu_hot",
        "description": "",
        "file": str(RULES / "rules.yaml"),
        "line": 8,
        "version": items["cpu_hot"].version,
        "enabled": True,
        "source": "metric",
        "topic": "prod.ops.metrics",
        # the macro expanded, the exception folded in, the list inlined
        "match": 'name == "system.cpu.utilization" and not (host in ["lab-1"])',
        "condition": "value > 0.9",
        "window": {
            "size_ms": 60_000,
            "hop_ms": 60_000,
            "grace_ms": 10_000,
            "stat": "max",
            "value": "value",
            "spec_id": spec_id,
            "stats": ["count", "max"],
            "empty_windows": 2,
            "shared_with": ["cpu_idle"],
        },
        "group_by": ["host"],
        "for_ms": 120_000,
        "keep_firing_for_ms": 0,
        "resolves": True,
        "severity": "warning",
        "labels": {},
        "annotations": {"summary": "CPU {{ value }} on {{ host }}"},
        "tags": [],
        "actions": [
            {"type": "alert", "topic": "prod.ops.actions.alert", "params": {}, "cooldown_ms": 0},
            {
                "type": "heal",
                "topic": "prod.ops.actions.heal",
                "params": {"host": "{{ host }}"},
                "cooldown_ms": 0,
            },
        ],
        "other": {},  # any other field the rule sets, by name (none here)
        "signals": {
            "topic": "prod.ops.signals",
            "kind": "window",
            "key": ["host"],
            "rules": ["cpu_hot", "cpu_idle"],
        },
    }


def test_text_reads_like_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "cpu_hot")
    assert code == 0
    items, rulebook = _compiled()
    spec_id = rulebook.rules["cpu_hot"].spec_id
    assert out.splitlines() == [
        f"rule cpu_hot  {RULES}/rules.yaml:8  version {items['cpu_hot'].version}",
        "source:      metric, read from topic ops.metrics",
        'match:       name == "system.cpu.utilization" and not (host in ["lab-1"])',
        "condition:   value > 0.9",
        "window:      tumbling, size 1m, hop 1m, grace 10s; stat max of value",
        f"             spec {spec_id} (stats count, max; shared with cpu_idle; up to 2 empty "
        "windows after a series stops)",
        "group_by:    host",
        "timing:      for 2m, keep_firing_for 0s, resolved notification",
        "severity:    warning",
        "annotations: summary: CPU {{ value }} on {{ host }}",
        "action:      alert -> ops.actions.alert",
        'action:      heal -> ops.actions.heal params {"host": "{{ host }}"}',
        "signals:     kind window on ops.signals, one per closed window of a series, key host, "
        "rules [cpu_hot, cpu_idle]",
    ]


def test_a_rule_on_single_records_and_a_disabled_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "fatal_log", "--json")
    info = json.loads(out)
    assert code == 0
    assert info["window"] is None
    assert (info["for_ms"], info["keep_firing_for_ms"], info["resolves"]) == (0, 300_000, False)
    assert info["signals"] == {
        "topic": "ops.signals",
        "kind": "record",
        "key": ["service"],
        "rules": ["fatal_log"],
    }
    code, out, _ = _explain(capsys, "cpu_retired")
    assert code == 0
    assert out.splitlines()[0].endswith("(disabled: checked, not run)")
    assert "window:      none: every matching record fires at once" in out
    assert "signals:" not in out  # a disabled rule is carried by nothing


def test_an_unknown_rule_says_which_one_was_meant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(capsys, "cpu_hott")
    assert (code, out) == (1, "")
    assert f"no rule 'cpu_hott' in {RULES} (did you mean 'cpu_hot'?)" in err


def test_broken_rules_exit_2_with_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x\n    source: metric\n    match: nme\n")
    assert main(["explain", "--rules", str(tmp_path), "x"]) == 2
    assert "bad.yaml:4:12: rule x: match: unknown field 'nme'" in capsys.readouterr().err
    assert main(["explain", "--rules", str(tmp_path / "nowhere"), "x"]) == 2
    assert "nowhere: no such directory" in capsys.readouterr().err


def test_live_without_a_broker_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--bootstrap-servers", "127.0.0.1:1", "explain", "--rules", str(RULES)]
    assert main([*argv, "cpu_hot", "--live", "--timeout", "2"]) == 2
    assert "no Kafka broker answered at 127.0.0.1:1" in capsys.readouterr().err


def _state(phase: str, since_ms: int | None, **extra: Any) -> dict[str, Any]:
    alert = {
        "phase": phase,
        "active_since_ms": since_ms,
        "last_eval_ms": since_ms,
        "last_true_ms": since_ms,
        "keep_firing_since_ms": None,
    }
    return {"alert": alert, "cooldowns": {}, **extra}


def test_states_are_attributed_by_their_rule_id_or_by_the_rules_actions() -> None:
    web1 = fingerprint("cpu_hot", {"host": "web-1"})  # fired: an action names it
    web2 = fingerprint("cpu_hot", {"host": "web-2"})  # pending, its state names its rule
    web3 = fingerprint("cpu_hot", {"host": "web-3"})  # pending, nothing names it
    idle = fingerprint("cpu_idle", {"host": "web-1"})  # another rule's, fired
    other = fingerprint("cpu_idle", {"host": "web-2"})  # another rule's, named
    states = {
        web1: _state("firing", 1_000),
        web2: _state("pending", 2_000, rule_id="cpu_hot", group={"host": "web-2"}),
        web3: _state("pending", 3_000),
        idle: _state("firing", 4_000),
        other: _state("pending", 5_000, rule_id="cpu_idle"),
    }
    actions: list[Any] = [
        {"rule_id": "cpu_hot", "fingerprint": web1, "group": {"host": "web-1"}},
        {"rule_id": "cpu_idle", "fingerprint": idle, "group": {"host": "web-1"}},
        "not an action",
        {"rule_id": "cpu_hot"},
    ]
    alerts, unattributed = rule_alerts("cpu_hot", states, actions)
    got = {a["fingerprint"]: (a["phase"], a["active_since_ms"], a["group"]) for a in alerts}
    assert got == {
        web1: ("firing", 1_000, {"host": "web-1"}),
        web2: ("pending", 2_000, {"host": "web-2"}),
    }
    assert unattributed == 1  # web-3
    since = {a["fingerprint"]: a["active_since"] for a in alerts}
    assert since[web1] == "1970-01-01T00:00:01.000Z"
