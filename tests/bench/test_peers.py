"""Smoke runs of the benchmark's peers (``bench/peers``) on a real broker: the faust floor
and the Quix Streams window app each consume a pre-loaded topic of 2,000 records and
report their figures. Counts only, never timings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.peers import quix_env
from bench.peers.run import preloaded_topic, run_peer

pytestmark = pytest.mark.integration

RECORDS = 2_000
SERIES = 100  # 20 rounds of 10 s per series: 19 closed 10 s windows each
PARTITIONS = 4
TIMEOUT_S = 240.0
KEYS = {
    "records",
    "first_record_s",
    "last_record_s",
    "rps",
    "cpu_s",
    "cpu_s_per_million",
    "peak_rss_bytes",
    "windows_out",
}


def _quiet(message: str) -> None:
    print(f"[test_peers] {message}")


@pytest.fixture(scope="module")
def loaded(kafka_bootstrap: str) -> Iterator[dict[str, Any]]:
    with preloaded_topic(kafka_bootstrap, RECORDS, SERIES, PARTITIONS, progress=_quiet) as topic:
        yield topic


def _sane(result: dict[str, Any], kind: str) -> None:
    assert result.keys() >= KEYS
    assert result["kind"] == kind
    assert result["records"] == RECORDS
    assert result["rps"] > 0
    assert result["last_record_s"] >= result["first_record_s"]
    assert result["cpu_s"] >= 0
    assert result["peak_rss_bytes"] > 0
    assert result["topics_deleted"]  # the peer's own topics are gone


def test_faust_floor_consumes_every_record(kafka_bootstrap: str, loaded: dict[str, Any]) -> None:
    result = run_peer(
        "faust", kafka_bootstrap, loaded["topic"], RECORDS, TIMEOUT_S, _quiet,
        partitions=PARTITIONS,
    )  # fmt: skip
    _sane(result, "faust")
    assert result["windows_out"] == 0
    assert result["settings"]["auto_offset_reset"] == "earliest"


def test_quix_window_app_consumes_every_record(
    kafka_bootstrap: str, loaded: dict[str, Any]
) -> None:
    try:
        quix_env.ensure_quix_venv(_quiet)
    except quix_env.QuixVenvUnavailable as exc:
        pytest.skip(f"quix venv cannot be created, PyPI is unreachable: {exc}")
    result = run_peer(
        "quix", kafka_bootstrap, loaded["topic"], RECORDS, TIMEOUT_S, _quiet,
        partitions=PARTITIONS,
    )  # fmt: skip
    _sane(result, "quix")
    # Windows close per key once that key's event time passes their end: every series
    # closes all but its last window.
    assert result["windows_out"] == SERIES * (RECORDS // SERIES - 1)
    assert result["settings"]["auto_offset_reset"] == "earliest"
    assert result["settings"]["quixstreams"] == quix_env.pinned_version("quixstreams")
