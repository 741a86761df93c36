"""Vector's host_metrics CPU and memory, joined from their readings into the host rules'
utilisations (processors/firehose/host_joins.py)."""

from __future__ import annotations

from typing import Any

import pytest

from processors.firehose.host_joins import HostJoins

T0 = 1_795_899_240_000
MODES = ("user", "system", "idle", "iowait", "guest")


def reading(name: str, value: float, ts_ms: int, host: str = "web-1", **labels: str) -> dict:
    return {
        "ts_ms": ts_ms,
        "name": name,
        "value": value,
        "unit": None,
        "host": host,
        "service": None,
        "labels": {"collector": "cpu", "kind": "absolute", **labels},
    }


def scrape(seconds: dict[str, float], ts_ms: int, cpus: int = 2, host: str = "web-1") -> list:
    """One CPU scrape: each CPU's running total of seconds per mode."""
    return [
        reading("host_cpu_seconds_total", total, ts_ms, host, cpu=str(cpu), mode=mode)
        for cpu in range(cpus)
        for mode, total in seconds.items()
    ]


def feed(joins: HostJoins, readings: list[dict]) -> list[tuple[int, dict[str, Any]]]:
    """(index of the reading that made it, sample) for each joined sample."""
    return [(i, made) for i, r in enumerate(readings) if (made := joins.add(r)) is not None]


def test_cpu_utilization_is_one_minus_the_idle_share_of_the_time_between_scrapes() -> None:
    joins = HostJoins(10)
    first = scrape({"user": 100, "system": 50, "idle": 800, "iowait": 50, "guest": 30}, T0)
    # per CPU in 10 s: user +6, system +1, idle +2, iowait +1 (busy), guest +5 (in user)
    second = scrape(
        {"user": 106, "system": 51, "idle": 802, "iowait": 51, "guest": 35}, T0 + 10_000
    )
    assert feed(joins, first) == []
    made = feed(joins, second)
    assert made == [
        (
            len(second) - 1,  # the reading that completes the scrape makes it
            {
                "ts_ms": T0 + 10_000,
                "name": "system.cpu.utilization",
                "value": 0.8,  # 1 - 4/20: guest is not counted twice
                "unit": "1",
                "host": "web-1",
                "service": None,
                "labels": {},
            },
        )
    ]


def test_each_scrape_makes_one_sample_and_hosts_are_joined_apart() -> None:
    joins = HostJoins(10)
    readings = []
    for step in range(4):
        for host, idle_per_scrape in (("web-1", 5), ("web-2", 1)):
            seconds = {"user": 10 - idle_per_scrape, "idle": idle_per_scrape}
            scaled = {m: 1000 + s * step for m, s in seconds.items()}
            readings += scrape(scaled, T0 + step * 10_000, host=host)
    made = [(m["host"], m["ts_ms"], m["value"]) for _, m in feed(joins, readings)]
    assert made == [
        (host, T0 + step * 10_000, value)
        for step in (1, 2, 3)
        for host, value in (("web-1", 0.5), ("web-2", 0.9))
    ]


def test_late_readings_and_reboots_make_nothing() -> None:
    joins = HostJoins(10)
    feed(joins, scrape({"user": 100, "idle": 100}, T0))
    assert feed(joins, scrape({"user": 110, "idle": 110}, T0 + 10_000)) != []
    # a reading older than the open scrape (a rewind, out of order) is ignored
    assert feed(joins, scrape({"user": 200, "idle": 100}, T0 + 5_000)) == []
    # a reboot: the totals start again, no sample, and the next scrape is measured from it
    assert feed(joins, scrape({"user": 1, "idle": 1}, T0 + 20_000)) == []
    [(_, made)] = feed(joins, scrape({"user": 4, "idle": 2}, T0 + 30_000))
    assert made["value"] == 0.75


def test_a_cpu_added_costs_one_scrape() -> None:
    joins = HostJoins(10)
    feed(joins, scrape({"user": 100, "idle": 100}, T0, cpus=1))
    # two CPUs now: the scrape is measured on the readings of the CPU it had before
    assert [
        (i, m["value"]) for i, m in feed(joins, scrape({"user": 110, "idle": 110}, T0 + 10_000))
    ] == [(1, 0.5)]
    [(index, made)] = feed(joins, scrape({"user": 115, "idle": 125}, T0 + 20_000, cpus=2))
    assert (index, made["value"]) == (3, 0.25)


def memory(total: float, available: float, ts_ms: int, host: str = "web-1") -> list[dict]:
    return [
        reading("host_memory_total_bytes", total, ts_ms, host, collector="memory"),
        reading("host_memory_available_bytes", available, ts_ms, host, collector="memory"),
    ]


@pytest.mark.parametrize("order", [1, -1], ids=["total first", "available first"])
def test_memory_utilization_is_the_share_not_available(order: int) -> None:
    joins = HostJoins(10)
    [(index, made)] = feed(joins, memory(8e9, 2e9, T0)[::order])
    assert index == 1
    assert made == {
        "ts_ms": T0,
        "name": "system.memory.utilization",
        "value": 0.75,
        "unit": "1",
        "host": "web-1",
        "service": None,
        "labels": {"state": "used"},
    }


def test_memory_readings_of_different_scrapes_are_not_joined() -> None:
    joins = HostJoins(10)
    total, available = memory(8e9, 2e9, T0)
    newer_available = memory(8e9, 4e9, T0 + 10_000)[1]
    assert feed(joins, [total, newer_available, available]) == []  # the older one is late
    assert [m["value"] for _, m in feed(joins, memory(8e9, 4e9, T0 + 10_000))] == [0.5]
    assert feed(joins, memory(0, 0, T0 + 20_000)) == []  # no total: no ratio


def test_hosts_beyond_the_bound_are_forgotten_least_recently_updated_first() -> None:
    joins = HostJoins(2)
    for host in ("a", "b", "c"):
        feed(joins, memory(8e9, 2e9, T0, host=host)[:1])
    assert (len(joins), joins.evicted) == (2, 1)
    assert feed(joins, memory(8e9, 2e9, T0, host="a")[1:]) == []  # "a" was forgotten
    assert [m["host"] for _, m in feed(joins, memory(8e9, 2e9, T0, host="c")[1:])] == ["c"]
