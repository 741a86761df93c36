"""The shipped anomaly rule through the production cores without Kafka: metric samples
→ detector → anomaly signals read back as ``source: signal`` → windows → alert."""

from __future__ import annotations

import random

import pytest

from streams.offline import run_offline
from streams.settings import load_settings
from streams.worker import load_rulebook

CPU = "system.cpu.utilization"
T0 = 1_795_899_000_000  # a whole minute
STEP_MS = 10_000


def cpu_series(
    host: str, n: int = 600, seed: int = 1, shift_at: int | None = None, spike_at: int | None = None
) -> list[tuple[str, dict[str, object]]]:
    rnd = random.Random(seed)
    out: list[tuple[str, dict[str, object]]] = []
    for i in range(n):
        value = 0.3 + rnd.gauss(0, 0.02)
        if shift_at is not None and i >= shift_at:
            value += 0.3
        if spike_at is not None and i == spike_at:
            value = 0.95
        out.append(("metrics", {"ts": T0 + i * STEP_MS, "name": CPU, "value": value, "host": host}))
    return out


@pytest.fixture(scope="module")
def rulebook():  # type: ignore[no-untyped-def]
    return load_rulebook(load_settings())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_stationary_noisy_series_raises_no_alert(rulebook, seed: int) -> None:  # type: ignore[no-untyped-def]
    run = run_offline(rulebook, cpu_series("steady", seed=seed))
    assert [a for a in run.actions if a.rule_id == "host_cpu_anomalous"] == []
    assert all(s.values["score"] < 0.9 for s in run.signals if s.kind == "anomaly")


def test_a_level_shift_and_a_spike_fire_and_resolve(rulebook) -> None:  # type: ignore[no-untyped-def]
    records = cpu_series("web-1", shift_at=300, spike_at=500)
    run = run_offline(rulebook, records)
    anomalies = {(s.ts_ms - T0) // STEP_MS: s for s in run.signals if s.kind == "anomaly"}
    assert {300, 500} <= set(anomalies), sorted(anomalies)
    assert anomalies[300].values["score"] > 0.8 and anomalies[300].values["direction"] == 1.0
    assert anomalies[500].values["direction"] == 1.0
    actions = [a for a in run.actions if a.rule_id == "host_cpu_anomalous"]
    assert [(a.status, a.group) for a in actions][:2] == [
        ("firing", {"host": "web-1"}),
        ("resolved", {"host": "web-1"}),
    ]
    assert actions[0].starts_at == "2026-11-28T21:40:00.000Z"  # the minute of sample 300
