"""The walking skeleton on a real broker: metrics → signals → alert actions."""

from __future__ import annotations

import signal
import time

import orjson
import pytest

from processors.skeleton import decide, sample_to_signal
from streams.firehose import FIREHOSE_GROUP
from streams.schemas import MetricSample
from streams.topics import ensure_topics
from tests.conftest import isolated_settings
from tests.integration.worker_process import start_worker
from tests.kafka_io import committed_offsets, consume, end_offsets, produce, run

pytestmark = pytest.mark.integration

NOW_S = time.time()
GOOD = [
    {"ts": NOW_S, "name": "system.cpu.utilization", "value": 0.5, "host": "web-1"},
    {"ts": NOW_S + 1, "name": "system.cpu.utilization", "value": 0.95, "host": "web-1"},
    {
        "ts": int((NOW_S + 2) * 1000),
        "name": "system.memory.utilization",
        "value": 0.99,
        "host": "web-2",
        "labels": {"state": "used"},
    },
]
BAD = {
    "web-3": (b"{not json", "malformed_json"),
    "web-4": (b'{"ts": 1, "name": "x", "value": "high", "host": "web-4"}', "invalid_schema"),
    "web-5": (b'{"ts": 1, "name": "x", "value": NaN, "host": "web-5"}', "non_finite_value"),
}


def expected_actions() -> dict[str, dict[str, object]]:
    out = {}
    for record in GOOD:
        action = decide(sample_to_signal(MetricSample.model_validate(record)), now_ms=0)
        if action is not None:
            out[action.id] = action.model_dump(mode="json", exclude={"ts"})
    return out


def test_records_travel_metrics_to_signals_to_alerts(kafka_bootstrap: str, tmp_path) -> None:
    settings = isolated_settings(kafka_bootstrap)
    run(ensure_topics(settings))
    metrics = settings.topic(settings.topic_metrics)
    run(produce(settings, metrics, [(r["host"], orjson.dumps(r)) for r in GOOD]))
    run(produce(settings, metrics, [(key, raw) for key, (raw, _) in BAD.items()]))

    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        alerts = run(consume(settings, settings.topic(settings.topic_actions_alert), expect=2))
        letters = run(consume(settings, settings.topic(settings.topic_deadletter), expect=3))
        signals = run(consume(settings, settings.topic(settings.topic_signals), expect=3))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    log = (tmp_path / "worker.log").read_text()
    assert code == 0, log

    # Exactly the two alerts the skeleton rule makes, keyed by host, with CloudEvents.
    expected = expected_actions()
    assert len(expected) == 2
    got = {a.json()["id"]: a for a in alerts}
    assert set(got) == set(expected)
    for action_id, received in got.items():
        body = received.json()
        body.pop("ts")
        assert body == expected[action_id]
        assert received.key == expected[action_id]["group"]["host"]  # type: ignore[index]
        assert received.headers["ce_specversion"] == "1.0"
        assert received.headers["ce_id"] == action_id
        assert received.headers["ce_type"] == "dev.opsrules.action.alert"
        assert received.headers["ce_source"] == f"opsrules/{settings.app_id}"
        assert received.headers["content-type"] == "application/json"
        assert b"\n" not in received.value

    # Every input processed or dead-lettered: 3 signals + 3 dead letters = 6 records in.
    assert sorted(s.json()["value"] for s in signals) == [0.5, 0.95, 0.99]
    reasons = {d.key: d.json()["reason"] for d in letters}
    assert reasons == {key: reason for key, (_, reason) in BAD.items()}
    for letter in letters:
        body = letter.json()
        assert body["topic"] == metrics
        assert body["raw"] == BAD[letter.key][0].decode()
    assert f"records_in={{'{metrics}': 6}}" in log

    # Clean stop: every input offset committed, by the firehose and by faust
    # (partitions that never held a record have no committed offset).
    def fully_committed(group: str, topic: str) -> None:
        ends = {p: o for p, o in run(end_offsets(settings, topic)).items() if o}
        assert ends
        assert run(committed_offsets(settings, group, topic)) == ends

    fully_committed(settings.group_id(FIREHOSE_GROUP), metrics)
    fully_committed(settings.app_id, settings.topic(settings.topic_signals))


@pytest.mark.parametrize("stop", [signal.SIGINT, "timeout"])
def test_worker_stops_cleanly_on_ctrl_c_and_on_timeout(
    kafka_bootstrap: str, tmp_path, stop: object
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    log_path = tmp_path / "worker.log"
    args = ("--timeout", "8") if stop == "timeout" else ()
    worker = start_worker(settings, *args, log=log_path)
    try:
        deadline = time.monotonic() + 60
        while "firehose consuming" not in log_path.read_text():
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.2)
        if stop == signal.SIGINT:
            worker.send_signal(signal.SIGINT)
        code = worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    log = log_path.read_text()
    assert code == 0, log
    assert "firehose stopped" in log
