from __future__ import annotations

import base64
from types import SimpleNamespace

import orjson
import pytest

from processors.records import MetricSample, Signal
from streams.codec import (
    MAX_NESTING,
    Rejected,
    cloudevent_headers,
    dead_letter,
    decode,
    encode,
    load_object,
)

GOOD = {"ts": 1_795_899_297, "name": "system.cpu.utilization", "value": 0.5, "host": "web-1"}


def test_decode_valid_sample() -> None:
    sample = decode(orjson.dumps(GOOD), MetricSample)
    assert isinstance(sample, MetricSample)
    assert sample.ts_ms == 1_795_899_297_000


@pytest.mark.parametrize(
    ("raw", "reason", "in_message"),
    [
        (b"{not json", "malformed_json", "not JSON"),
        (b"", "malformed_json", "not JSON"),
        (None, "malformed_json", "tombstone"),
        (b"[1, 2]", "invalid_schema", "JSON object"),
        (orjson.dumps({**GOOD, "value": "high"}), "invalid_schema", "'value'"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "host"}), "invalid_schema", "'host'"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "ts"}), "invalid_schema", "'ts'"),
        (orjson.dumps({**GOOD, "ts": "never"}), "invalid_schema", "neither epoch"),
        (b'{"ts": 1, "name": "x", "value": NaN, "host": "h"}', "non_finite_value", "NaN"),
        (b'{"ts": 1, "name": "x", "value": 1e999, "host": "h"}', "non_finite_value", "Infinity"),
        (b'{"ts": 1, "name": "x", "value": -Infinity, "host": "h"}', "non_finite_value", ""),
        (b"x" * 2048, "too_large", "2048 bytes"),
    ],
)
def test_decode_rejects_bad_input_with_a_reason(
    raw: bytes | None, reason: str, in_message: str
) -> None:
    result = decode(raw, MetricSample, max_bytes=1024)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert in_message in result.message


def test_encode_is_single_line_json() -> None:
    sample = MetricSample.model_validate(GOOD)
    raw = encode(sample)
    assert b"\n" not in raw
    assert orjson.loads(raw)["host"] == "web-1"


def test_dead_letter_keeps_text_or_base64_of_the_original() -> None:
    rejected = Rejected("malformed_json", "not JSON")
    source = SimpleNamespace(topic="t", partition=1, offset=7, key=b"k")
    text = dead_letter(rejected, source, b"{x", now_ms=0)
    assert (text.raw, text.raw_base64, text.key, text.offset) == ("{x", None, "k", 7)
    binary = dead_letter(rejected, SimpleNamespace(**{**vars(source), "key": None}), b"\xff\xfe", 0)
    assert (binary.raw, binary.key) == (None, None)
    assert base64.b64decode(binary.raw_base64 or "") == b"\xff\xfe"


def test_cloudevent_headers() -> None:
    headers = dict(
        cloudevent_headers(
            event_id="abc", event_type="action.alert", source="opsrules/x", time_ms=0
        )
    )
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": b"abc",
        "ce_source": b"opsrules/x",
        "ce_type": b"dev.opsrules.action.alert",
        "ce_time": b"1970-01-01T00:00:00.000Z",
        "content-type": b"application/json",
    }


def nested(depth: int) -> bytes:
    """An object holding arrays ``depth - 1`` deep: ``depth`` levels in all."""
    return b'{"x":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    ("raw", "reason", "in_message"),
    [
        # RecursionError in rejected_for_json's second parse, which crashed the firehose
        (b"[" * 5000 + b"]" * 5000, "malformed_json", "depth limit exceeded"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "malformed_json", "depth limit exceeded"),
        # what orjson reads but cannot write again inside a signal or an action
        (nested(MAX_NESTING + 1), "invalid_schema", f"more than {MAX_NESTING} levels deep"),
        (nested(1000), "invalid_schema", f"more than {MAX_NESTING} levels deep"),
        (b'{"x": "\\ud800"}', "malformed_json", "not JSON"),  # a lone surrogate, escaped
        (b'{"x": "\xed\xa0\x80"}', "malformed_json", "not JSON"),  # ... and as raw bytes
        (b'{"x": "a\x00b"}', "malformed_json", "not JSON"),
        (b'{"x": [1e400]}', "non_finite_value", "NaN or Infinity"),
        (b'{"x": {"y": -Infinity}}', "non_finite_value", "NaN or Infinity"),
        (b'{"x": 1' + b"0" * 5000 + b"}", "malformed_json", "not JSON"),
    ],
)
def test_hostile_records_get_a_reason(raw: bytes, reason: str, in_message: str) -> None:
    result = load_object(raw)
    assert isinstance(result, Rejected)
    assert (result.reason, in_message in result.message) == (reason, True), result


@pytest.mark.parametrize(
    "raw",
    [
        nested(MAX_NESTING),
        b'{"x": "' + b"[" * 500 + b'"}',  # brackets in a string are not nesting
        b'{"x": [' + b"[]," * 500 + b"[]]}",  # many arrays, side by side
    ],
)
def test_records_within_the_nesting_limit_are_read(raw: bytes) -> None:
    assert isinstance(load_object(raw), dict)


@pytest.mark.parametrize("ts_ms", [1_795_899_240_000_000, 253_402_300_800_000, -1])
def test_a_signal_from_beyond_year_9999_or_before_1970_is_out_of_range(ts_ms: int) -> None:
    """Found by the decision tier's fuzzer: such a signal was decided, its action's time
    was written as ``epoch+…ms`` and could not be read back (a processing_error)."""
    raw = orjson.dumps({"id": "s", "kind": "window", "key": "web-1", "ts_ms": ts_ms})
    decoded = decode(raw, Signal)
    assert isinstance(decoded, Rejected) and decoded.reason == "timestamp_out_of_range"
    assert "between 1970 and 9999" in decoded.message
