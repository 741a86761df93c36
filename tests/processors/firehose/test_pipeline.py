"""PartitionPipeline: a cumulative counter's rate is fed after it, at the next index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processors.firehose.pipeline import PartitionPipeline
from processors.ids import stable_id
from processors.records import Signal
from tests.processors.rulebook_factory import rulebook_from_yaml

T0 = 1_795_899_240_000

RULES = """
rules:
  - id: requests_flowing
    source: metric
    match: name == "requests.rate"
    condition: value > 1
    group_by: [host]
  - id: errors_seen
    source: metric
    match: name == "errors"
    condition: value > 0
    group_by: [host]
"""


def message(ts_s: int, requests: float) -> list[dict[str, Any]]:
    """One shipper message as ingest gives it: a running total of requests, then a
    plain sample."""
    base = {"ts_ms": T0 + ts_s * 1000, "unit": None, "host": "h", "service": None, "labels": {}}
    return [
        base | {"name": "requests", "value": requests, "cumulative": True},
        base | {"name": "errors", "value": 1.0},
    ]


def fed(pipeline: PartitionPipeline, messages: dict[int, list[dict[str, Any]]]) -> list[Signal]:
    out: list[Signal] = []
    for offset, records in messages.items():
        pipeline.feed(records, offset=offset, now_ms=T0, out=out)
    return out


def test_the_rate_follows_its_counter_and_ids_do_not_depend_on_what_came_before(
    tmp_path: Path,
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)

    def pipeline() -> PartitionPipeline:
        return PartitionPipeline(rulebook, "metric", ref_prefix="m/0", idle_timeout_ms=30_000)

    first = fed(pipeline(), {0: message(0, 10), 1: message(10, 60)})
    # offset 0: the counter's first sample, no rate; offset 1: the rate, index 1
    assert [(s.rules, s.id) for s in first] == [
        (["errors_seen"], stable_id("record", "errors_seen", "m/0/0/2")),
        (["requests_flowing"], stable_id("record", "requests_flowing", "m/0/1/1")),
        (["errors_seen"], stable_id("record", "errors_seen", "m/0/1/2")),
    ]
    assert first[1].record is not None and first[1].record["value"] == 5.0
    # Replayed from offset 1 into a fresh pipeline (a restart): no rate to make, and the
    # errors sample keeps its id (index 2, the rate's kept).
    replayed = fed(pipeline(), {1: message(10, 60)})
    assert [s.id for s in replayed] == [first[2].id]


def test_other_sources_have_no_rates(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    assert PartitionPipeline(rulebook, "log", ref_prefix="l/0", idle_timeout_ms=1).rates is None
    metric = PartitionPipeline(
        rulebook, "metric", ref_prefix="m/0", idle_timeout_ms=1, max_counter_series=7
    )
    assert metric.rates is not None and metric.rates.max_series == 7
