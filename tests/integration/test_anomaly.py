"""Anomaly detection on the real broker: metric samples → the detector in the firehose →
anomaly signals on ops.signals → read back as ``source: signal`` → the shipped
``host_cpu_anomalous`` rule → an alert. A stationary noisy series yields none."""

from __future__ import annotations

import random
import shutil
import signal
from pathlib import Path

import orjson
import pytest

from processors.timestamps import format_ts
from streams.topics import action_topic, ensure_topics
from streams.worker_process import start_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.pipeline import aligned_start_ms, send
from tests.kafka_io import consume, run

pytestmark = pytest.mark.integration

CPU = "system.cpu.utilization"
STEP_MS = 10_000
POINTS = 600  # 100 minutes


def series(host: str, start_ms: int, seed: int, shift_at: int | None, spike_at: int | None):  # type: ignore[no-untyped-def]
    rnd = random.Random(seed)
    for i in range(POINTS):
        value = 0.3 + rnd.gauss(0, 0.02)
        if shift_at is not None and i >= shift_at:
            value += 0.3
        if spike_at is not None and i == spike_at:
            value = 0.95
        record = {"ts": start_ms + i * STEP_MS, "name": CPU, "value": value, "host": host}
        yield ("metrics", host, orjson.dumps(record))


def test_a_level_shift_and_a_spike_alert_and_a_stationary_series_does_not(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO / "rules" / "anomaly.yaml", rules)
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules)
    start_ms = aligned_start_ms(POINTS * STEP_MS)
    records = [
        *series("web-shifted", start_ms, seed=1, shift_at=300, spike_at=500),
        *series("web-steady", start_ms, seed=2, shift_at=None, spike_at=None),
    ]
    records.sort(key=lambda r: orjson.loads(r[2])["ts"])
    run(ensure_topics(settings))
    run(send(settings, records))

    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        alerts = run(consume(settings, action_topic(settings, "alert"), expect=2, timeout_s=90))
        signals = run(consume(settings, settings.topic(settings.topic_signals), expect=0))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    anomalies = [s.json() for s in signals if s.json()["kind"] == "anomaly"]
    by_host: dict[str, list[dict[str, object]]] = {}
    for anomaly in anomalies:
        by_host.setdefault(str(anomaly["key"]), []).append(anomaly)
    shifted_points = sorted(
        (int(str(a["ts_ms"])) - start_ms) // STEP_MS for a in by_host["web-shifted"]
    )
    assert 300 in shifted_points and 500 in shifted_points, shifted_points
    assert all(float(a["values"]["score"]) < 0.8 for a in by_host.get("web-steady", []))  # type: ignore[index]

    got = [(a.json()["status"], a.json()["group"]) for a in alerts]
    shifted = {"host": "web-shifted"}
    assert got == [("firing", shifted), ("resolved", shifted)]
    firing = alerts[0].json()
    assert firing["evidence"][0]["values"]["max"] > 0.8  # type: ignore[index]
    shift_ms = start_ms + 300 * STEP_MS
    assert firing["starts_at"] == format_ts(shift_ms - shift_ms % 60_000)  # its minute
