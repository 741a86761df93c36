"""Windowed rules through the production cores without Kafka (streams.offline): what an
empty window does to a condition that would hold on ``count`` 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.compiler import MatcherKind
from processors.timestamps import parse_ts_ms
from streams.offline import run_offline
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
T0 = 1_795_899_240_000  # a whole minute

RULES = """
rules:
  - id: few_requests
    source: metric
    match: name == "http.requests"
    window: {size: 10s, stat: count, grace: 0s}
    condition: {condition}
    group_by: [host]
"""


def requests(host: str, seconds: range) -> list[tuple[str, dict[str, object]]]:
    return [
        ("metrics", {"ts": T0 + s * S, "name": "http.requests", "value": 1, "host": host})
        for s in seconds
    ]


def fired(tmp_path: Path, condition: str, matcher: MatcherKind) -> list[tuple[str, str, int]]:
    run = run_offline(
        rulebook_from_yaml(tmp_path, RULES.replace("{condition}", condition), matcher),
        # busy sends every second, then stops at 29s; sparse every 5 s until 199s
        requests("busy", range(30)) + requests("sparse", range(30, 200, 5)),
    )
    return [(a.group["host"], a.status, (parse_ts_ms(a.ts) - T0) // S) for a in run.actions]


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
@pytest.mark.parametrize("condition", ["count < 5", "count == 0", "value <= 2", "sum < 1"])
def test_an_empty_window_is_false_whatever_the_condition_reads(
    tmp_path: Path, condition: str, matcher: MatcherKind
) -> None:
    """Before: "busy" stopped sending, its empty windows made ``count < 5`` true, and the
    alert fired at 40s and never resolved (the series was forgotten while firing)."""
    got = fired(tmp_path, condition, matcher)
    assert all(host == "sparse" for host, _, _ in got), got
    if condition in ("count < 5", "value <= 2"):  # two records per 10 s: it holds
        assert got == [("sparse", "firing", 40), ("sparse", "resolved", 210)]
    else:  # only an empty window would have held it
        assert got == []


VERIFIED = """
rules:
  - id: quick                      # its windows close 10 s after their end
    source: metric
    match: name == "http.requests"
    window: {size: 10s, stat: count}
    condition: value > 0
    group_by: [host]
  - id: patient                    # 30 s after theirs
    source: metric
    match: name == "http.requests"
    window: {size: 5s, stat: count, grace: 30s}
    condition: value > 0
    group_by: [host]
    actions:
      - type: alert
      - type: heal
        verify: {after: 20s, escalate: {type: incident}}
"""


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
def test_a_verified_heal_is_judged_by_its_own_windows_not_by_a_faster_rules_clock(
    tmp_path: Path, matcher: MatcherKind
) -> None:
    """The heal goes out at 50s, the alert resolves at 60s: nothing to escalate. Before,
    ``quick``'s window ending at 70s moved the decision clock past the check (50s + 20s)
    while ``patient``'s windows from 55s on were still open: it escalated at 70s, on the
    state of 50s, and resolved at 60s after that."""
    run = run_offline(
        rulebook_from_yaml(tmp_path, VERIFIED, matcher), requests("web-1", range(49, 51))
    )
    got = [(a.rule_id, a.type, a.status, (parse_ts_ms(a.ts) - T0) // S) for a in run.actions]
    assert sorted(got) == [
        ("patient", "alert", "firing", 50),
        ("patient", "alert", "resolved", 60),
        ("patient", "heal", "firing", 50),
        ("quick", "alert", "firing", 50),
        ("quick", "alert", "resolved", 70),
    ]
