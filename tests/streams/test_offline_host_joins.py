"""Vector's host_metrics, as its kafka sink writes them (one reading per message), through
the production cores without Kafka: its CPU and memory readings are joined into the
utilisations the shipped host rules read, and those rules fire."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.offline import run_offline
from tests.processors.rulebook_factory import rulebook_from_yaml

HOSTS_YAML = Path(__file__).parents[2] / "rules" / "hosts.yaml"
T0 = 1_795_899_240_000  # a whole minute
CPUS = 2


def metric(name: str, value: float, ts_ms: int, tags: dict[str, str], counter: bool) -> bytes:
    """A Vector metric event, ``encoding.codec = "json"``."""
    stamp = datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    kind = "counter" if counter else "gauge"
    return orjson.dumps(
        {
            "name": name,
            "namespace": "host",
            "tags": tags,
            "timestamp": stamp,
            "kind": "absolute",
            kind: {"value": value},
        }
    )


def host_metrics(host: str, busy: float, used: float, scrapes: int) -> list[bytes]:
    """``scrapes`` scrapes 10 s apart: each CPU ``busy`` of its time (user), memory
    ``used`` of 16 GiB not available."""
    out = []
    for step in range(scrapes):
        ts_ms = T0 + step * 10_000
        for cpu in range(CPUS):
            for mode, share in (("user", busy), ("idle", 1 - busy), ("iowait", 0.0)):
                seconds = 1_000 + 10 * share * step
                tags = {"collector": "cpu", "cpu": str(cpu), "mode": mode, "host": host}
                out.append(metric("cpu_seconds_total", seconds, ts_ms, tags, counter=True))
        tags = {"collector": "memory", "host": host}
        out.append(metric("memory_total_bytes", 16 * 2**30, ts_ms, tags, counter=False))
        free = 16 * 2**30 * (1 - used)
        out.append(metric("memory_available_bytes", free, ts_ms, tags, counter=False))
    return out


def test_vector_host_metrics_fire_the_shipped_cpu_and_memory_rules(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, HOSTS_YAML.read_text())
    busy = host_metrics("busy-1", busy=0.95, used=0.95, scrapes=60)
    calm = host_metrics("calm-1", busy=0.50, used=0.50, scrapes=60)
    # one partition, keyed by host as the README's sink configuration keys them
    records = [("metrics", value) for pair in zip(busy, calm, strict=True) for value in pair]
    run = run_offline(rulebook, records)
    assert run.rejected == []
    means = {
        (s.rules[0], s.group["host"], round(s.values["mean"], 6))
        for s in run.signals
        if s.kind == "window" and s.values["count"]
    }
    # every window of each host reads its exact utilisation (calm-1's first windows are
    # sent too: a router that just started does not know they cannot change an alert)
    assert means == {
        ("host_cpu_saturated", "busy-1", 0.95),
        ("host_memory_pressure", "busy-1", 0.95),
        ("host_cpu_saturated", "calm-1", 0.5),
        ("host_memory_pressure", "calm-1", 0.5),
    }
    assert sorted({(a.rule_id, a.type, a.group["host"]) for a in run.actions}) == [
        ("host_cpu_saturated", "alert", "busy-1"),
        ("host_cpu_saturated", "scale", "busy-1"),
        ("host_memory_pressure", "alert", "busy-1"),
    ]
