from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.formats import NOT_JSON, FormatError, Payload
from processors.formats.otlp import OTLP_JSON, OTLP_PROTO

FIXTURES = Path(__file__).parent / "fixtures" / "otlp"


def payload(value: Any) -> Payload:
    raw = orjson.dumps(value)
    return Payload(raw, orjson.loads(raw))


def fixture(name: str) -> Payload:
    raw = (FIXTURES / name).read_bytes()
    return Payload(raw, orjson.loads(raw))


def test_both_formats_feed_the_metric_and_log_topics() -> None:
    assert OTLP_JSON.name == "otlp_json" and OTLP_PROTO.name == "otlp_proto"
    assert OTLP_JSON.sources == OTLP_PROTO.sources == frozenset({"metric", "log"})


@pytest.mark.parametrize(
    ("name", "source", "count"),
    [("metrics.json", "metric", 8), ("hostmetrics.json", "metric", 8), ("logs.json", "log", 1)],
)
def test_the_fixtures_are_claimed_and_fan_out(name: str, source: str, count: int) -> None:
    assert OTLP_JSON.detect(fixture(name))
    assert len(OTLP_JSON.decode(fixture(name), source)) == count


@pytest.mark.parametrize(
    "value",
    [
        {"ts": 1, "name": "x", "value": 1, "host": "h"},  # native
        {"fields": {"usage_idle": 3}, "name": "cpu", "tags": {}, "timestamp": 1},  # Telegraf
        {"resource": {}, "scopeMetrics": []},  # a ResourceMetrics alone is no export
        [{"resourceMetrics": []}],
    ],
)
def test_json_that_is_no_otlp_export_is_not_claimed(value: Any) -> None:
    assert not OTLP_JSON.detect(payload(value))


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        (
            "metrics.json",
            "log",
            "an OTLP metrics export on a log topic; send it to the metrics topic "
            "(the exporter's metrics.topic)",
        ),
        (
            "logs.json",
            "metric",
            "an OTLP logs export on a metric topic; send it to the logs topic "
            "(the exporter's logs.topic)",
        ),
    ],
)
def test_an_export_on_the_other_signals_topic_says_where_it_belongs(
    name: str, source: str, message: str
) -> None:
    with pytest.raises(FormatError) as raised:
        OTLP_JSON.decode(fixture(name), source)
    assert str(raised.value) == message


def test_traces_are_claimed_and_refused_with_what_to_do() -> None:
    traces = payload({"resourceSpans": []})
    assert OTLP_JSON.detect(traces)
    with pytest.raises(FormatError, match="opsrules reads no traces"):
        OTLP_JSON.decode(traces, "metric")


def test_otlp_json_on_binary_says_the_exporter_default_is_otlp_proto() -> None:
    with pytest.raises(FormatError, match=r"default encoding is otlp_proto"):
        OTLP_JSON.decode(Payload(b"\n\x02\n\x00", NOT_JSON), "metric")


def test_an_empty_export_has_no_records() -> None:
    assert OTLP_JSON.decode(payload({"resourceMetrics": []}), "metric") == []
    assert OTLP_JSON.decode(payload({"resourceLogs": None}), "log") == []
