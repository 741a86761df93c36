"""The decision tier's per-batch core without Kafka: actions first, then the changed
alert states on the changelog partition of their signals; bad signals dead-lettered."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from processors.decisions import decide as decisions
from processors.decisions.alert_record import AlertRecord
from processors.decisions.alert_state import Phase
from processors.decisions.inhibition import FiringAlert
from processors.decisions.silences import Silence
from processors.ids import fingerprint
from processors.records import ActionResult, Signal
from processors.rules.label_matchers import parse_matchers
from streams.batch_loop import Outgoing
from streams.decision_tier import DecisionBatch, history_ms
from streams.metrics import Metrics
from streams.settings import load_settings
from tests.processors.rulebook_factory import rulebook_from_yaml, shipped_rulebook

M = 60_000
T0 = 1_795_899_240_000


def disk_signal(minute: int, max_value: float | None) -> bytes:
    values = {"count": 6.0, "max": max_value} if max_value is not None else {"count": 0.0}
    start = T0 + minute * M
    signal = Signal(
        id=f"w{minute}",
        kind="window",
        key="db-1",
        rules=["host_disk_full"],
        group={"host": "db-1"},
        ts_ms=start + M,
        window_start_ms=start,
        values=values,
    )
    return signal.model_dump_json().encode()


def actions_and_letters(out: list[Outgoing]) -> list[Outgoing]:
    """The actions and dead letters of a batch's outputs (not its decision records and
    firing-alert changes)."""
    return [o for o in out if o.topic.startswith("ops.actions.") or o.topic == "ops.deadletter"]


def batch_of(topic: str, partition: int, values: list[bytes], first: int = 0) -> dict:  # type: ignore[type-arg]
    records = [
        SimpleNamespace(topic=topic, partition=partition, offset=first + i, key=b"db-1", value=v)
        for i, v in enumerate(values)
    ]
    return {TopicPartition(topic, partition): records}


def test_actions_then_state_on_the_same_partition_then_offsets() -> None:
    settings = load_settings()
    batch = DecisionBatch(settings, shipped_rulebook(), Metrics())
    topic = settings.topic(settings.topic_signals)
    signals = [disk_signal(0, 0.99), disk_signal(1, 0.99), b"not json", disk_signal(2, None)]

    out, updates = batch.process(batch_of(topic, 3, signals), now_ms=T0 + 5 * M)

    out = actions_and_letters(out)
    assert [(o.topic, orjson.loads(o.value).get("status")) for o in out] == [
        ("ops.actions.alert", "firing"),
        ("ops.deadletter", None),
        ("ops.actions.alert", "resolved"),
    ]
    assert orjson.loads(out[1].value)["reason"] == "malformed_json"
    headers = dict(out[0].headers or [])
    assert headers["ce_type"].endswith(b"action.alert.firing")
    # one update per changed alert per batch: its latest state, on the signals' partition
    assert len(updates) == 1
    (update,) = updates
    assert update.topic == "opsrules.alerts.changelog" and update.partition == 3
    assert AlertRecord.from_json(orjson.loads(update.value)).alert.phase is Phase.INACTIVE
    assert batch.commits() == {TopicPartition(topic, 3): (4, "")}


def test_restored_state_carries_over_and_a_revoked_partition_forgets() -> None:
    settings = load_settings()
    rulebook = shipped_rulebook()
    topic = settings.topic(settings.topic_signals)
    first = DecisionBatch(settings, rulebook, Metrics())
    _, updates = first.process(batch_of(topic, 0, [disk_signal(0, 0.99)]), now_ms=T0)
    saved = {u.key.decode(): orjson.loads(u.value) for u in updates if u.key and u.value}

    restarted = DecisionBatch(settings, rulebook, Metrics())
    restarted.restore(0, saved)
    out, _ = restarted.process(batch_of(topic, 0, [disk_signal(1, None)], first=1), now_ms=T0)
    assert [orjson.loads(o.value)["status"] for o in actions_and_letters(out)] == ["resolved"]

    restarted.revoke(TopicPartition(topic, 0))
    assert restarted.commits() == {} and restarted.stores == {}


def test_a_changelog_value_that_is_no_alert_state_is_left_out_of_a_restore(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings()
    rulebook = shipped_rulebook()
    topic = settings.topic(settings.topic_signals)
    first = DecisionBatch(settings, rulebook, Metrics())
    _, updates = first.process(batch_of(topic, 0, [disk_signal(0, 0.99)]), now_ms=T0)
    saved: dict[str, Any] = {u.key.decode(): orjson.loads(u.value) for u in updates if u.key}
    saved["corrupt"] = {"alert": {"phase": "on fire"}}
    saved["foreign"] = {"verify": {"a1": {"index": "first"}}}

    restarted = DecisionBatch(settings, rulebook, Metrics())
    restarted.restore(0, saved)

    assert set(restarted.stores[0].data) == set(saved) - {"corrupt", "foreign"}
    assert "alert state corrupt (partition 0) skipped: not an alert state" in caplog.text
    out, _ = restarted.process(batch_of(topic, 0, [disk_signal(1, None)], first=1), now_ms=T0)
    assert [orjson.loads(o.value)["status"] for o in actions_and_letters(out)] == ["resolved"]


def test_a_failing_core_dead_letters_the_signal_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    metrics = Metrics()
    batch = DecisionBatch(settings, shipped_rulebook(), metrics)
    topic = settings.topic(settings.topic_signals)
    real = decisions.decide
    calls = []

    def decide(signal, rulebook, store, context):  # type: ignore[no-untyped-def]
        calls.append(signal.id)
        if signal.id == "w1":
            raise ZeroDivisionError("boom")
        return real(signal, rulebook, store, context)

    monkeypatch.setattr("streams.decision_tier.decide", decide)
    signals = [disk_signal(0, 0.5), disk_signal(1, 0.99), disk_signal(2, 0.99)]
    out, _ = batch.process(batch_of(topic, 0, signals), now_ms=T0)
    assert calls == ["w0", "w1", "w2"]
    letters = [orjson.loads(o.value) for o in out if o.topic == "ops.deadletter"]
    assert [(d["offset"], d["reason"]) for d in letters] == [(1, "processing_error")]
    assert metrics.total("opsrules_signals_decided_total") == 3


# --- the decision side: trail, firing view, silences, dry run, results routing -------

VERIFIED = """
inhibit_rules:
  - name: down_mutes_disk
    source_matchers: [alertname=host_down]
    target_matchers: [alertname=disk_full]
    equal: [host]
