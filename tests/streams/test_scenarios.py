from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from statistics import mean
from typing import Any

import pytest
from pydantic import BaseModel

from processors.records import HealthCheck, LogRecord, MetricBatch, OpsEvent
from streams.scenarios import (
    DURATION_MS,
    MINUTE_MS,
    SCENARIOS,
    Emit,
    UnknownScenarioError,
    generate,
)
from streams.simulate import add_simulate_parser, default_start_ms, max_ahead_ms

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole minute
NAMES = sorted(SCENARIOS)
MODELS: dict[str, type[BaseModel]] = {
    "metrics": MetricBatch,
    "logs": LogRecord,
    "health": HealthCheck,
    "events": OpsEvent,  # backups, in the scenarios that list them
}


def found_abnormal(emits: list[Emit]) -> set[tuple[str, str, int]]:
    """(condition, entity, minute after START_MS) for every epoch-aligned 1-minute window
    where a condition holds, computed straight from the records."""
    samples: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    errors: Counter[tuple[str, int]] = Counter()
    out: set[tuple[str, str, int]] = set()
    for emit in emits:
        minute = emit.at_ms // MINUTE_MS - START_MS // MINUTE_MS
        value = emit.value
        if emit.role == "metrics":
            for sample in value["samples"]:
                samples[(sample["name"], value["host"], minute)].append(sample["value"])
        elif emit.role == "logs" and value["severity_number"] >= 17:
            errors[(value["service"], minute)] += 1
        elif emit.role == "health" and value["status"] == "fail":
            out.add(("health", value["service"], minute))
    for (name, host, minute), values in samples.items():
        if name == "system.cpu.utilization" and mean(values) > 0.9:
            out.add(("cpu", host, minute))
        if name == "system.memory.utilization" and mean(values) > 0.9:
            out.add(("memory", host, minute))
        if name == "system.filesystem.utilization" and max(values) > 0.95:
            out.add(("filesystem", host, minute))
    out.update(("errors", service, minute) for (service, minute), n in errors.items() if n > 100)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_same_arguments_give_the_same_records(name: str) -> None:
    first = generate(name, start_ms=START_MS, seed=7)
    assert first == generate(name, start_ms=START_MS, seed=7)
    assert first != generate(name, start_ms=START_MS, seed=8)


@pytest.mark.parametrize("name", NAMES)
def test_every_record_validates_and_is_keyed_and_timed(name: str) -> None:
    emits = generate(name, start_ms=START_MS)
    assert [e.at_ms for e in emits] == sorted(e.at_ms for e in emits)
    assert emits[-1].at_ms < START_MS + DURATION_MS
    assert all(e.at_ms >= START_MS for e in emits if e.role != "events")  # backup histories
    assert {"metrics", "logs", "health"} <= {e.role for e in emits} <= set(MODELS)
    for emit in emits:
        record: Any = MODELS[emit.role].model_validate(emit.value)
        assert record.ts_ms == emit.at_ms == emit.value["ts"]
        assert isinstance(emit.value["ts"], int)
        keys = {"metrics": "host", "events": "entity"}
        expected_key = getattr(record, keys.get(emit.role, "service"))
        assert emit.key == expected_key


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_abnormal_windows_are_exactly_the_promised_ones(name: str, seed: int) -> None:
    scenario = SCENARIOS[name]
    emits = scenario.generate(start_ms=START_MS, seed=seed)
    assert found_abnormal(emits) == scenario.abnormal_windows()
    for abnormal in scenario.abnormal:
        assert f"{abnormal.entity} in the " in scenario.description
        assert f"[{abnormal.first}:00, {abnormal.end}:00)" in scenario.description


