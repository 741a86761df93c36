"""A small run of `opsrules bench pipeline` (the peers, latency and memory modes have
their own smoke tests): it completes and reports every key. No timing assertions."""

from __future__ import annotations

import argparse

import pytest

from bench.pipeline import add_arguments, run
from bench.report import render

pytestmark = pytest.mark.integration


def test_pipeline_smoke(kafka_bootstrap: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--records",
            "2000",
            "--series",
            "100",
            "--bootstrap",
            kafka_bootstrap,
            "--skip",
            "faust,quix,latency,memory",
            "--timeout-s",
            "300",
        ]
    )
    args.argv = []
    result = run(args)
    for key in (
        "ceiling_rps",
        "faust_rps",
        "quix_rps",
        "opsrules_rps",
        "opsrules_over_ceiling",
        "opsrules_over_quix",
        "batched_sps",
        "latency_p99_ms",
        "rss_per_series_bytes",
    ):
        assert key in result
    assert result["opsrules"]["records"] == 2000
    assert result["opsrules"]["records_per_s"] > 0
    assert result["batched"]["samples"] == 2000
    assert result["opsrules"]["deadletters"] == 0
    assert "| opsrules worker: windows + rules + actions |" in render(result)
