"""Bad input on a real broker: each record dead-lettered with the right reason, the
worker keeps going, and the counters add up (in = processed + dead-lettered)."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from streams.topics import ensure_topics
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import M, aligned_start_ms, collect_outputs, send
from tests.kafka_io import run

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu(ts_ms: int, value: float = 0.5) -> bytes:
    return orjson.dumps(
        {"ts": ts_ms, "name": "system.cpu.utilization", "value": value, "host": "web-1"}
    )


def test_bad_records_are_dead_lettered_with_reasons_and_counted(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = _free_port()
    settings = isolated_settings(kafka_bootstrap, max_record_bytes=2048, web_port=port)
    start = aligned_start_ms(10 * M)
    now = int(time.time() * 1000)
    good = [("metrics", "web-1", cpu(start + i * 10_000)) for i in range(36)]  # 6 minutes
    bad = [  # (role, key, value, expected reason), all after the good ones
        ("metrics", "web-1", b"{not json", "malformed_json"),
        (
            "metrics",
            "web-1",
            b'{"ts": 1, "name": "x", "value": "hot", "host": "a"}',
            "invalid_schema",
        ),
        (
            "metrics",
            "web-1",
            b'{"ts": 1, "name": "x", "value": NaN, "host": "a"}',
            "non_finite_value",
        ),
        ("metrics", "web-1", cpu(now + 86_400_000), "timestamp_out_of_range"),
        ("metrics", "web-1", cpu(now - 30 * 86_400_000), "timestamp_out_of_range"),
        ("metrics", "web-1", b'{"pad": "' + b"x" * 3000 + b'"}', "too_large"),
        ("metrics", "web-1", cpu(start + 5_000), "late"),  # window [0, 1m) long closed
        ("logs", "checkout", b'{"ts": 1, "body": "no severity"}', "invalid_schema"),
        (
            "health",
            "checkout",
            orjson.dumps({"ts": now, "service": "checkout", "instance": "a", "status": "dead"}),
            "invalid_schema",
        ),
    ]
    run(ensure_topics(settings))
    run(send(settings, good + [(role, key, value) for role, key, value, _ in bad]))

    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            out = run(collect_outputs(settings))
            if len(out.deadletters) >= len(bad) or time.monotonic() > deadline:
                break
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]

    letters = sorted(
        (d.json()["topic"], d.json()["offset"], d.json()["reason"]) for d in out.deadletters
    )
    metrics_topic = settings.topic(settings.topic_metrics)
    expected = [(metrics_topic, 36 + i, reason) for i, (_, _, _, reason) in enumerate(bad[:7])]
    expected += [
        (settings.topic(settings.topic_logs), 0, "invalid_schema"),
        (settings.topic(settings.topic_health), 0, "invalid_schema"),
    ]
    assert letters == sorted(expected)
    originals = {(metrics_topic, 36 + i): value for i, (_, _, value, _) in enumerate(bad[:7])}
    for letter in out.deadletters:
        body = letter.json()
        assert body["message"]
        original = originals.get((body["topic"], body["offset"]))
        if original is not None:
            assert body["raw"] == original.decode()
            assert letter.key == "web-1"
    messages = {
        d.json()["offset"]: d.json()["message"]
        for d in out.deadletters
        if d.json()["topic"] == metrics_topic
    }
    assert messages[37].startswith("field 'value'")
    assert "in the future" in messages[39] and "old" in messages[40]
    assert "2048" in messages[41]

    text = metrics.decode()
    assert f'opsrules_records_total{{topic="{metrics_topic}"}} 43' in text
    assert f'opsrules_records_processed_total{{topic="{metrics_topic}"}} 36' in text
    assert f'opsrules_late_records_total{{topic="{metrics_topic}"}} 1' in text
    dead = sum(
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("opsrules_deadletters_total{") and metrics_topic in line
    )
    assert dead == 7 and 36 + dead == 43  # in = processed + dead-lettered
