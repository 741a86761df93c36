from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.formats import FormatError
from processors.formats.otlp_logs import decode_logs
from processors.records import LogRecord

FIXTURES = Path(__file__).parent / "fixtures" / "otlp"
NS = 1_700_000_000_123_456_789  # a log record's time, in ns
MS = 1_700_000_000_123


def export(*records: dict[str, Any], resource: list[Any] | None = None) -> dict[str, Any]:
    attributes = resource if resource is not None else [kv("host.name", "h")]
    return {
        "resourceLogs": [
            {"resource": {"attributes": attributes}, "scopeLogs": [{"logRecords": list(records)}]}
        ]
    }


def kv(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def record(**fields: Any) -> dict[str, Any]:
    return {"timeUnixNano": str(NS), "body": {"stringValue": "hello"}} | fields


def one(**fields: Any) -> dict[str, Any]:
    [decoded] = decode_logs(export(record(**fields)))
    return decoded


def test_the_official_example_decodes_to_one_record_with_every_attribute_kind() -> None:
    payload = orjson.loads((FIXTURES / "logs.json").read_bytes())
    assert decode_logs(payload) == [
        {
            "ts_ms": 1544712660300,
            "host": None,
            "service": "my.service",
            "severity_number": 9,  # "Information" names INFO
            "severity_text": "Information",
            "body": "Example log record",
            "attributes": {
                "string.attribute": "some string",
                "boolean.attribute": True,
                "int.attribute": 10,
                "double.attribute": 637.704,
                "array.attribute": ["many", "values"],
                "map.attribute": {"some.map.key": "some value"},
                "trace_id": "5b8efff798038103d269b633813fc60c",
                "span_id": "eee19b7ec3c1b174",
            },
            "resource": {},
            "scope": {"name": "my.library", "version": "1.0.0"},
        }
    ]
    LogRecord.model_validate(decode_logs(payload)[0])


def test_host_and_service_come_from_the_resource_and_its_other_attributes_stay_beside() -> None:
    resource = [kv("host.name", "web-1"), kv("service.name", "api"), kv("k8s.pod.name", "api-7")]
    [decoded] = decode_logs(export(record(), resource=resource))
    assert (decoded["host"], decoded["service"]) == ("web-1", "api")
    assert decoded["resource"] == {"k8s.pod.name": "api-7"}
    assert "scope" not in decoded
    LogRecord.model_validate(decoded)


@pytest.mark.parametrize(
    ("fields", "number", "text"),
    [
        ({"severityNumber": 17, "severityText": "E"}, 17, "E"),
        ({"severityNumber": 14}, 14, None),
        ({"severityNumber": "SEVERITY_NUMBER_WARN2"}, 14, None),
        ({"severityNumber": 0, "severityText": "warning"}, 13, "warning"),
        ({"severityText": "Critical"}, 21, "Critical"),
        ({"severityText": "ERROR3"}, 19, "ERROR3"),
        ({"severityText": "debug"}, 5, "debug"),
        ({"severityText": "verbose"}, 9, "verbose"),  # names no level: INFO
        ({}, 9, None),  # says nothing of its level: INFO
    ],
)
def test_the_severity_number_is_given_else_named_by_the_text_else_info(
    fields: dict[str, Any], number: int, text: str | None
) -> None:
    decoded = one(**fields)
    assert decoded["severity_number"] == number
    assert decoded.get("severity_text") == text
    assert LogRecord.model_validate(decoded).severity_number == number


def test_the_time_is_the_event_time_else_the_observed_time() -> None:
    assert one(timeUnixNano=NS)["ts_ms"] == MS
    assert one(timeUnixNano="0", observedTimeUnixNano=str(NS + 10**9))["ts_ms"] == MS + 1000
    assert one(timeUnixNano=None, observedTimeUnixNano=NS)["ts_ms"] == MS


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"stringValue": "line\n"}, "line\n"),
        ({"intValue": "42"}, "42"),
        ({"doubleValue": 1.5}, "1.5"),
        ({"boolValue": True}, "true"),
        ({"kvlistValue": {"values": [kv("msg", "hi"), {"key": "n", "value": {"intValue": 1}}]}},
         '{"msg":"hi","n":1}'),
        ({"arrayValue": {"values": [{"stringValue": "a"}]}}, '["a"]'),
        ({}, ""),
        (None, ""),
    ],
)  # fmt: skip
def test_a_body_of_any_kind_becomes_text(body: Any, text: str) -> None:
    assert one(body=body)["body"] == text


def test_ids_are_lower_case_hex_whether_sent_as_hex_or_as_protobufs_base64() -> None:
    hexed = one(traceId="5B8EFFF798038103D269B633813FC60C", spanId="EEE19B7EC3C1B174")
    based = one(traceId="W47/95gDgQPSabYzgT/GDA==", spanId="7uGbfsPBsXQ=")
    for decoded in (hexed, based):
        assert decoded["attributes"] == {
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
        }
    assert one(traceId="", spanId="")["attributes"] == {}


def test_the_event_name_is_an_attribute() -> None:
    assert one(eventName="browser.click")["attributes"] == {"event.name": "browser.click"}


WHERE = "resourceLogs[0].scopeLogs[0].logRecords[1]"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"severityNumber": 30}, f"{WHERE}.severityNumber: 30 is not a severity number (0–24)"),
        (
            {"severityNumber": "loud"},
            f"{WHERE}.severityNumber: 'loud' is not a severity number (0–24)",
        ),
        ({"severityText": 3}, f"{WHERE}.severityText: 3 is not a string"),
        (
            {"timeUnixNano": None},
            f"{WHERE}.timeUnixNano: neither it nor observedTimeUnixNano is set",
        ),
        (
            {"timeUnixNano": "soon"},
            f"{WHERE}.timeUnixNano: 'soon' is not an unsigned 64-bit integer",
        ),
        ({"traceId": "xyz"}, f"{WHERE}.traceId: 'xyz' is not a hex id of 16 bytes"),
        ({"spanId": "EEE19B7EC3C1"}, f"{WHERE}.spanId: 'EEE19B7EC3C1' is not a hex id of 8 bytes"),
        ({"body": "text"}, f"{WHERE}.body: expected an AnyValue object, got a string"),
        (
            {"body": {"arrayValue": {"values": [{"doubleValue": "x"}]}}},
            f"{WHERE}.body.arrayValue.values[0].doubleValue: 'x' is not a number",
        ),
        (
            {"attributes": [{"key": "m", "value": {"kvlistValue": {"values": [{"key": 1}]}}}]},
            f"{WHERE}.attributes[0].value.kvlistValue.values[0]: expected "
            "{'key': str, 'value': AnyValue}",
        ),
    ],
)  # fmt: skip
def test_a_bad_log_record_is_named_by_its_path(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError) as raised:
        decode_logs(export(record(), record(**fields)))
    assert str(raised.value) == message


def test_a_log_export_that_is_not_a_list_is_named() -> None:
    with pytest.raises(FormatError, match=r"^resourceLogs: expected a list, got an object$"):
        decode_logs({"resourceLogs": {}})
