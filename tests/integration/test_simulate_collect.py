"""The producers on a real broker: a simulated scenario and the psutil agent."""

from __future__ import annotations

import argparse
import time
from collections import Counter

import pytest

from processors.records import HealthCheck, MetricBatch
from streams.collect import MissingTopicError, add_collect_parser, run_collect
from streams.scenarios import generate
from streams.simulate import default_start_ms, run_simulation
from streams.topics import ensure_topics
from tests.conftest import isolated_settings
from tests.kafka_io import consume, run

pytestmark = pytest.mark.integration

ROLES = ("metrics", "logs", "health")


def test_simulation_writes_every_record_of_the_scenario(kafka_bootstrap: str) -> None:
    settings = isolated_settings(kafka_bootstrap)
    run(ensure_topics(settings))
    start_ms = default_start_ms(int(time.time() * 1000))
    expected = generate("error-burst", start_ms=start_ms, seed=3)
    lines: list[str] = []

    sent = run(
        run_simulation(
            settings, "error-burst", start_ms=start_ms, speed=None, seed=3, progress=lines.append
        )
    )

    assert sent == len(expected)
    assert lines and lines[-1].startswith(f"{sent}/{sent} records sent")
    want = Counter((e.role, e.key) for e in expected)
    got: Counter[tuple[str, str | None]] = Counter()
    for role in ROLES:
        topic = settings.topic(getattr(settings, f"topic_{role}"))
        count = sum(e.role == role for e in expected)
        received = run(consume(settings, topic, expect=count))
        assert len(received) == count, role
        got.update((role, r.key) for r in received)
        assert sorted(r.json()["ts"] for r in received) == sorted(
            e.at_ms for e in expected if e.role == role
        )
    assert got == want


def test_collect_sends_batches_and_heartbeats(kafka_bootstrap: str) -> None:
    settings = isolated_settings(kafka_bootstrap)
    run(ensure_topics(settings))
    parser = argparse.ArgumentParser(prog="opsrules")
    add_collect_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["collect", "--count", "2", "--interval", "0.2", "--host", "itest-host"]
    )

    assert args.handler(args, settings) == 0

    batches = run(consume(settings, settings.topic(settings.topic_metrics), expect=2))
    beats = run(consume(settings, settings.topic(settings.topic_health), expect=2))
    assert [r.key for r in batches] == ["itest-host", "itest-host"]
    assert [r.key for r in beats] == ["opsrules-collect", "opsrules-collect"]
    parsed = [MetricBatch.model_validate(r.json()) for r in batches]
    assert all(b.host == "itest-host" and b.samples for b in parsed)
    checks = [HealthCheck.model_validate(r.json()) for r in beats]
    assert {(c.check, c.status, c.instance) for c in checks} == {
        ("heartbeat", "pass", "itest-host")
    }
    assert parsed[0].ts_ms < parsed[1].ts_ms


def test_collect_refuses_to_start_without_its_topics(kafka_bootstrap: str) -> None:
    settings = isolated_settings(kafka_bootstrap)  # no ensure_topics

    with pytest.raises(MissingTopicError, match="opsrules topics create"):
        run(run_collect(settings, interval_s=0.1, count=1))
