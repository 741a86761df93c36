"""Loading autoscalers (``autoscalers:``): every error at its line and column under the
``autoscaler <id>:`` prefix, and the rule of ``type: autoscale`` each compiles into."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from processors.rules.model import Rule
from tests.processors.rules.rule_file import errors_of, load

AUTOSCALER = """\
autoscalers:
  - id: checkout_autoscale
    target: checkout
    match: name == "system.cpu.utilization" and service == "checkout"
    per: host
    target_value: 0.6
    max_replicas: 10
"""
MATCH = 'name == "system.cpu.utilization" and service == "checkout"'
SCALE = {"target": "{{ target }}", "replicas": "{{ replicas }}", "from": "{{ current }}"}
SUMMARY = "scale {{ target }} from {{ current }} to {{ replicas }} replicas ({{ reason }})"
HAND_WRITTEN = (
    "rules:\n  - id: x\n    source: metric\n    type: autoscale\n"
    "    autoscale: {target: x, per: host, value: value, window: 1m, target_value: 1, "
    "metric: mean, min_replicas: 1, max_replicas: 2, tolerance: 0.1, behavior: {}}\n"
)


def rule_of(tmp_path: Path, text: str) -> Rule:
    result = load(tmp_path, text)
    assert result.ok, [str(e) for e in result.errors]
    [loaded] = result.rules
    return loaded.rule


def behavior(text: str) -> str:
    """The autoscaler with a ``behavior:`` block (``text`` indented under it)."""
    return AUTOSCALER + "    behavior:\n" + "".join(f"      {line}\n" for line in text.split("\n"))


PREFIX = "autoscaler checkout_autoscale:"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # an unknown field of the autoscaler itself
            AUTOSCALER + "    min_replica: 2\n",
            [f"r.yaml:8:5: {PREFIX} unknown field 'min_replica' (did you mean 'min_replicas'?)"],
        ),
        (  # in behavior
            behavior("scale_upp: {}"),
            [f"r.yaml:9:7: {PREFIX} unknown field 'scale_upp' (did you mean 'scale_up'?)"],
        ),
        (  # in scale_down, the British spelling
            behavior("scale_down:\n  stabilisation: 5m"),
            [
                f"r.yaml:10:9: {PREFIX} unknown field 'stabilisation' (did you mean "
                "'stabilization'?)"
            ],
        ),
        (  # in a policy, a flow mapping: the period it lacks at the mapping, the key at its own
            behavior("scale_up:\n  policies: [{percent: 100, perod: 15s}]"),
            [
                f"r.yaml:10:20: {PREFIX} missing required field 'period'",
                f"r.yaml:10:35: {PREFIX} unknown field 'perod' (did you mean 'period'?)",
            ],
        ),
        (
            behavior("scale_up:\n  policies: [{percent: 100, pods: 4, period: 15s}]"),
            [
                f"r.yaml:10:20: {PREFIX} behavior.scale_up.policies: a policy is {{percent: N, "
                "period: D} or {pods: N, period: D}"
            ],
        ),
        (
            behavior("scale_up:\n  policies:\n    - {pods: 4, period: 31m}"),
            [f"r.yaml:11:13: {PREFIX} behavior.scale_up.policies: period: at most 30m, as HPA's"],
        ),
        (
            behavior("scale_down: {stabilization: 61m}"),
            [f"r.yaml:9:20: {PREFIX} behavior.scale_down.stabilization: at most 1h, as HPA's"],
        ),
        (  # the model's own check: at the entry
            AUTOSCALER + "    min_replicas: 11\n",
            [f"r.yaml:2:5: {PREFIX} min_replicas must not be above max_replicas"],
        ),
        (
            AUTOSCALER.replace("target_value: 0.6", "target_value: 0"),
            [f"r.yaml:6:5: {PREFIX} target_value: Input should be greater than 0"],
        ),
        (
            AUTOSCALER.replace("    per: host\n", ""),
            [f"r.yaml:2:5: {PREFIX} missing required field 'per'"],
        ),
        (  # metric samples have no 'servce'
            AUTOSCALER.replace('service == "checkout"', 'servce == "checkout"'),
            [f"r.yaml:4:49: {PREFIX} match: unknown field 'servce' (did you mean 'service'?)"],
        ),
        (
            AUTOSCALER.replace("per: host", "per: hots"),
            [f"r.yaml:5:10: {PREFIX} per: unknown field 'hots' (did you mean 'host'?)"],
        ),
        (  # the scale rule's templates see what its match carries
            AUTOSCALER + '    scale:\n      annotations: {summary: "{{ replica }}"}\n',
            [
                f"r.yaml:9:30: {PREFIX} annotations.summary: template reads unknown field "
                "'replica' (did you mean 'replicas'?)"
            ],
        ),
        (
            AUTOSCALER + '    scale:\n      annotations: {runbook: "{{ target | nosuch }}"}\n',
            [
                f"r.yaml:9:30: {PREFIX} annotations.runbook: template does not parse: No "
                "filter named 'nosuch'. (line 1)"
            ],
        ),
        (  # its rule has the autoscaler's id; rules are read first
            AUTOSCALER + "rules:\n  - id: checkout_autoscale\n    source: metric\n",
            [
                f"r.yaml:2:5: {PREFIX} its rule checkout_autoscale has the id of a rule at "
                "r.yaml:9:5"
            ],
        ),
        (  # an autoscaler's rule is made from its entry, never written by hand
            HAND_WRITTEN,
            [
                "r.yaml:4:11: rule x: type autoscale: an autoscaler's rule is made from its "
                "entry under 'autoscalers:' (rules/README.md, \"Autoscaling\")"
            ],
        ),
    ],
)
def test_a_broken_autoscaler_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert errors_of(tmp_path, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  - id: x\n    source: metric\n    type: autoscale\n",
        HAND_WRITTEN.replace("    type: autoscale\n", ""),
    ],
)
def test_a_hand_written_autoscale_rule_is_pointed_at_autoscalers_whatever_it_lacks(
    tmp_path: Path, text: str
) -> None:
    [error] = errors_of(tmp_path, text)
    assert "made from its entry under 'autoscalers:'" in error


def test_every_error_of_every_autoscaler_is_collected_in_file_order(tmp_path: Path) -> None:
    text = (
        AUTOSCALER.replace("per: host", "per: hots")
        + "    behavior: {scale_down: {stabilization: 2h}}\n"
        + "  - id: orders_autoscale\n"
        + "    target: orders\n"
        + "    per: host\n"
        + "    target_value: 500\n"
        + "    max_replicas: 0\n"
    )
    assert errors_of(tmp_path, text) == [
        f"r.yaml:5:10: {PREFIX} per: unknown field 'hots' (did you mean 'host'?)",
        f"r.yaml:8:29: {PREFIX} behavior.scale_down.stabilization: at most 1h, as HPA's",
        "r.yaml:13:5: autoscaler orders_autoscale: max_replicas: Input should be greater than "
        "or equal to 1",
    ]
    assert load(tmp_path, text).rules == []  # nothing of a broken autoscaler is loaded


def test_an_autoscaler_compiles_into_one_rule_whose_action_is_a_scale(tmp_path: Path) -> None:
    result = load(tmp_path, AUTOSCALER)
    assert result.ok, [str(e) for e in result.errors]
    [loaded] = result.rules
    rule = loaded.rule
    assert (loaded.line, rule.id, rule.type, rule.source, rule.match) == (
        2,  # placed at the entry
        "checkout_autoscale",
        "autoscale",
        "metric",
        MATCH,
    )
    assert (rule.for_ms, rule.keep_firing_ms) == (0, 0)  # every new count is an action
    assert (rule.window, rule.group_by, rule.tags) == (None, [], ["autoscale"])
    assert (rule.severity, rule.labels, rule.enabled) == ("info", {}, True)
    assert rule.description == "scale checkout to keep mean at 0.6 per replica"
    assert rule.annotations == {"summary": SUMMARY}
    assert [(a.type, a.params) for a in rule.actions] == [("scale", SCALE)]
    assert rule.autoscale is not None
    assert rule.autoscale.model_dump() == {
        "target": "checkout",
        "per": "host",
        "value": "value",
        "window_ms": 60_000,
        "grace_ms": 10_000,
        "target_value": 0.6,
        "metric": "mean",
        "min_replicas": 1,
        "max_replicas": 10,
        "tolerance": 0.1,
        "behavior": {  # HPA's defaults are filled in when it runs (hpa_config)
            "scale_up": {"stabilization_ms": None, "select": "max", "policies": None},
            "scale_down": {"stabilization_ms": None, "select": "max", "policies": None},
        },
    }


def test_the_autoscalers_settings_and_the_overrides_of_its_rule(tmp_path: Path) -> None:
    text = AUTOSCALER + (
        "    description: checkout at 60% CPU\n"
        "    severity: warning\n"
        "    labels: {team: shop, tier: '1'}\n"
        "    scale:\n"
        "      severity: error\n"
        "      labels: {tier: '0', pager: 'no'}\n"
        "      annotations:\n"
        '        runbook: "https://runbooks.example/scale/{{ target }}"\n'
        "      actions:\n"
        "        - type: scale\n"
        "          params: {target: 'deployment/{{ target }}', replicas: '{{ replicas }}'}\n"
        "        - type: alert\n"
    )
    rule = rule_of(tmp_path, text)
    assert rule.description == "checkout at 60% CPU"
    assert (rule.severity, rule.labels) == ("error", {"team": "shop", "tier": "0", "pager": "no"})
    assert rule.annotations == {  # the default summary stays beside the runbook
        "summary": SUMMARY,
        "runbook": "https://runbooks.example/scale/{{ target }}",
    }
    assert [(a.type, a.params) for a in rule.actions] == [
        ("scale", {"target": "deployment/{{ target }}", "replicas": "{{ replicas }}"}),
        ("alert", {}),
    ]
    plain = rule_of(tmp_path, AUTOSCALER + "    severity: warning\n    labels: {team: shop}\n")
    assert (plain.severity, plain.labels) == ("warning", {"team": "shop"})


@pytest.mark.parametrize(
    ("extra", "enabled"),
    [
        ("    enabled: false\n", False),
        ("    scale: {enabled: false}\n", False),
        ("    enabled: false\n    scale: {enabled: true}\n", False),
        ("", True),
    ],
)
def test_a_disabled_autoscaler_is_loaded_but_not_enabled(
    tmp_path: Path, extra: str, enabled: bool
) -> None:
    assert rule_of(tmp_path, AUTOSCALER + extra).enabled is enabled


def test_window_grace_and_behavior_durations_are_in_ms(tmp_path: Path) -> None:
    text = AUTOSCALER + (
        "    window: 2m\n"
        "    grace: 30s\n"
        "    metric: total\n"
        "    min_replicas: 3\n"
        "    tolerance: 0.05\n"
        "    behavior:\n"
        "      scale_up:\n"
        "        stabilization: 1m\n"
        "        select: min\n"
        "        policies: [{percent: 50, period: 1m}, {pods: 2, period: 30s}]\n"
        "      scale_down: {stabilization: 10m, policies: [{pods: 1, period: 30m}]}\n"
    )
    config = rule_of(tmp_path, text).autoscale
    assert config is not None
    assert (config.window_ms, config.grace_ms, config.metric) == (120_000, 30_000, "total")
    assert (config.min_replicas, config.max_replicas, config.tolerance) == (3, 10, 0.05)
    assert config.behavior.model_dump() == {
        "scale_up": {
            "stabilization_ms": 60_000,
            "select": "min",
            "policies": [
                {"percent": 50, "pods": None, "period_ms": 60_000},
                {"percent": None, "pods": 2, "period_ms": 30_000},
            ],
        },
        "scale_down": {
            "stabilization_ms": 600_000,
            "select": "max",
            "policies": [{"percent": None, "pods": 1, "period_ms": 1_800_000}],
        },
    }


@pytest.mark.parametrize(
    ("source", "written", "value"),
    [
        ("metric", "", "value"),  # a sample's value
        ("log", "", "1"),  # any other record: 1
        ("health", "", "1"),
        ("metric", "    value: value * 100\n", "value * 100"),
        ("health", "    value: latency_ms\n", "latency_ms"),
    ],
)
def test_each_records_value_defaults_to_a_samples_value_else_1(
    tmp_path: Path, source: str, written: str, value: str
) -> None:
    text = AUTOSCALER.replace(f"    match: {MATCH}\n", f"    source: {source}\n") + written
    config = rule_of(tmp_path, text).autoscale
    assert config is not None and config.value == value


def test_a_value_written_as_a_number_is_taken_as_one(tmp_path: Path) -> None:
    config = rule_of(tmp_path, AUTOSCALER + "    value: 1\n").autoscale
    assert config is not None and config.value == "1"


def test_macros_in_match_are_expanded_in_its_rule(tmp_path: Path) -> None:
    text = 'macros:\n  checkout: service == "checkout"\n' + AUTOSCALER.replace(
        'and service == "checkout"', "and checkout"
    )
    assert rule_of(tmp_path, text).match == MATCH


def test_the_shipped_autoscalers_load_into_their_rules() -> None:
    shipped = Path(__file__).resolve().parents[3] / "rules" / "autoscalers.yaml"
    result = load_rules([shipped])
    assert result.ok, [str(e) for e in result.errors]
    by_id = {item.rule.id: item.rule for item in result.rules}
    assert list(by_id) == ["checkout_autoscale", "orders_worker_autoscale"]
    checkout, orders = by_id.values()
    assert checkout.labels == {"team": "shop"}
    assert checkout.autoscale is not None and checkout.autoscale.min_replicas == 2
    assert orders.autoscale is not None and orders.autoscale.metric == "total"
    down = orders.autoscale.behavior.scale_down
    assert down.stabilization_ms == 600_000
    assert down.policies is not None and down.policies[0].period_ms == 60_000
