from __future__ import annotations

import argparse

import pytest

from processors.records import HealthCheck, MetricBatch
from streams.collect import (
    DEFAULT_SERVICE,
    DiskReading,
    NicReading,
    Readings,
    add_collect_parser,
    prime_cpu,
    read_psutil,
    snapshot,
)

TS_MS = 1_767_225_600_000
GIB = 1024**3
READINGS = Readings(
    cpu_percent=37.5,
    memory_total_bytes=16 * GIB,
    memory_available_bytes=4 * GIB,
    disks=(
        DiskReading("/", "/dev/vda1", used_bytes=30 * GIB, free_bytes=70 * GIB),
        DiskReading("/data", "/dev/vdb", used_bytes=1, free_bytes=2),
    ),
    nics=(NicReading("eth0", received_bytes=1_000, transmitted_bytes=2_000),),
    load_average=(1.234, 0.5, 0.25),
)


def test_snapshot_of_fixed_readings() -> None:
    batch, heartbeat = snapshot(READINGS, host="web-1", service="checkout", ts_ms=TS_MS)
    assert batch == {
        "ts": TS_MS,
        "host": "web-1",
        "service": "checkout",
        "samples": [
            {"name": "system.cpu.utilization", "value": 0.375},
            {
                "name": "system.memory.utilization",
                "value": 0.75,
                "labels": {"state": "used"},
            },
            {"name": "system.memory.usage", "value": 12 * GIB, "labels": {"state": "used"}},
            {
                "name": "system.filesystem.utilization",
                "value": 0.3,
                "labels": {"mountpoint": "/", "device": "/dev/vda1"},
            },
            {
                "name": "system.filesystem.utilization",
                "value": 0.3333,
                "labels": {"mountpoint": "/data", "device": "/dev/vdb"},
            },
            {
                "name": "system.network.io",
                "value": 1_000,
                "labels": {"device": "eth0", "direction": "receive"},
                "cumulative": True,
            },
            {
                "name": "system.network.io",
                "value": 2_000,
                "labels": {"device": "eth0", "direction": "transmit"},
                "cumulative": True,
            },
            {"name": "system.cpu.load_average.1m", "value": 1.23},
            {"name": "system.cpu.load_average.5m", "value": 0.5},
            {"name": "system.cpu.load_average.15m", "value": 0.25},
        ],
    }
    assert heartbeat == {
        "ts": TS_MS,
        "service": "checkout",
        "instance": "web-1",
        "check": "heartbeat",
        "status": "pass",
        "host": "web-1",
    }
    assert MetricBatch.model_validate(batch).ts_ms == TS_MS
    assert HealthCheck.model_validate(heartbeat).status == "pass"


@pytest.mark.parametrize(
    ("cpu_percent", "available_bytes", "used_bytes", "free_bytes"),
    [
        (0.0, 16 * GIB, 0, 10),  # idle, empty disk
        (100.0, 0, 10, 0),  # saturated, full disk
        (100.4, 0, 0, 0),  # psutil rounding over 100, a zero-size filesystem
    ],
)
def test_ratios_stay_within_0_and_1(
    cpu_percent: float, available_bytes: int, used_bytes: int, free_bytes: int
) -> None:
    readings = Readings(
        cpu_percent=cpu_percent,
        memory_total_bytes=16 * GIB,
        memory_available_bytes=available_bytes,
        disks=(DiskReading("/", "/dev/vda1", used_bytes, free_bytes),),
        nics=(),
        load_average=(0.0, 0.0, 0.0),
    )
    batch, _ = snapshot(readings, host="h", service="s", ts_ms=TS_MS)
    ratios = [s["value"] for s in batch["samples"] if s["name"].endswith(".utilization")]
    assert len(ratios) == 3
    assert all(0.0 <= r <= 1.0 for r in ratios)


def test_a_real_reading_validates() -> None:
    prime_cpu()
    batch, heartbeat = snapshot(read_psutil(), host="here", service="collect", ts_ms=TS_MS)
    samples = MetricBatch.model_validate(batch).expand()
    names = {s["name"] for s in samples}
    assert {
        "system.cpu.utilization",
        "system.memory.utilization",
        "system.memory.usage",
        "system.cpu.load_average.1m",
        "system.cpu.load_average.5m",
        "system.cpu.load_average.15m",
    } <= names
    assert any(s["labels"].get("mountpoint") for s in samples)  # at least one local disk
    for sample in samples:
        if sample["name"].endswith(".utilization"):
            assert 0.0 <= sample["value"] <= 1.0
    HealthCheck.model_validate(heartbeat)


def collect_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opsrules")
    add_collect_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["collect", *argv])


def test_collect_arguments_and_defaults() -> None:
    args = collect_args()
    assert (args.interval, args.count, args.host, args.service) == (
        10.0,
        None,
        None,
        "opsrules-collect",
    )
    assert args.service == DEFAULT_SERVICE
    args = collect_args("--interval", "0.5", "--count", "3", "--host", "h1", "--service", "s")
    assert (args.interval, args.count, args.host, args.service) == (0.5, 3, "h1", "s")
    assert callable(args.handler)


@pytest.mark.parametrize("argv", [["--interval", "0"], ["--count", "0"], ["--interval", "x"]])
def test_collect_rejects_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        collect_args(*argv)