def test_healthy_has_no_abnormal_window_and_stays_in_its_ranges() -> None:
    emits = generate("healthy", start_ms=START_MS)
    assert found_abnormal(emits) == set()
    assert "No abnormal" in SCENARIOS["healthy"].description
    ranges = {
        "system.cpu.utilization": (0.15, 0.6),
        "system.memory.utilization": (0.35, 0.7),
        "system.filesystem.utilization": (0.40, 0.6),
    }
    errors: Counter[tuple[str, int]] = Counter()
    for emit in emits:
        if emit.role == "metrics":
            for sample in emit.value["samples"]:
                low, high = ranges.get(sample["name"], (0.0, 8.0))
                assert low <= sample["value"] <= high, sample
        elif emit.role == "health":
            assert emit.value["status"] == "pass"
            assert 5 <= emit.value["latency_ms"] <= 30
        elif emit.value["severity_number"] >= 17:
            errors[(emit.value["service"], (emit.at_ms - START_MS) // MINUTE_MS)] += 1
    assert max(errors.values()) <= 5


def test_background_every_10_seconds_per_host_and_instance() -> None:
    emits = generate("healthy", start_ms=START_MS)
    per_key = Counter((e.role, e.key) for e in emits if e.role != "logs")
    ticks = DURATION_MS // 10_000
    assert per_key == {
        ("metrics", "web-1"): ticks,
        ("metrics", "web-2"): ticks,
        ("metrics", "db-1"): ticks,
        ("health", "checkout"): 2 * ticks,
        ("health", "db"): ticks,
    }
    services = Counter((e.key, e.value["severity_text"]) for e in emits if e.role == "logs")
    for service in ("checkout", "db"):
        assert services[(service, "INFO")] >= 2 * ticks / 2  # a few per 10 s
        assert services[(service, "WARN")] > 0


@pytest.mark.parametrize("name", [n for n in NAMES if n != "healthy"])
def test_outside_its_entity_a_scenario_is_the_healthy_background(name: str) -> None:
    scenario_def = SCENARIOS[name]
    entities = {a.entity for a in scenario_def.abnormal} | {b.entity for b in scenario_def.backups}
    for release in scenario_def.releases:  # its deploy, and its hosts' request samples
        entities |= {release.entity, release.baseline_host, release.canary_host}
    healthy = generate("healthy", start_ms=START_MS)
    scenario = generate(name, start_ms=START_MS)
    assert [e for e in scenario if e.key not in entities] == [
        e for e in healthy if e.key not in entities
    ]


def test_error_burst_is_spread_over_both_checkout_instances() -> None:
    burst = [
        e
        for e in generate("error-burst", start_ms=START_MS)
        if e.value.get("body") == "payment gateway timeout after 3000 ms"
    ]
    per_minute = Counter((e.at_ms - START_MS) // MINUTE_MS for e in burst)
    assert set(per_minute) == {4, 5}
    assert all(150 <= n <= 200 for n in per_minute.values())
    assert {e.value["host"] for e in burst} == {"web-1", "web-2"}
    assert {e.value["severity_number"] for e in burst} == {17}


def test_service_down_checks_fail_without_latency() -> None:
    failing = [
        e.value
        for e in generate("service-down", start_ms=START_MS)
        if e.role == "health" and e.value["status"] == "fail"
    ]
    assert {(c["service"], c["instance"]) for c in failing} == {
        ("checkout", "web-1"),
        ("checkout", "web-2"),
    }
    assert len(failing) == 2 * 5 * 6  # two instances, five minutes, every 10 s
    assert all(c["latency_ms"] is None and c["message"] == "connection refused" for c in failing)


def test_memory_leak_restarts_in_the_tail() -> None:
    memory = [
        (e.at_ms - START_MS, s["value"])
        for e in generate("memory-leak", start_ms=START_MS)
        if e.role == "metrics" and e.key == "web-2"
        for s in e.value["samples"]
        if s["name"] == "system.memory.utilization"
    ]
    assert all(v >= 0.95 for t, v in memory if 6 * MINUTE_MS <= t < 12 * MINUTE_MS)
    assert all(0.45 <= v <= 0.55 for t, v in memory if t >= 12 * MINUTE_MS)


def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(UnknownScenarioError, match="healthy"):
        generate("nope", start_ms=START_MS)


# simulate's command line, the parts that need no Kafka.


def simulate_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opsrules")
    add_simulate_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["simulate", *argv])


def test_default_start_is_a_whole_minute_a_duration_ago() -> None:
    now_ms = START_MS + DURATION_MS + 12_345
    assert default_start_ms(now_ms) == START_MS


def test_simulate_list_prints_every_scenario_and_its_windows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = simulate_args("--list")
    assert args.handler(args, None) == 0
    out = capsys.readouterr().out
    for name, scenario in SCENARIOS.items():
        assert name in out
        assert scenario.description in out


def test_simulate_needs_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    args = simulate_args()
    assert args.handler(args, None) == 2
    assert "--scenario" in capsys.readouterr().err


def test_simulate_rejects_an_unknown_scenario() -> None:
    with pytest.raises(SystemExit):
        simulate_args("--scenario", "nope")


@pytest.mark.parametrize(
    ("start_ms", "speed", "ahead_ms"),
    [
        (START_MS, None, DURATION_MS),  # everything at once, from now on
        (START_MS, 1.0, 0),  # real time from now
        (START_MS, 60.0, DURATION_MS - DURATION_MS // 60),
        (START_MS - DURATION_MS, None, 0),  # the default start
        (START_MS - DURATION_MS, 60.0, -DURATION_MS // 60),
    ],
)
def test_how_far_ahead_of_the_clock_a_simulation_runs(
    start_ms: int, speed: float | None, ahead_ms: int
) -> None:
    assert max_ahead_ms(start_ms, speed, now_ms=START_MS) == ahead_ms
