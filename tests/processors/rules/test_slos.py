"""Loading SLOs (``slos:``): every error at its line and column under the ``slo <id>:``
prefix, and the two rules of ``type: slo`` each SLO compiles into."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from tests.processors.rules.rule_file import errors_of, load, rules_of

SLO = """\
slos:
  - id: checkout_availability
    objective: 0.99
    sli:
      source: health
      total: service == "checkout" and check == "http"
      bad: status == "fail"
"""

PAGE_CONDITION = "(burn_1h > 14.4 and burn_5m > 14.4) or (burn_6h > 6 and burn_30m > 6)"
TICKET_CONDITION = "(burn_1d > 3 and burn_2h > 3) or (burn_3d > 1 and burn_6h > 1)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # an unknown field of the SLO itself
            SLO + "    objectve: 0.9\n",
            [
                "r.yaml:8:5: slo checkout_availability: unknown field 'objectve' (did you mean "
                "'objective'?)"
            ],
        ),
        (  # inside sli
            SLO + "      event: 1\n",
            [
                "r.yaml:8:7: slo checkout_availability: unknown field 'event' (did you mean "
                "'events'?)"
            ],
        ),
        (  # inside page, a flow mapping: at the key
            SLO + "    page: {severty: critical}\n",
            [
                "r.yaml:8:12: slo checkout_availability: unknown field 'severty' (did you mean "
                "'severity'?)"
            ],
        ),
        (  # a ratio, not a percentage
            SLO.replace("0.99", "1.5"),
            ["r.yaml:3:5: slo checkout_availability: objective: Input should be less than 1"],
        ),
        (  # health checks have no 'servce'
            SLO.replace('service == "checkout"', 'servce == "checkout"'),
            [
                "r.yaml:6:14: slo checkout_availability: sli.total: unknown field 'servce' (did "
                "you mean 'service'?)"
            ],
        ),
        (
            SLO.replace('status == "fail"', 'stats == "fail"'),
            [
                "r.yaml:7:12: slo checkout_availability: sli.bad: unknown field 'stats' (did you "
                "mean 'status'?)"
            ],
        ),
        (
            SLO + "    group_by: [instance, servce]\n",
            [
                "r.yaml:8:26: slo checkout_availability: group_by: unknown field 'servce' for "
                "source health (did you mean 'service'?)"
            ],
        ),
        (  # `bad: status == ` ends at column 21 of line 7: where the operand is missing
            SLO.replace('status == "fail"', "status =="),
            ["r.yaml:7:21: slo checkout_availability: sli.bad: expected an operand after '=='"],
        ),
        (  # an operator inside a quoted, folded expression: its own column
            SLO.replace(
                '      bad: status == "fail"\n',
                '      bad: >-\n        status == "fail"\n        or and check\n',
            ),
            [
                "r.yaml:9:12: slo checkout_availability: sli.bad: expected an operand after "
                "'or', found 'and'"
            ],
        ),
        (  # a template of page that reads a name an slo signal lacks
            SLO + '    page:\n      annotations: {summary: "{{ budget_remaning }}"}\n',
            [
                "r.yaml:9:30: slo checkout_availability: annotations.summary: template reads "
                "unknown field 'budget_remaning' (did you mean 'budget_remaining'?)"
            ],
        ),
        (
            SLO + '    ticket:\n      annotations:\n        runbook: "{{ slo | nosuch }}"\n',
            [
                "r.yaml:10:18: slo checkout_availability: annotations.runbook: template does not "
                "parse: No filter named 'nosuch'. (line 1)"
            ],
        ),
        (  # the rule is in the same file, after the SLO; rules are read first
            SLO + "rules:\n  - id: checkout_availability_ticket\n    source: log\n",
            [
                "r.yaml:2:5: slo checkout_availability: its rule checkout_availability_ticket "
                "has the id of a rule at r.yaml:9:5"
            ],
        ),
        (  # an SLO's rules are made from its entry, never written by hand
            "rules:\n  - id: x_page\n    source: health\n    type: slo\n"
            "    slo: {slo: x, alert: page, objective: 0.99, window: 30d, bad: 'true', "
            "events: '1'}\n",
            [
                "r.yaml:4:11: rule x_page: type slo: an SLO's rules are made from its entry "
                "under 'slos:' (rules/README.md, \"SLOs and error budgets\")"
            ],
        ),
        (
            SLO.replace("      source: health\n", ""),
            ["r.yaml:4:5: slo checkout_availability: missing required field 'source'"],
        ),
    ],
)
def test_a_broken_slo_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert errors_of(tmp_path, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  - id: x_page\n    source: health\n    type: slo\n",
        "rules:\n  - id: x_page\n    source: health\n"
        "    slo: {slo: x, alert: page, objective: 0.99, window: 30d, bad: 'true', "
        "events: '1'}\n",
    ],
)
def test_a_hand_written_slo_rule_is_pointed_at_slos_whatever_it_lacks(
    tmp_path: Path, text: str
) -> None:
    [error] = errors_of(tmp_path, text)
    assert "made from its entry under 'slos:'" in error


def test_every_error_of_every_slo_is_collected_in_file_order(tmp_path: Path) -> None:
    text = (
        SLO.replace("0.99", "1.5").replace('status == "fail"', 'stats == "fail"')
        + "    page: {severty: critical}\n"
        + "  - id: api_latency\n"
        + "    objective: 0.995\n"
        + "    sli: {source: metric, total: nme == 'x', bad: value > 0.3}\n"
        + "    group_by: [service]\n"
        + "rules:\n"
        + "  - id: host_cpu\n"
        + "    source: metric\n"
        + "    conditon: value > 1\n"
    )
    assert errors_of(tmp_path, text) == [
        "r.yaml:3:5: slo checkout_availability: objective: Input should be less than 1",
        "r.yaml:7:12: slo checkout_availability: sli.bad: unknown field 'stats' (did you mean "
        "'status'?)",
        "r.yaml:8:12: slo checkout_availability: unknown field 'severty' (did you mean "
        "'severity'?)",
        "r.yaml:11:34: slo api_latency: sli.total: unknown field 'nme' (did you mean 'name'?)",
        "r.yaml:16:5: rule host_cpu: unknown field 'conditon' (did you mean 'condition'?)",
    ]
    assert load(tmp_path, text).rules == []  # nothing of a broken SLO is loaded


def test_a_colliding_id_is_reported_beside_the_slos_other_errors(tmp_path: Path) -> None:
    text = (
        "slos:\n"
        "  - id: api_latency\n"
        "    objective: 0.995\n"
        "    sli: {source: metric, total: nme == 'x', bad: value > 0.3}\n"
        "rules:\n"
        "  - id: api_latency_page\n"
        "    source: metric\n"
    )
    assert errors_of(tmp_path, text) == [
        "r.yaml:2:5: slo api_latency: its rule api_latency_page has the id of a rule at r.yaml:6:5",
        "r.yaml:4:34: slo api_latency: sli.total: unknown field 'nme' (did you mean 'name'?)",
    ]


def test_an_slo_in_one_file_collides_with_a_rule_in_another(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SLO)
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - id: checkout_availability_page\n    source: log\n"
    )
    assert [str(e).replace(str(tmp_path) + "/", "") for e in load_rules([tmp_path]).errors] == [
        "b.yaml:2:5: rule checkout_availability_page: duplicate rule id (first defined at "
        "a.yaml:2:5)"
    ]


def test_an_slo_compiles_into_a_page_and_a_ticket_rule(tmp_path: Path) -> None:
    result = load(tmp_path, SLO)
    assert result.ok, [str(e) for e in result.errors]
    assert [(item.rule.id, item.line) for item in result.rules] == [
        ("checkout_availability_page", 2),  # both placed at the SLO's entry
        ("checkout_availability_ticket", 2),
    ]
    page, ticket = (item.rule for item in result.rules)
    assert (page.type, page.source, page.match) == (
        "slo",
        "health",
        'service == "checkout" and check == "http"',
    )
    assert page.condition == PAGE_CONDITION
    assert ticket.condition == TICKET_CONDITION
    assert (page.severity, ticket.severity) == ("critical", "warning")
    assert page.description == (
        "0.99 of health events good (page: burn rate above 14.4 over 1h and 5m, or above 6 "
        "over 6h and 30m)"
    )
    assert page.slo is not None and ticket.slo is not None
    assert page.slo.model_dump() == {
        "slo": "checkout_availability",
        "alert": "page",
        "objective": 0.99,
        "window_ms": 30 * 86_400_000,  # the default window, 30d
        "bad": 'status == "fail"',
        "events": "1",  # a health check is one event
        "grace_ms": 10_000,
    }
    assert ticket.slo.alert == "ticket"
    assert page.annotations == {
        "summary": "SLO {{ slo }}: error budget burning fast ({{ value }}x over 1h), "
        "{{ budget_remaining | percent }} left"
    }
    assert [a.type for a in page.actions] == ["alert"]
    assert (page.group_by, page.labels, page.tags) == ([], {}, ["slo"])
    assert (page.enabled, ticket.enabled) == (True, True)
    # evaluated like a windowed rule: resolves; value is the long window's burn rate
    assert (page.evaluated, page.keep_firing_ms, page.stat, ticket.stat) == (
        True,
        0,
        "burn_1h",
        "burn_1d",
    )
    assert len({item.version for item in result.rules}) == 2


def test_overrides_of_page_and_ticket_and_the_slo_wide_settings(tmp_path: Path) -> None:
    text = SLO + (
        "    description: checkout answers\n"
        "    window: 28d\n"
        "    grace: 30s\n"
        "    group_by: [instance]\n"
        "    labels: {team: shop, tier: '1'}\n"
        "    page:\n"
        "      severity: error\n"
        "      labels: {tier: '0', pager: 'yes'}\n"
        "      annotations:\n"
        '        summary: "{{ slo }} at {{ value }}x on {{ instance }}"\n'
        '        runbook: "https://runbooks.example/{{ slo }}"\n'
        "      actions:\n"
        "        - type: incident\n"
        "          params: {title: '{{ slo }} burning'}\n"
    )
    rules = rules_of(tmp_path, text)
    page, ticket = rules["checkout_availability_page"], rules["checkout_availability_ticket"]
    assert page.severity == "error" and ticket.severity == "warning"
    assert page.labels == {"team": "shop", "tier": "0", "pager": "yes"}  # page's win
    assert ticket.labels == {"team": "shop", "tier": "1"}
    assert page.annotations == {
        "summary": "{{ slo }} at {{ value }}x on {{ instance }}",
        "runbook": "https://runbooks.example/{{ slo }}",
    }
    assert ticket.annotations["summary"].startswith("SLO {{ slo }}: error budget burning (")
    assert [(a.type, a.params) for a in page.actions] == [
        ("incident", {"title": "{{ slo }} burning"})
    ]
    assert [a.type for a in ticket.actions] == ["alert"]
    assert page.group_by == ticket.group_by == ["instance"]
    assert page.description.startswith("checkout answers (page: ")
    for rule in (page, ticket):
        assert rule.slo is not None
        assert (rule.slo.window_ms, rule.slo.grace_ms) == (28 * 86_400_000, 30_000)


@pytest.mark.parametrize(
    ("extra", "enabled"),
    [
        ("    enabled: false\n", (False, False)),
        ("    ticket: {enabled: false}\n", (True, False)),
        ("    page: {enabled: false}\n", (False, True)),
        ("    enabled: false\n    page: {enabled: true}\n", (False, False)),
    ],
)
def test_a_disabled_slo_or_alert_is_loaded_but_not_enabled(
    tmp_path: Path, extra: str, enabled: tuple[bool, bool]
) -> None:
    rules = rules_of(tmp_path, SLO + extra)
    assert (
        rules["checkout_availability_page"].enabled,
        rules["checkout_availability_ticket"].enabled,
    ) == enabled


@pytest.mark.parametrize(
    ("sli", "events"),
    [
        ("{source: metric, total: name == 'reqs', bad: labels.code == '500'}", "value"),
        ("{source: health, bad: status == 'fail'}", "1"),
        ("{source: log, bad: severity_number >= 17}", "1"),
        ("{source: metric, total: name == 'latency', bad: value > 0.3, events: 1}", "1"),
        ("{source: metric, total: name == 'x', bad: value > 0.3, events: 2.5}", "2.5"),
        ("{source: metric, total: name == 'x', bad: value > 0.3, events: '1'}", "1"),
        ("{source: health, bad: status == 'fail', events: latency_ms}", "latency_ms"),
    ],
)
def test_events_default_to_a_samples_value_for_metrics_and_one_otherwise(
    tmp_path: Path, sli: str, events: str
) -> None:
    text = f"slos:\n  - id: s\n    objective: 0.9\n    sli: {sli}\n"
    for rule in rules_of(tmp_path, text).values():
        assert rule.slo is not None and rule.slo.events == events


def test_a_large_number_of_events_is_kept_exactly(tmp_path: Path) -> None:
    text = SLO + "      events: 1234567\n"
    for rule in rules_of(tmp_path, text).values():
        assert rule.slo is not None and rule.slo.events == "1234567"


def test_macros_in_an_sli_are_expanded_in_the_rules(tmp_path: Path) -> None:
    text = (
        'macros:\n  is_checkout: service == "checkout"\n  failed: status == "fail"\n'
        + SLO.replace('service == "checkout"', "is_checkout").replace('status == "fail"', "failed")
    )
    rules = rules_of(tmp_path, text)
    page = rules["checkout_availability_page"]
    assert page.match == 'service == "checkout" and check == "http"'
    assert page.slo is not None and page.slo.bad == 'status == "fail"'


def test_the_shipped_slos_load_into_their_rules(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[3] / "rules" / "slos.yaml"
    result = load_rules([shipped])
    assert result.ok, [str(e) for e in result.errors]
    by_id = {item.rule.id: item.rule for item in result.rules}
    assert set(by_id) == {
        "checkout_deploy_freeze",
        "checkout_availability_page",
        "checkout_availability_ticket",
        "api_latency_page",
        "api_latency_ticket",
    }
    latency = by_id["api_latency_page"]
    assert latency.slo is not None
    assert (latency.slo.events, latency.slo.objective, latency.group_by, latency.labels) == (
        "1",
        0.995,
        ["service"],
        {"team": "platform"},
    )
