"""Loading canary analyses (``canaries:``): every error at its line and column under the
``canary <id>:`` prefix (each check's expressions checked against its own source's
records, the deploy ``match`` against ops.events'), and the two rules of ``type:
canary`` each entry compiles into, ``<id>_rollback`` and ``<id>_promote``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.rules.loader import load_rules
from processors.rules.model import Rule
from tests.processors.rules.rule_file import errors_of, load, rules_of

CANARY = """\
canaries:
  - id: checkout_canary
    match: entity == "checkout"
    checks:
      - name: latency_p99
        match: name == "http.server.request.duration" and service == "checkout"
        stat: p99
        max_ratio: 1.5
"""
# a second check, of health checks (lines 9-14 after CANARY)
HEALTH_CHECK = """\
      - name: db_health
        source: health
        match: check == "db"
        value: status == "fail"
        stat: error_ratio
        max_ratio: 2
        track: instance
"""
IDS = ["checkout_canary_rollback", "checkout_canary_promote"]
MADE_FROM_CANARIES = (
    "type canary: a canary analysis's rules are made from its entry under 'canaries:' "
    '(rules/README.md, "Canary analysis")'
)
ROLLBACK_SUMMARY = (
    "canary {{ version }} of {{ target }} failed: {{ reason }}; rolling back to "
    "{{ previous_version }}"
)
PROMOTE_SUMMARY = (
    "canary {{ version }} of {{ target }} passed {{ judged_intervals }} intervals: {{ command }}"
)


def canary_block(rule: Rule) -> dict[str, Any]:
    assert rule.canary is not None
    return rule.canary.model_dump()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # an unknown field of the entry itself
            CANARY + "    intervls: 3\n",
            [
                "r.yaml:9:5: canary checkout_canary: unknown field 'intervls' (did you mean "
                "'intervals'?)"
            ],
        ),
        (  # inside a check
            CANARY + "        critcal: true\n",
            [
                "r.yaml:9:9: canary checkout_canary: unknown field 'critcal' (did you mean "
                "'critical'?)"
            ],
        ),
        (  # inside the overrides of one rule, a flow mapping: at the key
            CANARY + "    rollback: {severty: critical}\n",
            [
                "r.yaml:9:16: canary checkout_canary: unknown field 'severty' (did you mean "
                "'severity'?)"
            ],
        ),
        (  # a check that can never fail: at the check
            CANARY.replace("        max_ratio: 1.5\n", "        min_difference: 0.1\n"),
            [
                "r.yaml:5:9: canary checkout_canary: checks: give max_ratio, mann_whitney or "
                "both: a check must be able to fail"
            ],
        ),
        (  # a confidence under a coin toss
            CANARY + "        mann_whitney: 0.4\n",
            [
                "r.yaml:9:9: canary checkout_canary: checks.mann_whitney: Input should be "
                "greater than 0.5"
            ],
        ),
        (
            CANARY + "    interval: 1minute\n",
            [
                "r.yaml:9:5: canary checkout_canary: interval: '1minute' is not a duration; use "
                "a number and a unit: ms, s, m, h, d, w (e.g. '30s', '5m', '1h30m')"
            ],
        ),
        (
            CANARY.split("    checks:")[0] + "    checks: []\n",
            [
                "r.yaml:4:5: canary checkout_canary: checks: List should have at least 1 item "
                "after validation, not 0"
            ],
        ),
        (  # a metric check's match: metrics have no 'servce'
            CANARY.replace(" service ==", " servce =="),
            [
                "r.yaml:6:59: canary checkout_canary: checks[0].match: unknown field 'servce' "
                "(did you mean 'service'?)"
            ],
        ),
        (  # a health check's match, against health checks' fields: they have no 'name'
            CANARY + HEALTH_CHECK.replace('check == "db"', 'name == "db"'),
            [
                "r.yaml:11:16: canary checkout_canary: checks[1].match: unknown field 'name' "
                "for source health"
            ],
        ),
        (  # and its value
            CANARY + HEALTH_CHECK.replace('value: status == "fail"', 'value: stats == "fail"'),
            [
                "r.yaml:12:16: canary checkout_canary: checks[1].value: unknown field 'stats' "
                "(did you mean 'status'?)"
            ],
        ),
        (  # the deploy events' match, against ops.events records: no 'entty'
            CANARY.replace('entity == "checkout"', 'entty == "checkout"'),
            [
                "r.yaml:3:12: canary checkout_canary: match: unknown field 'entty' (did you "
                "mean 'entity'?)"
            ],
        ),
        (  # a template of rollback that reads a name a canary match lacks
            CANARY
            + '    rollback:\n      annotations:\n        summary: "{{ previous_versio }}"\n',
            [
                "r.yaml:11:18: canary checkout_canary: annotations.summary: template reads "
                "unknown field 'previous_versio' (did you mean 'previous_version'?)"
            ],
        ),
        (
            CANARY + '    promote: {annotations: {summary: "{{ version | nosuch }}"}}\n',
            [
                "r.yaml:9:38: canary checkout_canary: annotations.summary: template does not "
                "parse: No filter named 'nosuch'. (line 1)"
            ],
        ),
        (  # the rule is in the same file, after the canary; rules are read first
            CANARY + "rules:\n  - id: checkout_canary_promote\n    source: event\n",
            [
                "r.yaml:2:5: canary checkout_canary: its rule checkout_canary_promote has the "
                "id of a rule at r.yaml:10:5"
            ],
        ),
        (  # a canary's rules are made from its entry, never written by hand
            "rules:\n  - id: my_canary\n    source: event\n    type: canary\n"
            "    canary: {canary: x, verdict: rollback, track: labels.track, canary_value: c, "
            "baseline_value: b, interval: 1m, intervals: 3, max_failures: 1, warmup: 0s, "
            "min_samples: 1, checks: [{name: a, max_ratio: 2}]}\n",
            [f"r.yaml:4:11: rule my_canary: {MADE_FROM_CANARIES}"],
        ),
    ],
)
def test_a_broken_canary_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert errors_of(tmp_path, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  - id: my_canary\n    source: event\n    type: canary\n",
        "rules:\n  - id: my_canary\n    source: event\n"
        "    canary: {canary: x, verdict: rollback, track: labels.track, canary_value: c, "
        "baseline_value: b, interval: 1m, intervals: 3, max_failures: 1, warmup: 0s, "
        "min_samples: 1, checks: [{name: a, max_ratio: 2}]}\n",
    ],
)
def test_a_hand_written_canary_rule_is_pointed_at_canaries_whatever_it_lacks(
    tmp_path: Path, text: str
) -> None:
    [error] = errors_of(tmp_path, text)
    assert error.endswith(MADE_FROM_CANARIES)


def test_a_track_that_a_checks_source_lacks_is_refused_whatever_the_checks_order(
    tmp_path: Path,
) -> None:
    # health checks have no labels: the canary's track (labels.track) is not theirs, and
    # such a check must name its own
    without_track = HEALTH_CHECK.replace("        track: instance\n", "")
    [error] = errors_of(tmp_path, CANARY + without_track)
    assert "track: unknown field 'labels.track' for source health" in error


def test_two_checks_of_one_name_are_refused(tmp_path: Path) -> None:
    text = CANARY + "      - name: latency_p99\n        stat: p50\n        max_ratio: 2\n"
    assert errors_of(tmp_path, text) != []


def test_every_error_of_every_canary_is_collected_in_file_order(tmp_path: Path) -> None:
    text = (
        CANARY.replace('entity == "checkout"', 'entty == "checkout"')
        + "        mann_whitney: 0.4\n"
        + "  - id: search_canary\n"
        + "    checks: [{name: errors, max_ratio: 2, critcal: true}]\n"
        + "rules:\n"
        + "  - id: search_canary_rollback\n"
        + "    source: event\n"
    )
    assert errors_of(tmp_path, text) == [
        "r.yaml:3:12: canary checkout_canary: match: unknown field 'entty' (did you mean "
        "'entity'?)",
        "r.yaml:9:9: canary checkout_canary: checks.mann_whitney: Input should be greater than 0.5",
        "r.yaml:10:5: canary search_canary: its rule search_canary_rollback has the id of a "
        "rule at r.yaml:13:5",
        "r.yaml:11:43: canary search_canary: unknown field 'critcal' (did you mean 'critical'?)",
    ]
    # nothing of a canary its model or expressions refuse is loaded
    assert [item.rule.id for item in load(tmp_path, text).rules] == ["search_canary_rollback"]


def test_a_canary_compiles_into_a_rollback_and_a_promote_rule(tmp_path: Path) -> None:
    result = load(tmp_path, CANARY + HEALTH_CHECK)
    assert result.ok, [str(e) for e in result.errors]
    assert [(item.rule.id, item.line) for item in result.rules] == [(i, 2) for i in IDS]
    rollback, promote = (item.rule for item in result.rules)
    for rule in (rollback, promote):
        assert (rule.type, rule.source, rule.match) == (
            "canary",
            "event",
            'type == "deploy" and (entity == "checkout")',  # deploy events of checkout
        )
        assert (rule.group_by, rule.keep_firing_for_ms, rule.for_ms, rule.tags) == (
            ["entity"],
            0,  # a verdict is said once
            0,
            ["canary"],
        )
        assert (rule.labels, rule.enabled, rule.condition) == ({}, True, "true")
    assert (rollback.severity, promote.severity) == ("warning", "info")
    assert rollback.description == "checkout_canary: the analysis says rollback"
    assert promote.description == "checkout_canary: the analysis says promote"
    assert rollback.annotations == {"summary": ROLLBACK_SUMMARY}
    assert promote.annotations == {"summary": PROMOTE_SUMMARY}
    assert [(a.type, a.params) for a in rollback.actions] == [
        ("alert", {}),
        ("heal", {"command": "rollback", "target": "{{ target }}", "to": "{{ previous_version }}"}),
    ]
    assert [(a.type, a.params) for a in promote.actions] == [
        ("heal", {"command": "{{ command }}", "target": "{{ target }}", "version": "{{ version }}"})
    ]
    block = canary_block(rollback)
    assert block == {
        "canary": "checkout_canary",
        "verdict": "rollback",
        "track": "labels.track",
        "canary_value": "canary",
        "baseline_value": "baseline",
        "interval_ms": 60_000,  # the defaults: 1m, 10 intervals, 2 failures, 10 samples
        "intervals": 10,
        "max_failures": 2,
        "warmup_ms": 0,
        "min_samples": 10,
        "grace_ms": 10_000,
        "checks": [
            {
                "name": "latency_p99",
                "source": "metric",
                "match": 'name == "http.server.request.duration" and service == "checkout"',
                "value": "value",  # a metric's sample is its value
                "track": "labels.track",  # the canary's
                "stat": "p99",
                "direction": "increase",
                "max_ratio": 1.5,
                "min_difference": 0.0,
                "mann_whitney": None,
                "critical": False,
                "nodata": "ignore",
            },
            {
                "name": "db_health",
                "source": "health",
                "match": 'check == "db"',
                "value": 'status == "fail"',
                "track": "instance",  # its own
                "stat": "error_ratio",
                "direction": "increase",
                "max_ratio": 2.0,
                "min_difference": 0.0,
                "mann_whitney": None,
                "critical": False,
                "nodata": "ignore",
            },
        ],
        "stages": [],  # no traffic steps
    }
    assert canary_block(promote) == {**block, "verdict": "promote"}  # the same analysis
    assert len({item.version for item in result.rules}) == 2


def test_a_checks_value_defaults_to_the_metrics_value_or_else_1(tmp_path: Path) -> None:
    text = CANARY + HEALTH_CHECK.replace('        value: status == "fail"\n', "")
    rules = rules_of(tmp_path, text)
    checks = canary_block(rules["checkout_canary_rollback"])["checks"]
    assert [(c["source"], c["value"]) for c in checks] == [("metric", "value"), ("health", "1")]


def test_the_entrys_settings_are_in_its_canary_block_durations_in_ms(tmp_path: Path) -> None:
    text = CANARY + (
        "    track: labels.deployment_track\n"
        "    canary: green\n"
        "    baseline: blue\n"
        "    interval: 30s\n"
        "    intervals: 20\n"
        "    warmup: 2m\n"
        "    max_failures: 3\n"
        "    min_samples: 50\n"
        "    grace: 15s\n"
    )
    text = text.replace(
        "        max_ratio: 1.5\n",
        "        max_ratio: 1.5\n        min_difference: 0.05\n        mann_whitney: 0.98\n"
        "        direction: either\n        critical: true\n        nodata: fail\n",
    )
    block = canary_block(rules_of(tmp_path, text)["checkout_canary_promote"])
    assert {k: v for k, v in block.items() if k != "checks"} == {
        "canary": "checkout_canary",
        "verdict": "promote",
        "track": "labels.deployment_track",
        "canary_value": "green",
        "baseline_value": "blue",
        "interval_ms": 30_000,
        "intervals": 20,
        "max_failures": 3,
        "warmup_ms": 120_000,
        "min_samples": 50,
        "grace_ms": 15_000,
        "stages": [],
    }
    [check] = block["checks"]
    assert {k: check[k] for k in ("direction", "min_difference", "mann_whitney")} == {
        "direction": "either",
        "min_difference": 0.05,
        "mann_whitney": 0.98,
    }
    assert (check["critical"], check["nodata"]) == (True, "fail")


def test_the_entrys_settings_and_the_overrides_of_each_rule(tmp_path: Path) -> None:
    text = CANARY + (
        "    description: checkout releases\n"
        "    severity: error\n"
        "    labels: {team: shop, tier: '1'}\n"
        "    rollback:\n"
        "      severity: critical\n"
        "      labels: {tier: '0', pager: 'yes'}\n"
        "      annotations:\n"
        '        runbook: "https://runbooks.example/{{ target }}"\n'
        "      actions:\n"
        "        - type: alert\n"
        "        - type: heal\n"
        "          params: {command: rollback, target: '{{ target }}',\n"
        "                   to: '{{ previous_version }}'}\n"
        "          verify: {after: 10m, escalate: {type: incident}}\n"
        "    promote:\n"
        '      annotations: {summary: "{{ target }} {{ version }}: {{ command }}"}\n'
    )
    rules = rules_of(tmp_path, text)
    rollback, promote = rules["checkout_canary_rollback"], rules["checkout_canary_promote"]
    assert rollback.severity == "critical"
    assert rollback.labels == {"team": "shop", "tier": "0", "pager": "yes"}  # rollback's win
    assert rollback.annotations == {  # the default summary stays beside the runbook
        "summary": ROLLBACK_SUMMARY,
        "runbook": "https://runbooks.example/{{ target }}",
    }
    heal = rollback.actions[1]
    assert heal.verify is not None and heal.verify.after_ms == 600_000
    assert rollback.description == "checkout releases: the analysis says rollback"
    # promote keeps the entry's labels and its own severity, info; its summary replaced
    assert (promote.severity, promote.labels) == ("info", {"team": "shop", "tier": "1"})
    assert promote.annotations == {"summary": "{{ target }} {{ version }}: {{ command }}"}
    assert [a.type for a in promote.actions] == ["heal"]


@pytest.mark.parametrize(
    ("extra", "enabled"),
    [
        ("    enabled: false\n", (False, False)),
        ("    rollback: {enabled: false}\n", (False, True)),
        ("    promote: {enabled: false}\n", (True, False)),
        ("    enabled: false\n    promote: {enabled: true}\n", (False, False)),
    ],
)
def test_a_disabled_canary_or_rule_is_loaded_but_not_enabled(
    tmp_path: Path, extra: str, enabled: tuple[bool, bool]
) -> None:
    rules = rules_of(tmp_path, CANARY + extra)
    assert tuple(rules[rule_id].enabled for rule_id in IDS) == enabled


def test_macros_and_lists_are_expanded_in_the_deploy_match_and_the_checks(
    tmp_path: Path,
) -> None:
    text = (
        "macros:\n"
        '  checkout: entity == "checkout"\n'
        '  checkout_requests: name == "http.server.requests" and service == "checkout"\n'
        "lists:\n"
        "  bad_classes: [5xx, 4xx]\n"
        "canaries:\n"
        "  - id: checkout_canary\n"
        '    match: checkout or entity == "checkout-v2"\n'
        "    checks:\n"
        "      - name: error_ratio\n"
        "        match: checkout_requests\n"
        "        value: labels.class in bad_classes\n"
        "        stat: error_ratio\n"
        "        max_ratio: 2\n"
    )
    rules = rules_of(tmp_path, text)
    for rule in rules.values():
        assert rule.match == (
            'type == "deploy" and (entity == "checkout" or entity == "checkout-v2")'
        )
        [check] = canary_block(rule)["checks"]
        assert check["match"] == 'name == "http.server.requests" and service == "checkout"'
        assert check["value"] == 'labels.class in ["5xx", "4xx"]'


def test_a_canary_without_match_analyses_every_deploy(tmp_path: Path) -> None:
    text = CANARY.replace('    match: entity == "checkout"\n', "")
    rules = rules_of(tmp_path, text)
    assert rules["checkout_canary_rollback"].match == 'type == "deploy" and (true)'


def test_the_shipped_canary_loads_into_its_rules() -> None:
    shipped = Path(__file__).resolve().parents[3] / "rules" / "canaries.yaml"
    result = load_rules([shipped])
    assert result.ok, [str(e) for e in result.errors]
    by_id = {item.rule.id: item.rule for item in result.rules}
    search = ["search_canary_rollback", "search_canary_promote", "search_canary_advance"]
    assert list(by_id) == IDS + search  # the advance rule only with stages
    advance = by_id["search_canary_advance"].canary
    assert advance is not None and [s.weight for s in advance.stages] == [10, 50, 100]
    rollback = by_id["checkout_canary_rollback"]
    assert rollback.labels == {"team": "shop"}
    block = canary_block(rollback)
    assert (block["interval_ms"], block["intervals"], block["max_failures"]) == (60_000, 10, 2)
    assert [(c["name"], c["stat"], c["value"]) for c in block["checks"]] == [
        ("error_ratio", "error_ratio", 'labels.status_class == "5xx"'),
        ("latency_p99", "p99", "value"),
    ]
