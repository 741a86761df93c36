"""Smoke runs of ``python -m bench.firehose``: the JSON it prints and its counts, never
its timings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import workload
from bench.firehose import cli, profiling

RUN_KEYS = {
    "records",
    "samples",
    "wall_s",
    "cpu_s",
    "records_per_s",
    "samples_per_s",
    "cpu_records_per_s",
    "cpu_s_per_million_records",
    "records_per_s_all",
    "processed",
    "dead_lettered",
    "signals",
}


def _run(*argv: str) -> dict[str, Any]:
    printed: list[str] = []
    assert cli.main([*argv, "--json"], out=printed.append) == 0
    assert len(printed) == 1
    result: dict[str, Any] = json.loads(printed[0])
    return result


def _sane(run: dict[str, Any], records: int, samples: int) -> None:
    assert run.keys() >= RUN_KEYS
    assert run["records"] == run["records_in"] == run["processed"] == records
    assert run["samples"] == samples
    assert run["dead_lettered"] == {}
    assert run["replayed"] == 0
    assert run["records_per_s"] > 0
    assert run["samples_per_s"] >= run["records_per_s"]
    assert run["wall_s"] > 0
    assert run["signals"] > 0  # event time spans several 1-minute windows


def test_core_mode_single_samples_and_batches() -> None:
    result = _run(
        "--records", "2000", "--series", "20", "--batch-samples", "5", "--batch-records", "2000",
        "--repeat", "2",
    )  # fmt: skip
    assert result["mode"] == "core"
    assert result["params"]["records"] == 2000
    assert set(result["runs"]) == {"single", "batch"}
    single, batch = result["runs"]["single"], result["runs"]["batch"]
    _sane(single, 2000, 2000)
    _sane(batch, 2000, 10_000)
    assert single["hosts"] == 20
    assert batch["hosts"] == result["params"]["batch_hosts"] == 4  # series // K
    assert batch["samples_per_record"] == 5
    assert len(single["records_per_s_all"]) == 2
    assert "profile_cumulative" not in single


def test_core_mode_is_deterministic_in_what_it_emits() -> None:
    first = _run("--records", "1500", "--series", "10", "--repeat", "1")["runs"]["single"]
    again = _run("--records", "1500", "--series", "10", "--repeat", "1")["runs"]["single"]
    for key in ("signals", "outgoing", "open_windows", "record_bytes_avg"):
        assert first[key] == again[key]
    # 150 rounds of 10 s: 25 minutes; each closed 1-minute window of each host is a
    # signal, or not sent because it could not change an alert.
    assert first["signals"] + first["windows_filtered"] == 10 * 24
    assert first["windows_filtered"] > 0


def test_core_mode_profile_lists_the_top_functions() -> None:
    result = _run("--records", "500", "--series", "5", "--repeat", "1", "--profile")
    run = result["runs"]["single"]
    for key in ("profile_cumulative", "profile_self"):
        rows = run[key]
        assert 0 < len(rows) <= profiling.PROFILE_TOP
        assert {"function", "calls", "tottime_s", "cumtime_s"} <= rows[0].keys()
    assert "process" in run["profile_cumulative"][0]["function"]


def test_the_default_output_is_a_table() -> None:
    printed: list[str] = []
    assert cli.main(["--records", "300", "--series", "3", "--repeat", "1"], out=printed.append) == 0
    text = printed[0]
    assert "records/s" in text and "1 sample/record" in text


def test_batch_records_are_metric_batches() -> None:
    records = workload.batch_records(3, 2, 50, workload.BASE_TS_MS)
    value = json.loads(records[2].value)
    assert value["host"] == "host-0" and value["ts"] == workload.BASE_TS_MS + workload.ROUND_MS
    assert len(value["samples"]) == 50
    assert set(value["samples"][0]) == {"name", "value", "labels"}
    single = workload.sample_records(1, 1, workload.BASE_TS_MS)[0].value
    assert set(json.loads(single)) == {"ts", "name", "value", "host", "service", "labels"}


@pytest.mark.integration
def test_kafka_mode_on_a_real_broker(kafka_bootstrap: str) -> None:
    result = _run(
        "--mode", "kafka", "--bootstrap", kafka_bootstrap, "--records", "2000",
        "--series", "20", "--repeat", "1",
    )  # fmt: skip
    assert result["mode"] == "kafka"
    assert result["params"]["topics_deleted"] is True
    top, hose = result["ceiling"], result["firehose"]
    assert top["records"] == 2000 and top["records_per_s"] > 0
    assert hose["records"] == hose["processed"] == 2000
    assert hose["dead_lettered"] == {}
    assert hose["records_per_s"] > 0 and hose["cpu_s_per_million_records"] > 0
    assert hose["signals"] > 0
    assert result["firehose_vs_ceiling"] > 0
