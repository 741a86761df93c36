"""The whole loop on a real broker: scenario in → exactly the expected actions out."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from streams.scenarios import DURATION_MS, generate
from streams.topics import ensure_topics
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import aligned_start_ms, encode, send, worker_until_done
from tests.kafka_io import run
from tests.streams.test_offline_scenarios import EXPECTED, offline_at

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_on_kafka_gives_exactly_the_expected_actions(
    scenario: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    start_ms = aligned_start_ms(DURATION_MS)
    emits = generate(scenario, start_ms=start_ms)
    run(ensure_topics(settings))
    run(send(settings, [(e.role, e.key, encode(e.value)) for e in emits]))

    expected = offline_at(scenario, start_ms)
    log = tmp_path / "worker.log"
    out = worker_until_done(settings, expected.signals, emits[-1].at_ms, log)

    got = sorted(
        (a.json()["rule_id"], a.json()["type"], a.json()["status"], a.json()["id"])
        for a in out.actions
    )
    assert got == sorted((a.rule_id, a.type, a.status, a.id) for a in expected.actions)
    assert len(got) == len(EXPECTED[scenario])
    assert out.deadletters == []
    for action in out.actions:
        body = action.json()
        assert action.key == body["fingerprint"]
        assert action.headers["ce_id"] == body["id"]
        assert action.headers["ce_type"] == f"dev.opsrules.action.{body['type']}.{body['status']}"
        assert action.topic == settings.topic(f"ops.actions.{body['type']}")
        assert b"\n" not in action.value
    summary = next(line for line in log.read_text().splitlines() if "firehose stopped" in line)
    counts = dict(re.findall(r"(\w+)=(\{[^}]*\})", summary))
    metrics_topic = settings.topic(settings.topic_metrics)
    sent = sum(1 for e in emits if e.role == "metrics")  # 270 but in bad-canary (+ requests)
    assert f"'{metrics_topic}': {sent}" in counts["records"]
    assert counts["records"] == counts["records_processed"]  # all processed, none lost
    assert "deadletters" not in counts


@pytest.mark.parametrize("stop", [signal.SIGINT, "timeout"])
def test_worker_stops_cleanly_on_ctrl_c_and_on_timeout(
    kafka_bootstrap: str, tmp_path: Path, stop: object
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    log = tmp_path / "worker.log"
    args = ("--timeout", "8") if stop == "timeout" else ()
    worker = start_worker(settings, *args, log=log)
    try:
        deadline = time.monotonic() + 60
        while "firehose consuming" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.2)
        if stop == signal.SIGINT:
            worker.send_signal(signal.SIGINT)
        code = worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, log.read_text()
    assert "firehose stopped" in log.read_text()
