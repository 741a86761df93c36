"""Rule types through the production cores without Kafka (streams.offline): records in,
actions out. Per type a must-fire and a near miss; the sequence across three sources,
one of them signals read back; and the shipped examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.rules.compiler import compile_rulebook
from processors.rules.loader import load_rules
from processors.rules.templates import MATCH_FIELDS, template_scope
from streams.offline import run_offline
from tests.processors.rulebook_factory import REPO_RULES, rulebook_from_yaml

S = 1000
M = 60 * S
T0 = 1_795_899_240_000  # a whole minute

RULES = """
rules:
  - id: burst
    type: frequency
    source: log
    match: severity_number >= 17
    group_by: [service]
    frequency: {at_least: 5, timeframe: 1m}
  - id: silent
    type: flatline
    source: health
    group_by: [service, instance]
    flatline: {fewer_than: 2, timeframe: 1m}
  - id: version_changed
    type: change
    source: event
    match: type == "deploy"
    group_by: [entity]
    change: {field: attributes.version}
  - id: new_user
    type: new_term
    source: log
    match: body startswith "login"
    group_by: [host]
    new_term: {fields: [attributes.user], learning: 10m}
  - id: many_users
    type: cardinality
    source: log
    match: body startswith "login"
    group_by: [host]
    cardinality: {field: attributes.user, timeframe: 1m, above: 3}
  - id: log_spike
    type: spike
    source: log
    match: service == "api"
    group_by: [service]
    spike: {timeframe: 1m, ratio: 4}
  - id: deploy_hangs
    type: unfinished
    source: event
    match: type == "deploy"
    group_by: [entity]
    unfinished:
      start: status == "started"
      end: status in ["succeeded", "failed"]
      within: 2m
  - id: deploy_then_errors_then_burst
    type: sequence
    source: signal
    group_by: [service]
    sequence:
      timeframe: 5m
      steps:
        - {source: event, match: type == "deploy", fields: {service: entity}}
        - {source: log, match: severity_number >= 17}
        - {source: signal, match: kind == "match" and "burst" in rules}
