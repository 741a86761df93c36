"""Cumulative counters from a shipper through the production cores without Kafka
(streams.offline): an OTLP cumulative sum becomes ``<name>.rate`` samples that a
windowed rule reads like any metric."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.offline import run_offline
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
T0 = 1_795_899_240_000  # a whole minute

RULES = """
rules:
  - id: request_rate_high
    source: metric
    match: name == "http.server.requests.rate"
    window: {size: 1m, stat: mean, grace: 0s}
    condition: value > 10
    group_by: [host]
"""


def export(host: str, ts_ms: int, total: int, temporality: int = 2) -> bytes:
    """The Collector's kafka exporter's message (otlp_json): one point of a monotonic
    sum, the running total of requests on ``host``."""
    point = {"timeUnixNano": str(ts_ms * 10**6), "asInt": str(total)}
    return orjson.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {
                        "attributes": [{"key": "host.name", "value": {"stringValue": host}}]
                    },
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "http.server.requests",
                                    "unit": "{request}",
                                    "sum": {
                                        "aggregationTemporality": temporality,
                                        "isMonotonic": True,
                                        "dataPoints": [point],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )


def counters(per_10s: dict[str, int], temporality: int = 2) -> list[tuple[str, bytes]]:
    """Every 10 s for 3 minutes, each host's counter grown by its increase; ``busy``'s
    process restarts between 90 s and 100 s (its counter starts again from 0)."""
    out = []
    for step in range(19):
        for host, increase in per_10s.items():
            total = 1_000 + increase * step
            if host == "busy" and step >= 10:
                total = increase * (step - 10) + 5  # restarted after 90 s
            out.append(("metrics", export(host, T0 + step * 10 * S, total, temporality)))
    return out


def test_a_cumulative_sum_gives_rate_windows_a_rule_fires_on(tmp_path: Path) -> None:
    # busy: 12 requests/s, over the threshold; calm: 2/s, a near miss
    run = run_offline(rulebook_from_yaml(tmp_path, RULES), counters({"busy": 120, "calm": 20}))
    assert run.rejected == []
    windows = [
        (s.group["host"], (s.window_start_ms - T0) // S, s.values["count"], s.values["mean"])
        for s in run.signals
        if s.kind == "window" and s.window_start_ms is not None and s.values["count"]
    ]
    # Each series' first sample gives no rate, and busy's first after its restart none
    # either: every other interval gives its exact rate, and the reset no dip or spike.
    assert [w for w in windows if w[0] == "busy"] == [
        ("busy", 0, 5.0, 12.0),
        ("busy", 60, 5.0, 12.0),  # 100 s: the reset
        ("busy", 120, 6.0, 12.0),
        ("busy", 180, 1.0, 12.0),
    ]
    assert {w[3] for w in windows if w[0] == "calm"} == {2.0}
    assert {(a.rule_id, a.group["host"], a.status) for a in run.actions} >= {
        ("request_rate_high", "busy", "firing")
    }
    assert all(a.group["host"] == "busy" for a in run.actions)


def test_a_delta_sum_is_no_running_total_and_gives_no_rate(tmp_path: Path) -> None:
    run = run_offline(rulebook_from_yaml(tmp_path, RULES), counters({"busy": 120}, 1))
    assert run.rejected == [] and run.signals == [] and run.actions == []


def native(host: str, ts_ms: int, total: int, batch: bool) -> bytes:
    """Our own record of the same running total: a single sample or a batch's sample,
    marked ``"cumulative": true``."""
    sample = {"name": "http.server.requests", "value": total, "cumulative": True}
    if batch:
        return orjson.dumps({"ts_ms": ts_ms, "host": host, "samples": [sample]})
    return orjson.dumps({"ts_ms": ts_ms, "host": host, **sample})


def test_native_samples_and_batch_samples_marked_cumulative_give_the_same_rates(
    tmp_path: Path,
) -> None:
    def rates(batch: bool) -> list[tuple[str, int, float]]:
        records = [
            ("metrics", native("busy", T0 + step * 10 * S, 1_000 + 120 * step, batch))
            for step in range(19)
        ]
        run = run_offline(rulebook_from_yaml(tmp_path, RULES), records)
        assert run.rejected == []
        return [
            (s.group["host"], s.values["count"], s.values["mean"])
            for s in run.signals
            if s.kind == "window" and s.values["count"]
        ]

    expected = [("busy", 5.0, 12.0), ("busy", 6.0, 12.0), ("busy", 6.0, 12.0), ("busy", 1.0, 12.0)]
    assert rates(batch=False) == expected
    assert rates(batch=True) == expected
