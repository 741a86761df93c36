from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError, Payload
from processors.formats.fluentbit import FLUENTBIT, decode

from .shipper_fixtures import message, payload_of


def test_the_three_timestamp_formats_of_one_record_decode_alike() -> None:
    double, iso, iso_ns = (
        decode(message("fluentbit", name), "log")
        for name in (
            "kubesphere_kubernetes",
            "kubesphere_kubernetes_iso8601",
            "kubesphere_kubernetes_iso8601_ns",
        )
    )
    assert double == iso == iso_ns


def record(**fields: Any) -> Payload:
    base: dict[str, Any] = {"@timestamp": 1700000000.25, "log": "hello\n"}
    base.update(fields)
    return payload_of(orjson.dumps({k: v for k, v in base.items() if v is not None}))


@pytest.mark.parametrize(
    ("line", "body"),
    [("hello\n", "hello"), ("hello\r\n", "hello"), ("hello", "hello"), ("a\n\n", "a\n"), ("", "")],
)
def test_the_log_line_loses_one_trailing_newline(line: str, body: str) -> None:
    [decoded] = decode(record(log=line), "log")
    assert decoded["body"] == body


@pytest.mark.parametrize(
    ("fields", "severity"),
    [
        ({"level": "warning"}, ("warning", 13)),
        ({"severity": "ERROR"}, ("ERROR", 17)),
        ({"log.level": "debug"}, ("debug", 5)),
        ({"level": 50}, ("50", 17)),  # pino
        ({"level": "verbose"}, ("verbose", 9)),  # a word the table does not know: INFO
        ({"PRIORITY": "4"}, ("warning", 13)),  # the systemd input
        ({"level": "info", "PRIORITY": "3"}, ("info", 9)),  # the app's own level first
        ({}, ("INFO", 9)),
    ],
)
def test_the_severity_comes_from_the_level_keys(
    fields: dict[str, Any], severity: tuple[str, int]
) -> None:
    [decoded] = decode(record(**fields), "log")
    assert (decoded["severity_text"], decoded["severity_number"]) == severity


def test_a_merged_log_object_gives_its_level() -> None:
    [decoded] = decode(record(log={"level": "error", "msg": "x"}, message="x"), "log")
    assert (decoded["severity_number"], decoded["body"]) == (17, "x")
    assert decoded["attributes"] == {"log": {"level": "error", "msg": "x"}}


@pytest.mark.parametrize(
    ("kubernetes", "fields", "host", "service"),
    [
        ({"host": "node-1", "container_name": "server"}, {}, "node-1", "server"),
        ({"container_name": "server", "labels": {"app": "checkout"}}, {}, None, "checkout"),
        (
            {"labels": {"app.kubernetes.io/name": "cart", "app": "old"}},
            {"hostname": "h"},
            "h",
            "cart",
        ),
        (None, {"host": "h", "service": "billing"}, "h", "billing"),
    ],
)
def test_host_and_service_come_from_kubernetes_metadata_or_keys(
    kubernetes: dict[str, Any] | None,
    fields: dict[str, Any],
    host: str | None,
    service: str | None,
) -> None:
    [decoded] = decode(record(kubernetes=kubernetes, **fields), "log")
    assert (decoded["host"], decoded["service"]) == (host, service)


@pytest.mark.parametrize(
    ("payload", "source", "message_part"),
    [
        (record(**{"@timestamp": None}), "log", "field '@timestamp': required"),
        (record(**{"@timestamp": "soon"}), "log", "field '@timestamp': 'soon' is neither"),
        (record(**{"@timestamp": True}), "log", "field '@timestamp': a timestamp cannot be"),
        (record(**{"@timestamp": -5.0}), "log", "field '@timestamp'"),
        (record(), "metric", "a Fluent Bit record is a log"),
        (payload_of(b'"a string"'), "log", "a Fluent Bit record is a JSON object"),
    ],
)
def test_a_bad_payload_is_refused_with_the_field_named(
    payload: Payload, source: str, message_part: str
) -> None:
    with pytest.raises(FormatError) as raised:
        decode(payload, source)
    assert message_part in str(raised.value)


def test_a_record_without_timestamp_key_falls_back_to_the_runtimes_time() -> None:
    [decoded] = decode(record(**{"@timestamp": None, "time": "2021-08-25T01:54:37.5Z"}), "log")
    assert decoded["ts_ms"] == 1629856477500


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_double_and_iso8601_timestamps_of_one_moment_agree_to_the_millisecond(
    moment: datetime,
) -> None:
    """Fluent Bit's ``double`` is float seconds (about a microsecond of precision at
    today's epoch); ``iso8601`` prints microseconds, ``iso8601_ns`` nanoseconds."""
    micros = (moment - EPOCH) // timedelta(microseconds=1)
    fraction = micros % 1_000_000
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    forms = [
        micros / 1e6,
        f"{text}.{fraction:06d}Z",
        f"{text}.{fraction * 1000:09d}Z",
    ]
    decoded = [decode(record(**{"@timestamp": ts}), "log")[0]["ts_ms"] for ts in forms]
    assert decoded[1] == decoded[2]
    assert abs(decoded[0] - decoded[1]) <= 1
    assert abs(decoded[1] - micros / 1000) <= 0.5


def test_the_format_is_named_fluentbit_for_logs() -> None:
    assert (FLUENTBIT.name, FLUENTBIT.sources) == ("fluentbit", {"log"})