"""


def log(second: float, service: str = "api", **fields: Any) -> tuple[str, dict[str, Any]]:
    record = {"ts": T0 + int(second * S), "service": service, "severity_text": "INFO"}
    record.update(fields)
    return ("logs", record)


def error(second: float, service: str = "api") -> tuple[str, dict[str, Any]]:
    return log(second, service, severity_text="ERROR", body="boom")


def login(second: float, user: str, host: str = "web-1") -> tuple[str, dict[str, Any]]:
    return log(second, "auth", host=host, body="login ok", attributes={"user": user})


def check(second: float, instance: str) -> tuple[str, dict[str, Any]]:
    return (
        "health",
        {"ts": T0 + second * S, "service": "db", "instance": instance, "status": "pass"},
    )


def deploy(
    second: float, version: str, entity: str = "api", status: str | None = None
) -> tuple[str, dict[str, Any]]:
    return (
        "events",
        {
            "ts": T0 + second * S,
            "type": "deploy",
            "entity": entity,
            "attributes": {"version": version},
            "status": status,
        },
    )


CASES: dict[str, tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, str], int]]]] = {
    "frequency fires on the fifth error within a minute": (
        [error(t) for t in (0, 10, 20, 30, 40)] + [error(t, "web") for t in (0, 20, 40, 60, 80)],
        [("burst", {"service": "api"}, 40)],
    ),
    "flatline fires when an instance sends fewer than two checks a minute": (
        [check(t, "db-1") for t in range(0, 300, 20)] + [check(t, "db-2") for t in (0, 20, 100)],
        [
            # db-2's two most recent checks are 0s and 20s: at 60s only one is in the
            # last minute (its next match, at 160s, is the same firing)
            ("silent", {"service": "db", "instance": "db-2"}, 60),
            # db-1 stops at 280s: judged as the partition idles at the end of the input
            ("silent", {"service": "db", "instance": "db-1"}, 320),
        ],
    ),
    "change fires on a new version, not on a redeploy of the same": (
        [deploy(0, "1.0"), deploy(60, "1.0"), deploy(120, "1.1"), deploy(130, "2.0", "web")],
        [("version_changed", {"entity": "api"}, 120)],
    ),
    "new_term fires on a user first seen after the learning period": (
        [login(0, "ann"), login(300, "bob"), login(700, "ann"), login(800, "eve")],
        [("new_user", {"host": "web-1"}, 800)],
    ),
    "cardinality fires on the fourth distinct user within a minute": (
        [
            login(0, "a", "web-2"),
            login(10, "b", "web-2"),
            login(30, "c", "web-2"),
            login(61, "d", "web-2"),  # a (0s) has left the minute: b, c, d
            login(62, "e", "web-2"),
        ],
        [("many_users", {"host": "web-2"}, 62)],
    ),
    "unfinished fires when a deploy started is not finished within two minutes": (
        [
            deploy(0, "1.0", "api", "started"),
            deploy(10, "1.0", "web", "started"),
            deploy(100, "1.0", "web", "succeeded"),  # within 2m: near miss
            deploy(119, "1.0", "api", "started"),  # a second start does not hide the first
            deploy(125, "1.0", "api", "succeeded"),  # too late: ended after 120s
            deploy(300, "1.0", "web"),  # the clock moves on
        ],
        [("deploy_hangs", {"entity": "api"}, 120)],
    ),
    "spike fires when a minute has four times the records of the one before": (
        [log(t) for t in range(0, 60, 6)]  # 10 in the first minute (inactive)
        + [log(60 + t) for t in range(0, 60, 12)]  # 5
        + [log(120 + t) for t in range(0, 60, 3)],  # 20: 4x
        [("log_spike", {"service": "api"}, 180)],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_type_offline(tmp_path: Path, name: str) -> None:
    records, expected = CASES[name]
    run = run_offline(rulebook_from_yaml(tmp_path, RULES), sorted(records, key=_ts))
    got = [(a.rule_id, a.group, (_ms(a.ts) - T0) // S) for a in run.actions if a.type == "alert"]
    assert got == expected
    assert run.rejected == [] and run.late == 0


def test_a_sequence_across_events_logs_and_signals_read_back(tmp_path: Path) -> None:
    """deploy (events) → an error (logs) → the burst rule's match (a signal read back
    from the signals topic and re-keyed by service), within 5 minutes."""
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    records = [deploy(0, "1.1")] + [error(t) for t in (30, 40, 50, 60, 70)]
    run = run_offline(rulebook, records)
    alerts = [(a.rule_id, a.group, (_ms(a.ts) - T0) // S) for a in run.actions]
    assert ("deploy_then_errors_then_burst", {"service": "api"}, 70) in alerts
    steps = [s for s in run.signals if s.kind == "step"]
    assert {(s.source, s.values["step"]) for s in steps} == {
        ("event", 0.0),
        ("log", 1.0),
        ("signal", 2.0),  # the burst match, re-sent keyed by the join key
    }
    near = run_offline(rulebook, [error(t) for t in (30, 40, 50, 60, 70)] + [deploy(80, "1.2")])
    assert not any(a.rule_id == "deploy_then_errors_then_burst" for a in near.actions)


def test_the_shipped_rules_load_with_one_example_per_type_and_compile() -> None:
    loaded = load_rules([REPO_RULES])
    assert loaded.ok, [str(e) for e in loaded.errors]
    examples = [item.rule for item in loaded.rules if item.path.endswith("examples.yaml")]
    types = ["frequency", "flatline", "change", "new_term", "cardinality", "spike", "sequence"]
    assert sorted(rule.type for rule in examples) == sorted([*types, "unfinished"])
    rulebook = compile_rulebook(loaded.rules, matcher="compiled")
    assert rulebook.reads_signals


def _ts(item: tuple[str, dict[str, Any]]) -> int:
    return int(item[1]["ts"])


def _ms(ts: str) -> int:
    from processors.timestamps import parse_ts_ms

    return parse_ts_ms(ts)


def test_templates_may_read_what_each_rule_types_matches_carry(tmp_path: Path) -> None:
    """templates.MATCH_FIELDS (what check lets a template read) against what the cores
    put in each type's matches: a field added to a match must be declared there."""
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    seen = set()
    sequence = [deploy(0, "1.1")] + [error(t) for t in (30, 40, 50, 60, 70)]
    for records in [*(records for records, _ in CASES.values()), sequence]:
        for signal in run_offline(rulebook, sorted(records, key=_ts)).signals:
            if signal.kind != "match":
                continue
            rule = rulebook.rules[signal.rules[0]].rule
            carried = {k.split(".")[0] for k in [*(signal.record or {}), *signal.group]}
            assert carried <= template_scope(rule), (rule.type, carried - template_scope(rule))
            seen.add(rule.type)
    # slo and autoscale rules are made from slos: and autoscalers: (their matches:
    # tests/processors/firehose/test_slos.py, test_autoscalers.py)
    made = ("slo", "autoscale", "canary")
    assert seen == {t for t in MATCH_FIELDS if t not in ("threshold", *made)}


