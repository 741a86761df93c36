from __future__ import annotations

import base64
from types import SimpleNamespace

import orjson
import pytest

from streams.codec import Rejected, cloudevent_headers, dead_letter, decode, encode
from streams.schemas import MetricSample

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
