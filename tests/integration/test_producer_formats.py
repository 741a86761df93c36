"""Shippers' formats end to end: Telegraf line protocol and OTLP/JSON host metrics on a
real broker, through a real worker, fire the shipped host rules — exactly the actions the
offline runner gives for the same bytes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from processors.timestamps import parse_ts_ms
from streams.offline import run_offline
from streams.topics import ensure_topics
from tests.conftest import isolated_settings
from tests.integration.pipeline import aligned_start_ms, send, worker_until_done
from tests.kafka_io import run
from tests.processors.rulebook_factory import shipped_rulebook

pytestmark = pytest.mark.integration

M = 60_000
DURATION_MS = 8 * M
STEP_MS = 10_000


def telegraf_lines(host: str, at_ms: int) -> list[bytes]:
    """What Telegraf's cpu and mem inputs send, one line per message (its default)."""
    ns = at_ms * 1_000_000
    return [
        f"cpu,cpu=cpu-total,host={host} usage_idle=3,usage_user=90.5,usage_system=6 {ns}".encode(),
        f"mem,host={host} used_percent=42.5,available=4096i {ns}".encode(),
    ]


def otlp_export(host: str, at_ms: int) -> bytes:
    """What the Collector's hostmetrics receiver sends through the kafka exporter with
    encoding otlp_json: memory utilisation per state, 64-bit times as strings."""

    def point(state: str, value: float) -> dict[str, object]:
        return {
            "timeUnixNano": str(at_ms * 1_000_000),
            "asDouble": value,
            "attributes": [{"key": "state", "value": {"stringValue": state}}],
        }

    resource = {
        "attributes": [
            {"key": "host.name", "value": {"stringValue": host}},
            {"key": "service.name", "value": {"stringValue": "otelcol"}},
        ]
    }
    memory = {
        "name": "system.memory.utilization",
        "unit": "1",
        "gauge": {"dataPoints": [point("used", 0.95), point("free", 0.05)]},
    }
    scope = {"scope": {"name": "hostmetricsreceiver/memory"}, "metrics": [memory]}
    return orjson.dumps({"resourceMetrics": [{"resource": resource, "scopeMetrics": [scope]}]})


def test_telegraf_and_otlp_host_metrics_fire_the_shipped_host_rules(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    start_ms = aligned_start_ms(DURATION_MS)
    records: list[tuple[str, str, bytes]] = []
    for at_ms in range(start_ms, start_ms + DURATION_MS, STEP_MS):
        records += [("metrics", "tg-1", line) for line in telegraf_lines("tg-1", at_ms)]
        records.append(("metrics", "otel-1", otlp_export("otel-1", at_ms)))

    expected = run_offline(shipped_rulebook(), [(role, value) for role, _, value in records])
    assert expected.rejected == []
    fired = {(a.rule_id, a.group["host"], a.type) for a in expected.actions}
    assert fired == {
        ("host_cpu_saturated", "tg-1", "alert"),
        ("host_cpu_saturated", "tg-1", "scale"),
        ("host_memory_pressure", "otel-1", "alert"),
    }

    run(ensure_topics(settings))
    run(send(settings, records))
    last_ms = start_ms + DURATION_MS - STEP_MS
    out = worker_until_done(settings, expected.signals, last_ms, tmp_path / "worker.log")

    # After the last record the offline runner lets virtual time run on (its resolutions);
    # a worker on Kafka decides what the records decided, up to their last closed window.
    settled_ms = last_ms - M
    want = sorted(
        (a.rule_id, a.type, a.status, a.id)
        for a in expected.actions
        if parse_ts_ms(a.ts) <= settled_ms
    )
    got = sorted(
        (a.json()["rule_id"], a.json()["type"], a.json()["status"], a.json()["id"])
        for a in out.actions
        if parse_ts_ms(a.json()["ts"]) <= settled_ms
    )
    assert out.deadletters == []
    assert got == want, (got, want)
