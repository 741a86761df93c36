"""decode_input with producer formats: recognition, validation of what a format gives,
and the reasons a shipper's message is dead-lettered with."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processors.formats import Format, FormatError, Payload, registry
from streams import ingest
from streams.codec import Rejected
from streams.ingest import Limits, decode_input

NOW_MS = 1_795_899_240_000
LIMITS = Limits(max_record_bytes=1_048_576, max_future_skew_ms=300_000, max_age_ms=604_800_000)


def _decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    """``cpu <host> <v1> <v2> …``: one sample per value; ``cpu`` alone holds none."""
    parts = payload.raw.decode().split()
    if len(parts) < 2:
        raise FormatError("line 1: expected 'cpu HOST VALUE…'")
    return [
        {"ts_ms": NOW_MS, "name": "cpu", "value": float(v), "host": parts[1]} for v in parts[2:]
    ]


FAKE = Format("fake", frozenset({"metric"}), lambda p: p.raw.startswith(b"cpu"), _decode)


@pytest.fixture(autouse=True)
def fake_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "FOREIGN", (FAKE,))
    monkeypatch.setattr(ingest, "FORMATS", {**registry.FORMATS, "fake": FAKE})


def test_a_recognised_message_fans_out_into_validated_native_records() -> None:
    records = decode_input("metric", b"cpu web-1 0.5 0.7", LIMITS, NOW_MS)
    assert not isinstance(records, Rejected)
    assert [(r["name"], r["value"], r["host"], r["ts_ms"]) for r in records] == [
        ("cpu", 0.5, "web-1", NOW_MS),
        ("cpu", 0.7, "web-1", NOW_MS),
    ]


def test_what_a_format_gives_is_checked_like_a_native_record() -> None:
    assert decode_input("metric", b"cpu web-1 0.5 nan", LIMITS, NOW_MS) == Rejected(
        "non_finite_value",
        "fake, record 2 of 2: field 'value': Input should be a finite number",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"cpu", Rejected("invalid_schema", "fake: line 1: expected 'cpu HOST VALUE…'")),
        (b"cpu web-1", Rejected("invalid_schema", "fake: the message holds no records")),
    ],
)
def test_a_message_the_format_cannot_read_names_the_format(raw: bytes, expected: Rejected) -> None:
    assert decode_input("metric", raw, LIMITS, NOW_MS) == expected


def test_native_records_and_unclaimed_bytes_go_the_native_way() -> None:
    native = b'{"ts": 1795899240, "name": "cpu", "value": 1, "host": "a"}'
    records = decode_input("metric", native, LIMITS, NOW_MS)
    assert not isinstance(records, Rejected) and records[0]["host"] == "a"
    unclaimed = decode_input("metric", b"memory web-1 0.5", LIMITS, NOW_MS)
    assert isinstance(unclaimed, Rejected) and unclaimed.reason == "malformed_json"
    not_for_logs = decode_input("log", b"cpu web-1 0.5", LIMITS, NOW_MS)
    assert isinstance(not_for_logs, Rejected) and not_for_logs.reason == "malformed_json"


def test_a_topic_set_to_native_or_to_one_format_reads_only_that() -> None:
    native_only = decode_input("metric", b"cpu web-1 0.5", LIMITS, NOW_MS, "native")
    assert isinstance(native_only, Rejected) and native_only.reason == "malformed_json"
    fake_only = decode_input("metric", b'{"ts":1}', LIMITS, NOW_MS, "fake")
    assert isinstance(fake_only, Rejected)
    assert fake_only.message == "fake: line 1: expected 'cpu HOST VALUE…'"


def test_too_large_is_too_large_in_any_format() -> None:
    small = Limits(max_record_bytes=1024, max_future_skew_ms=0, max_age_ms=1)
    rejected = decode_input("metric", b"cpu web-1 " + b"1 " * 600, small, NOW_MS)
    assert isinstance(rejected, Rejected) and rejected.reason == "too_large"


def test_the_cumulative_mark_of_a_running_total_survives_validation() -> None:
    """The firehose makes rates of the samples a format marks ``cumulative``
    (processors/firehose/counter_rates.py): ingest keeps the mark, and adds none."""
    point = {"timeUnixNano": str(NOW_MS * 10**6), "asInt": "7"}
    export = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "h"}}]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "requests",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [point],
                                },
                            },
                            {"name": "queue", "gauge": {"dataPoints": [point]}},
                        ]
                    }
                ],
            }
        ]
    }
    records = decode_input("metric", orjson.dumps(export), LIMITS, NOW_MS, "otlp_json")
    assert not isinstance(records, Rejected)
    assert [(r["name"], r.get("cumulative")) for r in records] == [
        ("requests", True),
        ("queue", None),
    ]
