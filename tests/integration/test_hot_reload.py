"""Hot reload on a running worker: a good edit takes effect without a restart and keeps
the state of unchanged rules; a bad edit is refused with the check messages in the log
while alerts keep flowing."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import pytest

from streams.topics import action_topic, ensure_topics
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import send
from tests.kafka_io import consume, run

pytestmark = pytest.mark.integration

M = 60_000

BOOM = """
rules:
  - id: boom_logged
    source: log
    match: body contains "boom"
    group_by: [service]
    annotations: {summary: "boom in {{ service }}"}
"""
OOPS = """
  - id: oops_logged
    source: log
    match: body contains "oops"
    group_by: [service]
"""


def log_record(ts_ms: int, body: str) -> tuple[str, str, bytes]:
    record = {"ts": ts_ms, "service": "checkout", "severity_text": "ERROR", "body": body}
    return ("logs", "checkout", orjson.dumps(record))


def wait_for_line(log: Path, text: str, count: int = 1, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while log.read_text(errors="replace").count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not in the worker's log"
        time.sleep(0.2)


def test_good_edits_apply_and_bad_edits_are_refused_while_alerts_flow(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "logs.yaml").write_text(BOOM)
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules, rules_reload_interval_s=0.3)
    alerts_topic = action_topic(settings, "alert")
    base_ms = (int(time.time() * 1000) - 60 * M) // M * M
    run(ensure_topics(settings))
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    try:
        run(send(settings, [log_record(base_ms, "boom 1")]))
        first = run(consume(settings, alerts_topic, expect=1, settle_s=0.5))
        assert [a.json()["rule_id"] for a in first] == ["boom_logged"]

        # A good edit: a new rule. boom_logged is unchanged, so its firing carries over.
        (rules / "logs.yaml").write_text(BOOM + OOPS)
        wait_for_line(log, "rules reloaded")
        run(
            send(
                settings,
                [log_record(base_ms + 2 * M, "boom 2"), log_record(base_ms + 3 * M, "oops 1")],
            )
        )
        second = run(consume(settings, alerts_topic, expect=2, settle_s=2))
        assert [a.json()["rule_id"] for a in second] == ["boom_logged", "oops_logged"]

        # A bad edit is refused with check's messages; the rules that ran keep running.
        (rules / "logs.yaml").write_text(BOOM + OOPS + "  - id: Bad Id\n    source: log\n")
        wait_for_line(log, "are not valid")
        wait_for_line(log, "logs.yaml:")
        run(send(settings, [log_record(base_ms + 20 * M, "boom 3 (a new firing)")]))
        third = run(consume(settings, alerts_topic, expect=3, settle_s=2))
        booms = sorted(str(a.json()["ts"]) for a in third if a.json()["rule_id"] == "boom_logged")
        assert len(third) == 3 and len(booms) == 2 and booms[0] != booms[1]
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "added ['oops_logged']" in text
    assert "rule Bad Id" in text or "Bad Id" in text
