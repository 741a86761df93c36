"""Rule types in the router of one partition: records in, match and step signals out;
sequence joins in a partition of the signals topic; held offsets; idle partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processors.firehose.routing import Routed, Router
from processors.records import Signal
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
M = 60 * S
T0 = 1_795_899_240_000  # a whole minute

RULES = """
rules:
  - id: auth_burst
    type: frequency
    source: security
    match: event.outcome == "failure"
    group_by: [source.ip]
    frequency: {at_least: 3, timeframe: 1m}
  - id: heartbeat_lost
    type: flatline
    source: health
    group_by: [service, instance]
    flatline: {timeframe: 2m, grace: 0s}
  - id: leader_changed
    type: change
    source: event
    match: type == "leader"
    group_by: [entity]
    change: {field: attributes.leader}
  - id: cpu_then_intrusion
    type: sequence
    source: signal
    group_by: [host]
    sequence:
      timeframe: 10m
      steps:
        - {source: metric, match: 'name == "cpu" and value > 0.9'}
        - {source: security, match: event.category == "intrusion", fields: {host: host.name}}
  - id: signal_counter
    source: signal
    match: "true"
"""


def route(router: Router, records: list[dict[str, Any]], *, first_offset: int = 0) -> list[Signal]:
    out: list[Signal] = []
    for offset, record in enumerate(records, first_offset):
        outcome = router.route(
            record,
            ts_ms=record["ts_ms"],
            offset=offset,
            ref=f"t/0/{offset}/0",
            now_ms=record["ts_ms"],
            out=out,
        )
        assert outcome is Routed.PROCESSED
    return out


def failure(second: int, ip: str = "10.0.0.9") -> dict[str, Any]:
    return {"ts_ms": T0 + second * S, "event": {"outcome": "failure"}, "source": {"ip": ip}}


def test_a_frequency_match_is_a_match_signal_with_the_count(tmp_path: Path) -> None:
    router = Router(rulebook_from_yaml(tmp_path, RULES), "security", idle_timeout_ms=30 * S)
    out = route(router, [failure(0), failure(1, "10.0.0.1"), failure(10), failure(20)])
    [match] = out
    assert (match.kind, match.rules, match.key, match.group) == (
        "match",
        ["auth_burst"],
        "10.0.0.9",
        {"source.ip": "10.0.0.9"},
    )
    assert match.ts_ms == T0 + 20 * S and match.record is not None
    assert match.record["count"] == 3 and match.record["event"] == {"outcome": "failure"}
    again = Router(rulebook_from_yaml(tmp_path, RULES), "security", idle_timeout_ms=30 * S)
    replayed = route(again, [failure(0), failure(1, "10.0.0.1"), failure(10), failure(20)])
    assert [s.id for s in replayed] == [match.id]  # deterministic: a replay is recognised


def test_held_state_keeps_the_offset_uncommitted_until_it_expires(tmp_path: Path) -> None:
    router = Router(rulebook_from_yaml(tmp_path, RULES), "security", idle_timeout_ms=30 * S)
    route(router, [failure(0), failure(5)])
    assert router.committable_offset() == 0  # both may still count toward a match
    route(router, [failure(200, "10.0.0.7")], first_offset=2)
    router.close_types(T0 + 200 * S)
    assert router.committable_offset() == 0  # one segment holds offsets 0-2
    assert router.needs_ref


def test_an_idle_partition_moves_on_with_processing_time_and_flatline_fires(
    tmp_path: Path,
) -> None:
    router = Router(rulebook_from_yaml(tmp_path, RULES), "health", idle_timeout_ms=30 * S)
    beat = {"ts_ms": T0, "service": "db", "instance": "db-1", "check": "heartbeat"}
    route(router, [beat])
    assert router.close_types(T0 + 29 * S) == []  # not idle yet: the clock stays at T0
    assert router.close_types(T0 + 2 * M - 1) == []  # idle: the clock follows, T0 + 2m - 1ms
    [lost] = router.close_types(T0 + 2 * M)
    assert (lost.kind, lost.rules, lost.group) == (
        "match",
        ["heartbeat_lost"],
        {"service": "db", "instance": "db-1"},
    )
    assert lost.ts_ms == T0 + 2 * M and lost.record == {
        "count": 0,
        "last_ts": "2026-11-28T20:54:00.000Z",
    }
    assert router.close_types(T0 + 60 * M) == []  # once per silence


def test_change_reports_the_previous_value(tmp_path: Path) -> None:
    router = Router(rulebook_from_yaml(tmp_path, RULES), "event", idle_timeout_ms=30 * S)

    def leader(second: int, name: str | None) -> dict[str, Any]:
        attributes = {"leader": name} if name else {}
        return {
            "ts_ms": T0 + second * S,
            "type": "leader",
            "entity": "pg",
            "attributes": attributes,
        }

    out = route(router, [leader(0, "pg-1"), leader(1, None), leader(2, "pg-1"), leader(3, "pg-2")])
    [changed] = out
    assert changed.record is not None
    assert (changed.record["previous"], changed.record["attributes"]) == (
        "pg-1",
        {"leader": "pg-2"},
    )


def test_sequence_steps_are_keyed_by_the_join_key_and_joined_on_the_signals_side(
    tmp_path: Path,
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    metrics = Router(rulebook, "metric", idle_timeout_ms=30 * S)
    security = Router(rulebook, "security", idle_timeout_ms=30 * S)
    signals = Router(rulebook, "signal", idle_timeout_ms=30 * S)
    cpu = {"ts_ms": T0, "name": "cpu", "value": 0.95, "host": "web-1"}
    cool = {"ts_ms": T0, "name": "cpu", "value": 0.5, "host": "web-2"}
    intrusion = {"ts_ms": T0 + M, "event": {"category": "intrusion"}, "host": {"name": "web-1"}}
    steps = route(metrics, [cpu, cool]) + route(security, [intrusion])
    assert [(s.kind, s.key, s.sequence, s.values, s.rules) for s in steps] == [
        ("step", "web-1", "cpu_then_intrusion", {"step": 0.0}, []),
        ("step", "web-1", "cpu_then_intrusion", {"step": 1.0}, []),
    ]
    # Read back from the signals topic, in the order they arrive there (step 1 first).
    out = route(signals, [s.model_dump() for s in reversed(steps)])
    [done] = out
    assert (done.kind, done.rules, done.key, done.group, done.source) == (
        "match",
        ["cpu_then_intrusion"],
        "web-1",
        {"host": "web-1"},
        "signal",
    )
    assert done.ts_ms == T0 + M and done.record is not None
    assert [step["ts"] for step in done.record["steps"]] == [
        "2026-11-28T20:54:00.000Z",
        "2026-11-28T20:55:00.000Z",
    ]
    assert signals.committable_offset() == 0  # the join's events are held


def test_on_the_signals_side_steps_and_signals_of_rules_on_signals_feed_no_rule(
    tmp_path: Path,
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    signals = Router(rulebook, "signal", idle_timeout_ms=30 * S)
    window = Signal(id="w", kind="window", key="web-1", ts_ms=T0, rules=["x"])
    own = Signal(id="o", kind="record", key="*", source="signal", ts_ms=T0, rules=["y"])
    step = Signal(
        id="s",
        kind="step",
        key="web-1",
        source="metric",
        ts_ms=T0,
        sequence="cpu_then_intrusion",
        values={"step": 0.0},
    )
    out = route(signals, [s.model_dump() for s in (window, own, step)])
    assert [(s.kind, s.rules) for s in out] == [("record", ["signal_counter"])]  # the window's
