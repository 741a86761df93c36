"""Loading rule files: every error, with the right line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from tests.processors.rulebook_factory import REPO_RULES

GOOD_RULE = """\
rules:
  - id: host_cpu_saturated
    source: metric
    match: name == "system.cpu.utilization"
    window: {size: 1m, stat: mean}
    condition: value > 0.9
    for: 5m
    group_by: [host]
"""


def load_text(tmp_path: Path, text: str, name: str = "r.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    result = load_rules([path])
    return [str(e).replace(str(tmp_path) + "/", "") for e in result.errors]


def test_the_shipped_rules_load() -> None:
    result = load_rules([REPO_RULES])
    assert result.ok, [str(e) for e in result.errors]
    ids = {loaded.rule.id for loaded in result.rules}
    assert {
        "host_cpu_saturated",
        "host_memory_pressure",
        "host_disk_full",
        "service_down",
        "error_burst",
    } <= ids


def test_a_good_rule_has_a_version_that_follows_its_content(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD_RULE)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "a.yaml").write_text(GOOD_RULE.replace("0.9", "0.8"))
    first = load_rules([tmp_path / "a.yaml"]).rules[0]
    second = load_rules([tmp_path / "b" / "a.yaml"]).rules[0]
    assert first.version != second.version
    assert first.version == load_rules([tmp_path / "a.yaml"]).rules[0].version
    assert first.rule.for_ms == 300_000 and first.rule.window is not None
    assert first.rule.window.size_ms == 60_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD_RULE.replace("    for: 5m\n", "    for: 5m\n    conditon: x > 1\n"),
            [
                "r.yaml:8:5: rule host_cpu_saturated: unknown field 'conditon' (did you mean "
                "'condition'?)"
            ],
        ),
        (
            GOOD_RULE.replace("for: 5m", "for: 5 minutes"),
            [
                "r.yaml:7:5: rule host_cpu_saturated: for: '5 minutes' is not a duration; use a "
                "number and a unit: ms, s, m, h, d, w (e.g. '30s', '5m', '1h30m')"
            ],
        ),
        (
            GOOD_RULE.replace("size: 1m, stat: mean", "size: 1m, stat: median"),
            [
                "r.yaml:5:24: rule host_cpu_saturated: window.stat: Input should be "
                "'count', 'sum', "
                "'min', 'max', 'mean', 'last', 'rate', 'p50', 'p90' or 'p99'"
            ],
        ),
        (
            GOOD_RULE.replace("source: metric", "source: metrics"),
            [
                "r.yaml:3:5: rule host_cpu_saturated: source: Input should be 'metric', 'log', "
                "'security', 'health', 'event' or 'signal'"
            ],
        ),
        (
            GOOD_RULE.replace("id: host_cpu_saturated", "id: Host-CPU"),
            ["r.yaml:2:5: rule Host-CPU: id: String should match pattern '^[a-z][a-z0-9_]*$'"],
        ),
        (
            GOOD_RULE.replace("    source: metric\n", ""),
            ["r.yaml:2:5: rule host_cpu_saturated: missing required field 'source'"],
        ),
        (
            GOOD_RULE.replace('match: name == "system.cpu.utilization"', "match: nme == 'x'"),
            [
                "r.yaml:4:12: rule host_cpu_saturated: match: unknown field 'nme' (did you mean "
                "'name'?)"
            ],
        ),
        (
            GOOD_RULE.replace("condition: value > 0.9", "condition: value >"),
            ["r.yaml:6:23: rule host_cpu_saturated: condition: expected an operand after '>'"],
        ),
        (
            GOOD_RULE.replace("group_by: [host]", "group_by: [hots]"),
            [
                "r.yaml:8:16: rule host_cpu_saturated: group_by: unknown field 'hots' for source "
                "metric (did you mean 'host'?)"
            ],
        ),
        (
            GOOD_RULE + "  - id: host_cpu_saturated\n    source: log\n",
            [
                "r.yaml:9:5: rule host_cpu_saturated: duplicate rule id (first defined at "
                "r.yaml:2:5)"
            ],
        ),
        (
            "rules:\n  - id: x\n    source: metric\n    actions:\n      - type: page\n",
            [
                "r.yaml:5:9: rule x: actions.type: Input should be 'alert', 'heal', 'scale' or "
                "'incident'"
            ],
        ),
        (
            "rules: [\n",
            ["r.yaml:2:1: YAML syntax: expected the node content, but found '<stream end>'"],
        ),
        ("- just a list\n", ["r.yaml:1:1: a rule file is a mapping with a 'rules:' list"]),
        ("rulez: []\n", ["r.yaml:1:1: unknown field 'rulez' (did you mean 'rules'?)"]),
        (
            'rules:\n  - id: x\n    description: "a\x07"\n',
            [
                "r.yaml:3:20: YAML syntax: unacceptable character U+0007: special characters "
                "are not allowed"
            ],
        ),
        ("rules: 5\n", ["r.yaml:1:8: 'rules' must be a list"]),
        (
            "rules:\n  - just text\n",
            ["r.yaml:2:5: Input should be a valid dictionary or instance of Rule"],
        ),
    ],
)
def test_broken_files_report_every_error_with_position(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert load_text(tmp_path, text) == expected


def test_every_error_of_every_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        GOOD_RULE.replace("for: 5m", "for: soon").replace("group_by: [host]", "group_by: [x]")
    )
    (tmp_path / "b.yaml").write_text("rules:\n  - id: y\n    source: log\n    match: body ==\n")
    errors = [str(e) for e in load_rules([tmp_path]).errors]
    assert len(errors) == 3
    assert errors[0].startswith(f"{tmp_path}/a.yaml:7:5: rule host_cpu_saturated: for:")
    assert errors[1].startswith(f"{tmp_path}/a.yaml:8:16: rule host_cpu_saturated: group_by:")
    assert errors[2].startswith(f"{tmp_path}/b.yaml:4:19: rule y: match:")


def test_for_without_window_is_an_error_even_with_other_errors(tmp_path: Path) -> None:
    text = "rules:\n  - id: X\n    source: log\n    match: severity_number >= 21\n    for: 5m\n"
    assert load_text(tmp_path, text) == [
        "r.yaml:2:5: rule X: id: String should match pattern '^[a-z][a-z0-9_]*$'",
        "r.yaml:5:5: rule X: for: needs a window: a rule on single records fires on the record",
    ]


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"rules: [\xff]\n")
    assert [str(e) for e in load_rules([tmp_path]).errors] == [
        f"{tmp_path}/r.yaml:1:1: not UTF-8 text (byte 8)"
    ]


def test_a_file_given_twice_is_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(GOOD_RULE)
    result = load_rules([tmp_path, tmp_path / "r.yaml"])
    assert result.ok and len(result.rules) == 1


def test_a_version_leaves_out_fields_at_their_defaults(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD_RULE)
    (tmp_path / "b").mkdir()
    explicit = GOOD_RULE + "    exceptions: []\n    tags: []\n    enabled: true\n"
    (tmp_path / "b" / "a.yaml").write_text(explicit)
    first = load_rules([tmp_path / "a.yaml"]).rules[0].version
    assert load_rules([tmp_path / "b" / "a.yaml"]).rules[0].version == first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # TypeError: a list is not hashable (``source not in SOURCE_FIELDS``)
            "rules:\n  - id: x\n    source: [metric]\n",
            [
                "r.yaml:3:5: rule x: source: Input should be 'metric', 'log', 'security', "
                "'health', 'event' or 'signal'"
            ],
        ),
        (
            "rules:\n  - id: x\n    type: sequence\n    source: signal\n    group_by: [host]\n"
            "    sequence: {timeframe: 1m, steps: [{source: {a: 1}}, {source: log}]}\n",
            [
                "r.yaml:6:40: rule x: sequence.steps.source: Input should be 'metric', 'log', "
                "'security', 'health', 'event' or 'signal'"
            ],
        ),
        (  # KeyError: a key merged in from an anchor has no position of its own
            "base: &b {source: metric, sourze: x}\nrules:\n  - <<: *b\n    id: x\n",
            [
                "r.yaml:1:1: unknown field 'base' (allowed: macros, lists, rules, slos, backups, "
                "autoscalers, canaries, inhibit_rules, maintenance_windows)",
                "r.yaml:3:5: rule x: unknown field 'sourze' (did you mean 'source'?)",
            ],
        ),
    ],
)
def test_misshapen_values_are_errors_not_crashes(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert load_text(tmp_path, text) == expected