VERIFIED = """
rules:
  - id: burst
    type: frequency
    source: log
    match: severity_number >= 17
    group_by: [service]
    frequency: {at_least: 5, timeframe: 1m}
    keep_firing_for: 30m
    actions:
      - type: heal
        params: {command: restart}
        verify: {after: 5m, escalate: {type: incident}}
  - id: silent
    type: flatline
    source: health
    group_by: [service, instance]
    flatline: {fewer_than: 1, timeframe: 1m}
    actions:
      - type: heal
        verify: {after: 5m, escalate: {type: incident}}
"""


def _sent(run_: Any) -> list[tuple[str, str, int]]:
    return [(a.rule_id, a.type, (_ms(a.ts) - T0) // S) for a in run_.actions]


def test_a_rule_on_matches_escalates_on_time_when_it_matched_again_since_the_heal(
    tmp_path: Path,
) -> None:
    """The heal goes with the 5th error at 40s; errors go on, so the burst matches again
    (at 90s): at 340s (40s + 5m) the incident, without waiting for another match."""
    rulebook = rulebook_from_yaml(tmp_path, VERIFIED)
    errors = [error(t) for t in range(0, 100, 10)]  # 0..90s: matches at 40s and 90s
    ticks = [check(t, "db-1") for t in range(0, 600, 20)]  # the clock goes on
    got = _sent(run_offline(rulebook, sorted(errors + ticks, key=_ts)))
    assert ("burst", "heal", 40) in got
    assert ("burst", "incident", 340) in got

    once = [error(t) for t in range(0, 50, 10)]  # one match at 40s, then quiet
    got = _sent(run_offline(rulebook, sorted(once + ticks, key=_ts)))
    assert ("burst", "heal", 40) in got
    assert [a for a in got if a[0] == "burst"] == [("burst", "heal", 40)]  # it worked


def test_a_flatline_heal_is_verified_by_the_key_sending_again(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, VERIFIED)
    other = [check(t, "db-2") for t in range(0, 900, 20)]
    lost = [check(t, "db-1") for t in (0, 20, 40)]  # silent from 100s on
    got = _sent(run_offline(rulebook, sorted(lost + other, key=_ts)))
    assert ("silent", "heal", 100) in got and ("silent", "incident", 400) in got

    back = lost + [check(t, "db-1") for t in range(200, 900, 20)]  # back at 200s
    got = _sent(run_offline(rulebook, sorted(back + other, key=_ts)))
    assert ("silent", "heal", 100) in got
    # both streams end at 880s: a new silence at 940s; nothing for the first one
    assert [a for a in got if a[2] < 900] == [("silent", "heal", 100)]
