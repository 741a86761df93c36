"""Inhibition with Alertmanager's semantics: source, target, equal labels; no
self-inhibition; two-sided matches; sources seen from other partitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.decisions.inhibition import FiringAlert, inhibiting
from processors.rules.label_matchers import parse_matchers
from processors.rules.policies import InhibitPolicy
from tests.processors.decisions.decision_runs import Run, key_of, minute_ms
from tests.processors.rulebook_factory import rulebook_from_yaml

DOWN = {"alertname": "service_down", "severity": "critical", "service": "checkout"}
ERRORS = {"alertname": "error_burst", "severity": "warning", "service": "checkout"}
RULE = InhibitPolicy(
    "down_mutes_errors",
    parse_matchers(["alertname=service_down"]),
    parse_matchers(['severity=~"warning|error"']),
    ("service",),
)
CRITICAL = InhibitPolicy(  # matches both sides of critical alerts
    "critical_mutes_critical",
    parse_matchers(["severity=critical"]),
    parse_matchers(["severity=critical"]),
    ("service",),
)


def firing(labels: dict[str, str], since: float = 0, key: str = "src", **kw: int) -> FiringAlert:
    return FiringAlert(key, labels["alertname"], labels, minute_ms(since), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "sources", "target", "minute", "muted"),
    [
        (RULE, [firing(DOWN)], ERRORS, 5, True),
        (RULE, [], ERRORS, 5, False),
        (RULE, [firing({**DOWN, "service": "db"})], ERRORS, 5, False),  # equal differs
        (RULE, [firing(DOWN, since=6)], ERRORS, 5, False),  # not yet firing at 5
        (RULE, [firing(ERRORS)], ERRORS, 5, False),  # not a source
        (RULE, [firing(DOWN)], {**ERRORS, "severity": "info"}, 5, False),  # not a target
        # a missing equal label counts as equal on both sides
        (RULE, [firing({"alertname": "service_down"})], {"severity": "warning"}, 5, True),
        # a source of a rule on single records fires until its until_ms
        (RULE, [firing(DOWN, until_ms=minute_ms(4))], ERRORS, 5, False),
        (RULE, [firing(DOWN, until_ms=minute_ms(6))], ERRORS, 5, True),
        # an alert cannot inhibit itself …
        (CRITICAL, [firing(DOWN, key="me")], DOWN, 5, False),
        # … nor can alerts matching both sides mute each other
        (CRITICAL, [firing({**DOWN, "alertname": "db_down"}, key="other")], DOWN, 5, False),
    ],
)
def test_inhibiting(
    rule: InhibitPolicy,
    sources: list[FiringAlert],
    target: dict[str, str],
    minute: int,
    muted: bool,
) -> None:
    found = inhibiting([rule], sources, "me", target, minute_ms(minute))
    assert (found is not None) is muted


RULES = """
inhibit_rules:
  - name: down_mutes_errors
    source_matchers: [alertname=service_down]
    target_matchers: ['alertname=~"error_burst|slow"']
    equal: [service]
rules:
  - id: service_down
    source: metric
    match: name == "up"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [service]
    severity: critical
  - id: error_burst
    source: metric
    match: name == "errors"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [service, host]
"""


def test_a_firing_source_mutes_its_targets_until_it_resolves(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    down = {"service": "checkout"}
    assert run.window("service_down", down, 0, 2).actions[0].status == "firing"
    assert run.context.firing.by_fingerprint.keys() == {key_of("service_down", **down)}

    errors = {"service": "checkout", "host": "web-1"}
    muted = run.window("error_burst", errors, 1, 2)
    assert muted.actions == []
    (decision,) = muted.decisions
    assert decision.reason == "inhibited"
    assert decision.suppressed_by == {
        "inhibit_rule": "down_mutes_errors",
        "inhibited_by": key_of("service_down", **down),
        "source_rule": "service_down",
    }
    # another service is not muted
    other = run.window("error_burst", {"service": "db", "host": "db-1"}, 1, 2)
    assert [a.type for a in other.actions] == ["alert"]
    # the source resolves: the still-firing target goes out at its next evaluation
    resolved = run.window("service_down", down, 2, 0)
    assert resolved.firing_changes == {key_of("service_down", **down): None}
    late = run.window("error_burst", errors, 2, 2)
    assert [(a.status, a.decision.because) for a in late.actions] == [("firing", "unmuted")]  # type: ignore[union-attr]
