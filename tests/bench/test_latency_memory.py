"""Smoke runs of ``python -m bench.memory`` and ``python -m bench.latency``: the JSON
they print and their counts, never their timings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import memory
from bench.latency import cli as latency_cli
from bench.latency import figures, rulebook


def _run(main: Any, *argv: str) -> dict[str, Any]:
    printed: list[str] = []
    assert main([*argv, "--json"], out=printed.append) == 0
    assert len(printed) == 1
    result: dict[str, Any] = json.loads(printed[0])
    return result


def test_memory_mode_with_a_few_series() -> None:
    result = _run(memory.main, "--series", "2000")
    assert result["mode"] == "memory"
    assert result["series"] == 2000
    for key in (
        "rss_per_series_bytes",
        "open_rss_per_series_bytes",
        "peak_rss_bytes",
    ):
        assert result[key] > 0, key
    run = result["runs"]["2000"]
    assert run["open_windows"] == run["emitted"] == run["known_series"] == 2000
    assert run["pending_empty_windows"] == 2000  # each known series awaits its next window
    assert run["peak_rss_bytes"] >= run["baseline_rss_bytes"] > 0
    traced = result["traces"]["2000"]
    assert traced["traced_open_bytes_per_series"] > 0
    assert traced["traced_idle_bytes_per_series"] > 0
    assert traced["traced_open_top"] and traced["traced_idle_top"]
    assert set(result["goals"]) == {"idle_under_1_kib", "largest_peak_under_2_gib"}


def test_memory_series_list_parses_counts() -> None:
    assert memory.series_list("100_000,1000") == [100_000, 1000]
    with pytest.raises(Exception, match="must be >= 1"):
        memory.series_list("0")


def test_latency_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert figures.percentile(values, 0.5) == 50.0
    assert figures.percentile(values, 0.99) == 99.0
    assert figures.percentile(values, 1.0) == 100.0
    assert figures.percentile([], 0.5) == 0.0


def test_latency_bench_rules_load() -> None:
    from processors.rules.loader import load_rules

    loaded = load_rules([rulebook.RULES_DIR])
    assert loaded.ok, [str(e) for e in loaded.errors]
    rules = {item.rule.id: item.rule for item in loaded.rules}
    assert set(rules) == {rulebook.RECORD_RULE, rulebook.WINDOW_RULE}
    window = rules[rulebook.WINDOW_RULE].window
    assert window is not None
    assert (window.size_ms, window.grace_ms) == (rulebook.WINDOW_MS, rulebook.GRACE_MS)


@pytest.mark.integration
def test_latency_mode_on_a_real_broker(kafka_bootstrap: str) -> None:
    result = _run(
        latency_cli.main, "--bootstrap", kafka_bootstrap, "--rate", "200", "--seconds", "3",
    )  # fmt: skip
    assert result["mode"] == "latency"
    for key in (
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "window_close_p99_ms",
        "offered_rps",
        "achieved_rps",
    ):
        assert key in result, key
    record, window = result["record_rule"], result["window_rule"]
    assert record["sent"] == 300  # half of 200/s x 3 s are FATAL logs
    assert record["received"] == record["sent"] and record["missing"] == 0
    assert window["windows"] > 0 and window["missing"] == 0
    assert result["duplicates"] == 0
    assert result["worker"]["exit_code"] == 0
    assert result["params"]["topics_deleted"] is True
