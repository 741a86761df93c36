"""The decision core on window and record signals, with a dict as state store."""

from __future__ import annotations

from pathlib import Path

from processors.decisions.alert_record import DictStore
from processors.decisions.decide import decide
from processors.ids import fingerprint
from processors.records import Signal
from tests.processors.rulebook_factory import rulebook_from_yaml, shipped_rulebook

M = 60_000
T0 = 1_795_899_240_000  # a whole minute


def window_signal(
    rule_ids: list[str], group: dict[str, str], minute: int, **values: float
) -> Signal:
    start = T0 + minute * M
    return Signal(
        id=f"w{minute}",
        kind="window",
        key="|".join(group.values()),
        rules=rule_ids,
        group=group,
        ts_ms=start + M,
        window_start_ms=start,
        # A window with values held records; without: an empty window (count 0).
        values={**{k: float(v) for k, v in values.items()}, "count": 1.0 if values else 0.0},
    )


def run_minutes(rulebook, rule_id, group, stats, stat="mean"):  # type: ignore[no-untyped-def]
    """One window per minute; None is an empty window (count 0, no stats)."""
    store, out = DictStore(), []
    for minute, value in enumerate(stats):
        values = {stat: value, "count": 6} if value is not None else {"count": 0}
        outcome = decide(window_signal([rule_id], group, minute, **values), rulebook, store)
        out.extend((minute, a) for a in outcome.actions)
    return out, store


def test_cpu_saturated_fires_alert_and_scale_after_five_minutes_then_resolves() -> None:
    rulebook = shipped_rulebook()
    means = [0.5, 0.95, 0.96, 0.97, 0.95, 0.99, 0.97, 0.4, 0.4, 0.4]
    out, _ = run_minutes(rulebook, "host_cpu_saturated", {"host": "web-1"}, means)
    got = [(minute, a.type, a.status) for minute, a in out]
    # true from minute 1; the fifth true window is minute 5 → fires at its end.
    # keep_firing_for 1m: false at 7 starts it, false at 8 resolves.
    assert got == [(5, "alert", "firing"), (5, "scale", "firing"), (8, "alert", "resolved")]
    alert, scale, resolved = (a for _, a in out)
    assert alert.group == {"host": "web-1"}
    assert alert.summary == "CPU 0.99 on web-1"
    assert alert.severity == "critical"
    assert alert.labels == {"team": "infra", "host": "web-1"}
    assert scale.params == {"delta": 1, "target": "web-1"}
    assert alert.fingerprint == fingerprint("host_cpu_saturated", {"host": "web-1"})
    assert alert.starts_at == resolved.starts_at
    assert len({alert.id, scale.id, resolved.id}) == 3
    assert alert.evidence[0]["values"]["mean"] == 0.99


def test_empty_windows_count_as_false() -> None:
    rulebook = shipped_rulebook()
    out, _ = run_minutes(rulebook, "host_disk_full", {"host": "db-1"}, [0.97, None], "max")
    assert [(m, a.status) for m, a in out] == [(0, "firing"), (1, "resolved")]


def test_replaying_signals_changes_nothing_and_ids_are_stable() -> None:
    rulebook = shipped_rulebook()
    store = DictStore()
    signals = [window_signal(["host_disk_full"], {"host": "db-1"}, m, max=0.99) for m in range(3)]
    first = [a.id for s in signals for a in decide(s, rulebook, store).actions]
    replay = [a.id for s in signals for a in decide(s, rulebook, store).actions]
    assert len(first) == 1 and replay == []
    fresh_store = DictStore()
    fresh = [a.id for s in signals for a in decide(s, rulebook, fresh_store).actions]
    assert fresh == first


def test_a_replay_against_state_that_is_ahead_repeats_nothing() -> None:
    """A crash after the state was saved but before the input offsets were committed:
    the signals are read again against a state that already holds their effect. The
    resolve-and-refire inside the replayed stretch must not happen twice (evaluations
    at or before the state's last evaluation time are ignored)."""
    rulebook = shipped_rulebook()
    group = {"host": "db-1"}
    signals = [
        window_signal(["host_disk_full"], group, 0, max=0.99),
        window_signal(["host_disk_full"], group, 1),  # empty: resolves
        window_signal(["host_disk_full"], group, 2, max=0.99),  # fires again
        window_signal(["host_disk_full"], group, 3, max=0.99),
    ]
    store = DictStore()
    first = [a.status for s in signals for a in decide(s, rulebook, store).actions]
    assert first == ["firing", "resolved", "firing"]
    assert [a for s in signals[1:] for a in decide(s, rulebook, store).actions] == []


def test_cooldown_suppresses_a_repeat_of_the_same_action(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(
        tmp_path,
        """
rules:
  - id: hot
    source: metric
    match: name == "t"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: alert
      - type: heal
        cooldown: 5m
""",
    )
    maxes = [2, 0, 2, 0, 0, 0, 0, 0, 2]
    store, types = DictStore(), []
    for minute, value in enumerate(maxes):
        outcome = decide(window_signal(["hot"], {"host": "h"}, minute, max=value), rulebook, store)
        types.append(sorted(f"{a.type}:{a.status}" for a in outcome.actions))
        if minute == 2:
            assert [s.reason for s in outcome.suppressed] == ["cooldown"]
    assert types == [
        ["alert:firing", "heal:firing"],
        ["alert:resolved"],
        ["alert:firing"],
        ["alert:resolved"],
        [],
        [],
        [],
        [],
        ["alert:firing", "heal:firing"],  # 8m after the first heal: the 5m cooldown passed
    ]


def test_record_rules_fire_per_match_after_keep_firing_for(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(
        tmp_path,
        """
rules:
  - id: fatal_log
    source: log
    match: severity_number >= 21
    group_by: [service]
    severity: critical
    annotations: {summary: "{{ service }}: {{ body }}"}
""",
    )
    store, fired = DictStore(), []
    for minute in (0, 1, 7):
        record = {"service": "db", "body": f"panic {minute}", "severity_number": 21}
        signal = Signal(
            id=f"r{minute}",
            kind="record",
            key="db",
            source="log",
            rules=["fatal_log"],
            group={"service": "db"},
            ts_ms=T0 + minute * M,
            record=record,
        )
        fired.extend(a.summary for a in decide(signal, rulebook, store).actions)
    assert fired == ["db: panic 0", "db: panic 7"]
