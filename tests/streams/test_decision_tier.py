"""The decision tier's per-batch core without Kafka: actions first, then the changed
alert states on the changelog partition of their signals; bad signals dead-lettered."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
from aiokafka import TopicPartition

from processors.engine import decisions
from streams.decision_tier import DecisionBatch
from streams.metrics import Metrics
from streams.schemas import Signal
from streams.settings import load_settings
from tests.processors.engine.rulebook_factory import shipped_rulebook

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
    assert orjson.loads(update.value)["alert"]["phase"] == "inactive"
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
    assert [orjson.loads(o.value)["status"] for o in out] == ["resolved"]

    restarted.revoke(TopicPartition(topic, 0))
    assert restarted.commits() == {} and restarted.stores == {}


def test_a_failing_core_dead_letters_the_signal_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    metrics = Metrics()
    batch = DecisionBatch(settings, shipped_rulebook(), metrics)
    topic = settings.topic(settings.topic_signals)
    real = decisions.decide
    calls = []

    def decide(signal, rulebook, store):  # type: ignore[no-untyped-def]
        calls.append(signal.id)
        if signal.id == "w1":
            raise ZeroDivisionError("boom")
        return real(signal, rulebook, store)

    monkeypatch.setattr("streams.decision_tier.decide", decide)
    signals = [disk_signal(0, 0.5), disk_signal(1, 0.99), disk_signal(2, 0.99)]
    out, _ = batch.process(batch_of(topic, 0, signals), now_ms=T0)
    assert calls == ["w0", "w1", "w2"]
    letters = [orjson.loads(o.value) for o in out if o.topic == "ops.deadletter"]
    assert [(d["offset"], d["reason"]) for d in letters] == [(1, "processing_error")]
    assert metrics.total("opsrules_signals_decided_total") == 3
