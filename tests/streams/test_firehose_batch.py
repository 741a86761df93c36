"""The firehose's per-batch core without Kafka: every record is processed or
dead-lettered, even when a core fails on one."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
from aiokafka import TopicPartition

from processors.firehose.routing import Router
from streams.firehose import FirehoseBatch
from streams.metrics import Metrics
from streams.settings import load_settings
from tests.processors.rulebook_factory import shipped_rulebook

NOW_MS = 1_795_899_240_000


def records(topic: str, values: list[bytes]) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(topic=topic, partition=0, offset=i, key=b"web-1", value=v)
        for i, v in enumerate(values)
    ]


def cpu(offset_s: int, value: float = 0.5) -> bytes:
    return orjson.dumps(
        {
            "ts": NOW_MS + offset_s * 1000,
            "name": "system.cpu.utilization",
            "value": value,
            "host": "web-1",
        }
    )


def test_a_failing_core_dead_letters_the_record_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    metrics = Metrics()
    batch = FirehoseBatch(settings, shipped_rulebook(), metrics)
    topic = settings.topic(settings.topic_metrics)
    real_route = Router.route

    def route(self, record, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["offset"] == 1:
            raise ZeroDivisionError("boom")
        return real_route(self, record, **kwargs)

    monkeypatch.setattr(Router, "route", route)
    out = batch.process(
        {TopicPartition(topic, 0): records(topic, [cpu(0), cpu(1), cpu(2), b"{"])},
        now_ms=NOW_MS + 5_000,
    )
    letters = [orjson.loads(o.value) for o in out if o.topic == "ops.deadletter"]
    assert [(d["offset"], d["reason"]) for d in letters] == [
        (1, "processing_error"),
        (3, "malformed_json"),
    ]
    assert letters[0]["message"] == "ZeroDivisionError: boom"
    assert metrics.value("opsrules_records_total", topic=topic) == 4
    assert metrics.value("opsrules_records_processed_total", topic=topic) == 2
    assert metrics.total("opsrules_deadletters_total") == 2


def test_counter_series_forgotten_for_the_bound_are_counted() -> None:
    settings = load_settings(counter_series_max=2)  # OPSRULES_COUNTER_SERIES_MAX
    metrics = Metrics()
    batch = FirehoseBatch(settings, shipped_rulebook(), metrics)
    topic = settings.topic(settings.topic_metrics)
    tp = TopicPartition(topic, 0)
    # three hosts' running totals in turn: each evicts the least recently updated
    values = [
        orjson.dumps(
            {"ts": NOW_MS + i * 1000, "name": "requests", "value": i, "host": f"web-{i % 3}",
             "cumulative": True}
        )
        for i in range(6)
    ]  # fmt: skip
    batch.process({tp: records(topic, values)}, now_ms=NOW_MS + 10_000)
    assert metrics.value("opsrules_counter_series_evicted_total", topic=topic) == 4


def test_hosts_forgotten_for_the_join_bound_are_counted() -> None:
    settings = load_settings(counter_series_max=2)  # bounds the hosts joined, too
    metrics = Metrics()
    batch = FirehoseBatch(settings, shipped_rulebook(), metrics)
    topic = settings.topic(settings.topic_metrics)
    tp = TopicPartition(topic, 0)
    # Vector's memory readings of three hosts in turn
    values = [
        orjson.dumps(
            {"name": "memory_total_bytes", "namespace": "host", "kind": "absolute",
             "timestamp": f"2026-11-28T20:54:0{i}Z", "tags": {"host": f"web-{i % 3}"},
             "gauge": {"value": 8e9}}
        )
        for i in range(6)
    ]  # fmt: skip
    batch.process({tp: records(topic, values)}, now_ms=NOW_MS + 10_000)
    assert metrics.value("opsrules_host_joins_evicted_total", topic=topic) == 4