rules:
  - id: disk_full
    source: metric
    match: name == "disk"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {command: clean, target: "{{ host }}"}
        verify: {after: 5m, escalate: {type: incident, severity: critical}}
  - id: host_down
    source: metric
    match: name == "up"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
"""


def window(rule: str, host: str, minute: int, value: float | None) -> bytes:
    start = T0 + minute * M
    signal = Signal(
        id=f"{rule}-{host}-{minute}",
        kind="window",
        key=host,
        rules=[rule],
        group={"host": host},
        ts_ms=start + M,
        window_start_ms=start,
        values={"count": 1.0, "max": value} if value is not None else {"count": 0.0},
    )
    return signal.model_dump_json().encode()


def by_topic(out: list[Outgoing]) -> dict[str, list[Outgoing]]:
    topics: dict[str, list[Outgoing]] = {}
    for o in out:
        topics.setdefault(o.topic, []).append(o)
    return topics


def verified_batch(tmp_path: Path, **overrides: object) -> tuple[DecisionBatch, str]:
    settings = load_settings(**overrides)
    batch = DecisionBatch(settings, rulebook_from_yaml(tmp_path, VERIFIED), Metrics())
    return batch, settings.topic(settings.topic_signals)


def test_decisions_and_firing_changes_go_out_with_the_actions(tmp_path: Path) -> None:
    batch, topic = verified_batch(tmp_path)
    out, _ = batch.process(
        batch_of(topic, 2, [window("disk_full", "db-1", 0, 2), window("disk_full", "db-1", 1, 0)]),
        now_ms=T0,
    )
    topics = by_topic(out)
    (heal,) = topics["ops.actions.heal"]
    (decision,) = topics["ops.decisions"]
    assert decision.key == heal.key == fingerprint("disk_full", {"host": "db-1"}).encode()
    record = orjson.loads(decision.value)  # type: ignore[arg-type]
    assert (record["outcome"], record["action_id"]) == ("sent", orjson.loads(heal.value)["id"])  # type: ignore[arg-type]
    assert dict(decision.headers or [])["ce_type"] == b"dev.opsrules.decision.sent"
    assert orjson.loads(heal.value)["decision"] == record  # type: ignore[arg-type]
    started, stopped = topics["opsrules.alerts.firing"]
    assert orjson.loads(started.value)["partition"] == 2  # type: ignore[arg-type]
    assert orjson.loads(started.value)["labels"]["alertname"] == "disk_full"  # type: ignore[arg-type]
    assert stopped.value is None and stopped.key == started.key  # resolved: a tombstone


def test_a_silence_and_an_inhibiting_alert_of_another_partition_mute(tmp_path: Path) -> None:
    batch, topic = verified_batch(tmp_path)
    batch.context.silences.put(
        Silence("s-1", parse_matchers(["host=db-1"]), T0, T0 + 60 * M, "ops", "patching")
    )
    # host_down of web-1 fires on partition 0; its firing record reaches this worker
    batch.process(batch_of(topic, 0, [window("host_down", "web-1", 0, 2)]), now_ms=T0)
    out, _ = batch.process(
        batch_of(topic, 1, [window("disk_full", "db-1", 1, 2), window("disk_full", "web-1", 1, 2)]),
        now_ms=T0,
    )
    topics = by_topic(out)
    assert "ops.actions.heal" not in topics
    reasons = [orjson.loads(d.value)["reason"] for d in topics["ops.decisions"]]  # type: ignore[arg-type]
    assert reasons == ["silenced", "inhibited"]


def test_dry_run_decides_and_records_but_sends_nothing(tmp_path: Path) -> None:
    batch, topic = verified_batch(tmp_path, dry_run=True)
    out, _ = batch.process(batch_of(topic, 0, [window("disk_full", "db-1", 0, 2)]), now_ms=T0)
    topics = by_topic(out)
    assert "ops.actions.heal" not in topics
    (decision,) = topics["ops.decisions"]
    assert orjson.loads(decision.value)["outcome"] == "dry_run"  # type: ignore[arg-type]


def result(action_id: str, status: str) -> ActionResult:
    return ActionResult(ts_ms=T0 + 3 * M, action_id=action_id, status=status, executor="x")  # type: ignore[call-arg]


def test_a_failed_result_escalates_on_the_partition_that_waits_for_it(tmp_path: Path) -> None:
    batch, topic = verified_batch(tmp_path)
    batch.process(batch_of(topic, 0, [window("host_down", "web-1", 0, 1)]), now_ms=T0)
    out, _ = batch.process(batch_of(topic, 3, [window("disk_full", "db-1", 0, 2)]), now_ms=T0)
    heal_id = orjson.loads(by_topic(out)["ops.actions.heal"][0].value)["id"]  # type: ignore[arg-type]
    assert batch.stores[3].verifying == {heal_id: fingerprint("disk_full", {"host": "db-1"})}

    assert batch.process_results([result("someone-elses", "failed")], T0) == ([], [])
    out, updates = batch.process_results([result(heal_id, "failed")], T0)
    (incident,) = by_topic(out)["ops.actions.incident"]
    body = orjson.loads(incident.value)  # type: ignore[arg-type]
    assert body["severity"] == "critical" and body["decision"]["detail"]["escalates"] == heal_id
    assert [u.partition for u in updates] == [3]  # the alert's state, on its partition
    assert batch.process_results([result(heal_id, "failed")], T0) == ([], [])  # once


def test_a_new_owner_applies_results_read_before_it_took_the_partition(tmp_path: Path) -> None:
    batch, topic = verified_batch(tmp_path)
    out, updates = batch.process(batch_of(topic, 3, [window("disk_full", "db-1", 0, 2)]), now_ms=T0)
    heal_id = orjson.loads(by_topic(out)["ops.actions.heal"][0].value)["id"]  # type: ignore[arg-type]
    saved = {u.key.decode(): orjson.loads(u.value) for u in updates if u.key and u.value}  # type: ignore[arg-type]

    other, _ = verified_batch(tmp_path)
    out, updates = other.restore(3, saved, {heal_id: result(heal_id, "failed")}, T0)
    topics = by_topic(out)
    assert [orjson.loads(o.value)["type"] for o in topics["ops.actions.incident"]] == ["incident"]  # type: ignore[arg-type]
    # the firing alert was republished: its firing record may have been lost in a crash
    (firing,) = topics["opsrules.alerts.firing"]
    assert orjson.loads(firing.value)["partition"] == 3  # type: ignore[arg-type]
    assert [u.partition for u in updates] == [3]


def test_restoring_tombstones_firing_records_of_alerts_that_no_longer_fire(
    tmp_path: Path,
) -> None:
    batch, _ = verified_batch(tmp_path)
    stale = FiringAlert("f1", "disk_full", {"alertname": "disk_full"}, T0, partition=1)
    batch.context.firing.put(stale)
    batch.context.firing.put(FiringAlert("f2", "disk_full", {}, T0, partition=2))
    out, _ = batch.restore(1, {}, {}, T0)
    assert [(o.key, o.value) for o in out] == [(b"f1", None)]
    assert set(batch.context.firing.by_fingerprint) == {"f2"}


def test_history_covers_the_longest_budget_window(tmp_path: Path) -> None:
    settings = load_settings(decision_history_s=60)
    rulebook = rulebook_from_yaml(
        tmp_path,
        VERIFIED.replace(
            "        verify:", "        budgets: [{max: 1, per: 2h}]\n        verify:"
        ),
    )
    assert history_ms(settings, rulebook) == 2 * 3_600_000
    assert history_ms(load_settings(), rulebook) == 86_400_000
