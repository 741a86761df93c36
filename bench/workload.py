"""The benches' workload: metric samples and metric batches of a fleet, pre-encoded,
with fixed event times and a fixed seed, so that the same arguments give the same
records (bench.firehose, bench.pipeline, the peers), and the shipped rulebook they go
through."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import orjson

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"  # the shipped rulebook

BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so core runs repeat exactly
ROUND_MS = 10_000  # each series sends once per 10 s of event time
SEED = 20_260_101

CPU = "system.cpu.utilization"
# Names inside a metric batch, cycled; the first three feed the shipped host rules.
BATCH_NAMES = (
    CPU,
    "system.memory.utilization",
    "system.filesystem.utilization",
    "system.cpu.load_average.1m",
    "system.network.io",
    "system.disk.io",
    "system.paging.usage",
    "process.cpu.time",
)


@dataclass(slots=True)
class FakeRecord:
    """The aiokafka ``ConsumerRecord`` fields the firehose reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Encoded:
    key: bytes
    value: bytes
    series: int  # index of the series (host): decides the partition in kafka mode


def _service(series: int) -> str:
    return f"svc-{series % 100}"


def sample_records(count: int, series: int, start_ms: int, seed: int = SEED) -> list[Encoded]:
    """``count`` single-sample records, one per series per round, rounds 10 s apart."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        round_, j = divmod(i, series)
        host = f"host-{j}"
        value = {
            "ts": start_ms + round_ * ROUND_MS,
            "name": CPU,
            "value": rng.uniform(0.05, 0.99),
            "host": host,
            "service": _service(j),
            "labels": {"cpu": "total"},
        }
        out.append(Encoded(host.encode(), orjson.dumps(value), j))
    return out


def batch_records(
    count: int, series: int, samples: int, start_ms: int, seed: int = SEED
) -> list[Encoded]:
    """``count`` metric batches of ``samples`` samples each, laid out like
    :func:`sample_records` (one batch per host per round)."""
    rng = random.Random(seed)
    names = BATCH_NAMES
    out = []
    for i in range(count):
        round_, j = divmod(i, series)
        host = f"host-{j}"
        value = {
            "ts": start_ms + round_ * ROUND_MS,
            "host": host,
            "service": _service(j),
            "samples": [
                {
                    "name": names[k % len(names)],
                    "value": rng.uniform(0.05, 0.99),
                    "labels": {"device": str(k // len(names))},
                }
                for k in range(samples)
            ],
        }
        out.append(Encoded(host.encode(), orjson.dumps(value), j))
    return out


def last_ts_ms(count: int, series: int, start_ms: int) -> int:
    return start_ms + (max(count, 1) - 1) // series * ROUND_MS


def span_ms(count: int, series: int) -> int:
    return last_ts_ms(count, series, 0)
