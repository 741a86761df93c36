"""The rule types in rule files: every mistake reported at its place, as `opsrules
check` prints it; valid rules compile into the plans the firehose runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from processors.rules.loader import load_rules, rule_version
from processors.rules.model import Rule
from tests.processors.rulebook_factory import rulebook_from_yaml

BROKEN = Path(__file__).parent / "rule_types" / "broken.yaml"

EXPECTED = [
    "5:17: rule a_freq: frequency.at_least: Input should be greater than or equal to 1",
    "5:45: rule a_freq: unknown field 'treshold' (allowed: at_least, timeframe, grace)",
    "6:5: rule no_settings: type spike needs its settings under 'spike:' (rules/README.md)",
    "11:5: rule wrong_settings: cardinality: settings of type cardinality, but the rule is of "
    "type threshold (write 'type: cardinality', or remove them)",
    "15:5: rule with_window: window: a flatline rule has its own timeframe "
    "(flatline.timeframe); window is for threshold rules",
    "16:5: rule with_window: condition: a flatline rule has no condition: its flatline "
    "settings are the test (choose records with match)",
    "22:21: rule bad_field: change.field: 'attributes.version + 1' is not a field path "
    "(write e.g. host or labels.state)",
    "26:5: rule unknown_field: cardinality: give above, below or both",
    "30:25: rule terms: new_term.fields: unknown field 'hots' for source log (did you mean "
    "'host'?)",
    "31:5: rule seq_source: a sequence rule joins the step signals of its steps: write "
    "'source: signal' (each step has its own source)",
    "39:5: rule seq_steps: match: a sequence rule matches records in its steps (sequence.steps)",
    "45:18: rule seq_steps: sequence step 1 match: unknown field 'nmae' (did you mean 'name'?)",
    "46:11: rule seq_steps: sequence step 2: records of source security have no field "
    "'host'; say where the join value is: fields: {host: <field>}",
    "47:20: rule seq_steps: sequence step 2 fields: 'hots' is not one of group_by ['host']",
    "49:26: rule seq_steps: sequence step 3 fields.host: unknown field 'entity.name' for "
    "source event (did you mean 'entity'?)",
]


def test_every_mistake_in_rule_types_at_its_line_and_column() -> None:
    errors = [str(e).removeprefix(f"{BROKEN}:") for e in load_rules([BROKEN]).errors]
    assert errors == EXPECTED


VALID = """
macros:
  failed_login: event.category == "authentication" and event.outcome == "failure"
rules:
  - id: burst
    type: frequency
    source: security
    match: failed_login
    group_by: [source.ip]
    frequency: {at_least: 20, timeframe: 5m}
    exceptions: [source.ip == "10.0.0.1"]
  - id: seq
    type: sequence
    source: signal
    group_by: [host]
    sequence:
      ordered: false
      timeframe: 10m
      steps:
        - {source: security, match: failed_login, fields: {host: host.name}}
        - {source: metric, match: name == "system.cpu.utilization"}
        - {source: signal, match: kind == "anomaly"}
"""


def test_typed_rules_compile_into_per_source_plans_with_macros_expanded(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, VALID)
    security = rulebook.plan("security")
    assert [r.id for r in security.typed] == ["burst"] and security.record_rules == ()
    burst = rulebook.rules["burst"]
    assert "10.0.0.1" in burst.rule.match and "authentication" in burst.rule.match
    assert burst.spec_id is None and not burst.timing.resolves  # decided like a record rule
    assert burst.timing.keep_firing_for_ms == 300_000
    steps = {source: rulebook.plan(source).steps for source in ("security", "metric", "signal")}
    assert [(s.rule_id, s.index) for p in steps.values() for s in p] == [
        ("seq", 0),
        ("seq", 1),
        ("seq", 2),
    ]
    sequence = rulebook.rules["seq"].rule.sequence
    assert sequence is not None and "authentication" in sequence.steps[0].match  # expanded
    assert [r.id for r in rulebook.plan("signal").sequences] == ["seq"]
    assert rulebook.plan("signal").record_rules == () and rulebook.reads_signals
    assert steps["security"][0].join[0]({"host": {"name": "web-1"}}) == "web-1"


def test_a_threshold_rule_keeps_its_version_and_type_defaults_to_threshold() -> None:
    rule = Rule.model_validate({"id": "r", "source": "log"})
    assert rule.type == "threshold"
    assert rule_version(rule) == rule_version(Rule.model_validate({"id": "r", "source": "log"}))
    assert "type" not in rule.model_dump(exclude_defaults=True)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"timeframe": "1m", "ratio": 1}, "ratio: Input should be greater than 1"),
        ({"timeframe": "1m", "ratio": 2, "direction": "sideways"}, "direction: Input should be"),
    ],
)
def test_spike_settings_are_checked(tmp_path: Path, block: dict[str, object], message: str) -> None:
    path = tmp_path / "r.yaml"
    rule = {"id": "s", "type": "spike", "source": "log", "spike": block}
    path.write_text(json.dumps({"rules": [rule]}))
    errors = [str(e) for e in load_rules([path]).errors]
    assert len(errors) == 1 and message in errors[0], errors
