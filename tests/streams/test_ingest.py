"""decode_input at the edges: hostile records of every source get a dead-letter reason,
and what it accepts can travel on inside a signal (found by tests/fuzz)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processors.records import Signal
from streams.codec import MAX_NESTING, Rejected, encode
from streams.ingest import MAX_INPUT_NESTING, Limits, decode_input

NOW_MS = 1_795_899_240_000
LIMITS = Limits(max_record_bytes=1_048_576, max_future_skew_ms=300_000, max_age_ms=604_800_000)
SAMPLE = {"ts": NOW_MS // 1000, "name": "system.cpu.utilization", "value": 0.5, "host": "web-1"}
HEALTH = {"ts": NOW_MS // 1000, "service": "checkout", "instance": "web-1", "status": "pass"}
INTRUSION = {"ts": NOW_MS // 1000, "event.category": "intrusion_detection", "host.name": "h"}
SIGNAL = {"id": "s", "kind": "anomaly", "key": "web-1", "ts_ms": NOW_MS, "source": "metric"}


def deep(levels: int) -> bytes:
    """A JSON value of ``levels`` levels of objects."""
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def record(fields: dict[str, Any], **raw: bytes) -> bytes:
    """``fields`` as JSON, with ``raw`` JSON values added (or replacing) as they are."""
    text = orjson.dumps({k: v for k, v in fields.items() if k not in raw})[:-1]
    for key, value in raw.items():
        text += b',"' + key.encode() + b'":' + value
    return text + b"}"


@pytest.mark.parametrize(
    ("source", "raw", "reason", "in_message"),
    [
        # RecursionError in nest_dotted, which the firehose let escape
        ("security", record(INTRUSION, x=deep(1000)), "invalid_schema", "64 levels deep"),
        # a security event 300 deep matched a sequence step: its signal could not be
        # encoded (orjson writes 254 levels), and the exception ended the batch
        ("security", record(INTRUSION, x=deep(300)), "invalid_schema", "64 levels deep"),
        ("health", record(HEALTH, x=deep(MAX_INPUT_NESTING)), "invalid_schema", "levels deep"),
        ("signal", record(SIGNAL, record=deep(MAX_NESTING)), "invalid_schema", "levels deep"),
        # a format_ts OverflowError while explaining the rejection
        ("metric", record(SAMPLE, ts=b"1" + b"0" * 30), "timestamp_out_of_range", "epoch+"),
        ("metric", record(SAMPLE, ts=b"1e30"), "timestamp_out_of_range", "epoch+"),
        # microseconds are not an accepted unit: read as nanoseconds, 1970
        ("metric", record({**SAMPLE, "ts": NOW_MS * 1000}), "timestamp_out_of_range", "old"),
        ("metric", record({**SAMPLE, "ts": "9999-12-31T23:59:59-23:59"}), "timestamp_", "epoch+"),
        ("metric", record({**SAMPLE, "ts": 1e11 - 1}), "timestamp_out_of_range", "future"),
        ("metric", record(SAMPLE, value=b'"NaN"'), "non_finite_value", "finite"),
        ("metric", record(SAMPLE, labels=b'[["cpu", "0"]]'), "invalid_schema", "labels"),
        ("log", record(SAMPLE, severity_number=b'"seventeen"'), "invalid_schema", "severity"),
    ],
)
def test_hostile_records_of_every_source_get_a_reason(
    source: str, raw: bytes, reason: str, in_message: str
) -> None:
    result = decode_input(source, raw, LIMITS, NOW_MS)
    assert isinstance(result, Rejected)
    assert result.reason.startswith(reason) and in_message in result.message, result


@pytest.mark.parametrize(
    ("source", "raw"),
    [
        ("health", record(HEALTH, x=deep(MAX_INPUT_NESTING - 1))),
        ("signal", record(SIGNAL, record=deep(MAX_NESTING - 1))),
        # a batch expands into flat samples: extra fields, however deep, are dropped
        ("metric", record({**SAMPLE, "samples": [{"name": "x", "value": 1}]}, x=deep(300))),
        ("metric", record({**SAMPLE, "ts_ms": NOW_MS}, ts=b'"never"')),  # ts_ms wins
    ],
)
def test_records_at_the_limits_can_travel_on_in_a_signal(source: str, raw: bytes) -> None:
    records = decode_input(source, raw, LIMITS, NOW_MS)
    assert isinstance(records, list), records
    for fields in records:
        assert encode(Signal(id="i", kind="record", key="k", ts_ms=NOW_MS, record=fields))
