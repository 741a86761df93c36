"""Syslog JSON templates (processors/formats/syslog_json.py): rsyslog's jsonmesg and list
templates, syslog-ng's format-json, to exact records; bad fields named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError, Payload
from processors.formats.syslog_json import TEMPLATES
from processors.formats.syslog_message import FACILITY_NAMES, SEVERITY_NUMBERS

FIXTURES = Path(__file__).parent / "fixtures" / "syslog"
FAILED_ROOT = "Failed password for root from 203.0.113.7 port 51234 ssh2"


def fixture(index: int) -> dict[str, Any]:
    objects: list[dict[str, Any]] = [
        orjson.loads(line) for line in (FIXTURES / "json_templates.jsonl").read_bytes().splitlines()
    ]
    return objects[index]


def decode(obj: dict[str, Any], source: str = "log") -> list[dict[str, Any]]:
    payload = Payload(orjson.dumps(obj), obj)
    assert TEMPLATES.detect(payload)
    return TEMPLATES.decode(payload, source)


def test_rsyslogs_jsonmesg_decodes_to_an_exact_log_record() -> None:
    assert decode(fixture(0)) == [
        {
            "ts_ms": 1_714_550_400_123,
            "host": "web-01",
            "service": "sshd",
            "severity_text": "info",
            "severity_number": 9,
            "body": FAILED_ROOT,  # rsyslog's leading space dropped
            "attributes": {"facility": "auth", "procid": "812"},
        }
    ]


def test_rsyslogs_jsonmesg_of_an_rfc_5424_message_keeps_msgid_and_structured_data() -> None:
    assert decode(fixture(1)) == [
        {
            "ts_ms": 1_065_910_455_003,
            "host": "mymachine.example.com",
            "service": "evntslog",
            "severity_text": "notice",
            "severity_number": 10,
            "body": "An application event log entry...",
            "attributes": {
                "facility": "local4",
                "msgid": "ID47",
                "structured_data": {
                    "exampleSDID@32473": {
                        "iut": "3",
                        "eventSource": "Application",
                        "eventID": "1011",
                    }
                },
            },
        }
    ]


def test_an_rsyslog_list_template_of_properties_decodes() -> None:
    assert decode(fixture(2)) == [
        {
            "ts_ms": 1_714_550_405_000,
            "host": "web-01",
            "service": "nginx",
            "severity_text": "err",
            "severity_number": 17,
            "body": "upstream timed out (110: Connection timed out)",
            "attributes": {"facility": "local7"},
        }
    ]


def test_syslog_ngs_format_json_decodes_to_an_exact_log_record() -> None:
    assert decode(fixture(3)) == [
        {
            "ts_ms": 1_714_550_400_000,
            "host": "web-01",
            "service": "sshd",
            "severity_text": "info",
            "severity_number": 9,
            "body": FAILED_ROOT,
            "attributes": {"facility": "auth", "procid": "812"},
        }
    ]


@pytest.mark.parametrize("index", [0, 3])
def test_sshd_failures_in_json_are_authentication_events_on_the_security_topic(
    index: int,
) -> None:
    (event,) = decode(fixture(index), "security")
    assert event["event"]["outcome"] == "failure"
    assert (event["source"]["ip"], event["user"], event["host"]) == (
        "203.0.113.7",
        {"name": "root"},
        {"name": "web-01"},
    )


def test_syslog_ngs_structured_data_object_is_kept() -> None:
    obj = {**fixture(3), "_SDATA": {"meta": {"sequenceId": "7"}}}
    (record,) = decode(obj)
    assert record["attributes"]["structured_data"] == {"meta": {"sequenceId": "7"}}


def test_numbers_for_strings_and_names_for_numbers_are_read() -> None:
    obj = {**fixture(2), "syslogseverity": 3, "syslogfacility": 23}
    assert decode(obj) == decode(fixture(2))
    named = {k: v for k, v in fixture(2).items() if k not in ("syslogseverity", "syslogfacility")}
    named |= {"syslogseverity-text": "err", "syslogfacility-text": "local7"}
    assert decode(named) == decode(fixture(2))


def test_a_template_without_severity_has_notice() -> None:
    obj = {"timereported": "2024-05-01T10:00:05+02:00", "msg": "hi"}
    (record,) = decode(obj)
    assert (record["severity_text"], record["severity_number"], record["host"]) == (
        "notice",
        10,
        None,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"timereported": "May  1 10:00:00"},
            "field 'timereported' 'May  1 10:00:00' has no year and no time zone (RFC 3164)",
        ),
        ({"timereported": "yesterday"}, "field 'timereported' 'yesterday': not an RFC 3339"),
        ({"timereported": "-"}, "no time: expected one of timereported, timestamp"),
        ({"syslogseverity": "8"}, "field 'syslogseverity': '8' is not a number from 0 to 7"),
        ({"syslogseverity": "high"}, "field 'syslogseverity': 'high' is not a number from 0"),
        ({"syslogfacility": "24"}, "field 'syslogfacility': '24' is not a number from 0 to 23"),
        ({"pri": "200"}, "field 'pri': '200' is not a number from 0 to 191"),
        ({"hostname": ["a"]}, "field 'hostname': expected a string or a number, got list"),
        ({"structured-data": "[a b=1]"}, "field 'structured-data': column 4: expected PARAM"),
        ({"structured-data": "[a] x"}, "field 'structured-data': column 4: text after the last"),
    ],
)
def test_a_bad_rsyslog_field_is_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError) as caught:
        decode({**fixture(2), **change})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ISODATE": None, "DATE": "May  1 10:00:00"}, "use --key ISODATE (or ts-format(iso))"),
        ({"PRIORITY": "loud"}, "field 'PRIORITY': severity 'loud' is none of emerg, alert"),
        ({"SDATA": ["x"]}, "field 'SDATA': expected RFC 5424 text or an object of objects"),
    ],
)
def test_a_bad_syslog_ng_field_is_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError) as caught:
        decode({**fixture(3), **change})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "obj",
    [
        {"message": "x", "@timestamp": "2024-05-01T10:00:00Z"},  # Filebeat, Vector
        {"log": "x", "@timestamp": 1.5},  # Fluent Bit
        {"MESSAGE": "x", "_HOSTNAME": "h", "__REALTIME_TIMESTAMP": "1"},  # journald
        {"msg": "x", "level": "info", "time": "2024-05-01T10:00:00Z"},  # a JSON logger
        {"ts": 1, "body": "x", "severity_text": "INFO"},  # native
    ],
)
def test_other_json_logs_are_not_claimed(obj: dict[str, Any]) -> None:
    assert not TEMPLATES.detect(Payload(orjson.dumps(obj), obj))


@given(st.integers(0, 191))
def test_rsyslogs_pri_gives_facility_and_severity(pri: int) -> None:
    obj = {"timereported": "2024-05-01T10:00:05Z", "msg": "m", "pri": str(pri)}
    (record,) = decode(obj)
    assert record["attributes"]["facility"] == FACILITY_NAMES[pri // 8]
    assert record["severity_number"] == SEVERITY_NUMBERS[pri % 8]
