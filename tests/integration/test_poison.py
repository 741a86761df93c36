"""A record that kills the worker outright (no exception to catch) is skipped after
``max_crashes_per_record`` crashes: the restarted worker dead-letters it and goes on,
and the actions are those of a run without it (the shipped rules but the policies
whose state a restart loses: tests/integration/test_crash.py)."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson
import pytest

from streams.scenarios import DURATION_MS, generate
from streams.topics import ensure_topics
from streams.worker_process import start_worker
from tests.integration.pipeline import M, aligned_start_ms, encode, send, worker_until_done
from tests.integration.test_crash import crash_settings, offline_at
from tests.kafka_io import run

pytestmark = pytest.mark.integration

PILL = "poison-pill-7f3a"


def test_a_record_that_kills_the_worker_is_dead_lettered_after_two_crashes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # OPSRULES_FAULT_KILL_ON makes the worker SIGKILL itself as it is about to handle
    # the pill, as the OOM killer would; it is a metric no rule reads, so the actions
    # of the scenario are the same with or without it.
    settings = crash_settings(
        kafka_bootstrap, tmp_path, fault_kill_on=PILL, max_crashes_per_record=2
    )
    start_ms = aligned_start_ms(DURATION_MS)
    emits = generate("cpu-saturation", start_ms=start_ms)
    expected = offline_at("cpu-saturation", start_ms, settings.rules_dir)
    pill = {"ts": start_ms + 4 * M, "name": "test.pill", "value": 0, "host": "web-1", "x": PILL}
    records = [(e.role, e.key, encode(e.value)) for e in emits]
    middle = len(records) // 2
    records.insert(middle, ("metrics", "web-1", orjson.dumps(pill)))
    run(ensure_topics(settings))
    run(send(settings, records))

    for attempt in (1, 2):  # the batch holding the pill, then the pill alone
        worker = start_worker(settings, log=tmp_path / f"crash-{attempt}.log")
        assert worker.wait(timeout=120) == -signal.SIGKILL, (
            tmp_path / f"crash-{attempt}.log"
        ).read_text()[-3000:]
    log = tmp_path / "worker.log"
    out = worker_until_done(settings, expected.signals, emits[-1].at_ms, log)

    letters = [d.json() for d in out.deadletters]
    assert [(d["reason"], d["raw"]) for d in letters] == [
        ("processing_error", orjson.dumps(pill).decode())
    ]
    assert "died 2 times" in letters[0]["message"]
    assert {a.json()["id"] for a in out.actions} == {a.id for a in expected.actions}
    assert "dead-lettered" in log.read_text()
