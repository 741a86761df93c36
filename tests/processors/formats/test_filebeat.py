from __future__ import annotations

from typing import Any

import orjson
import pytest

from processors.formats import FormatError, Payload
from processors.formats.filebeat import FILEBEAT, decode, detect
from processors.records import SecurityEvent

from .shipper_fixtures import message, payload_of


def test_a_security_event_keeps_the_ecs_fields_rules_read() -> None:
    [record] = decode(message("filebeat", "auditbeat_system_login"), "security")
    event = SecurityEvent.model_validate(record)
    assert event.ts_ms == 1507795534853
    assert event.event["category"] == "authentication"
    assert event.event["outcome"] == "success"
    assert "@metadata" not in record and "@timestamp" not in record


def event(**fields: Any) -> Payload:
    base: dict[str, Any] = {
        "@timestamp": "2024-05-01T10:00:00.000Z",
        "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.13.0"},
        "message": "hello",
        "host": {"name": "web-01"},
        "agent": {"name": "web-01-agent", "type": "filebeat"},
    }
    base.update(fields)
    return payload_of(orjson.dumps({k: v for k, v in base.items() if v is not None}))


@pytest.mark.parametrize(
    ("fields", "host", "service", "severity"),
    [
        ({}, "web-01", None, ("INFO", 9)),
        ({"host": None}, "web-01-agent", None, ("INFO", 9)),
        ({"log": {"level": "warn"}}, "web-01", None, ("warn", 13)),
        ({"log.level": "error", "service.name": "api"}, "web-01", "api", ("error", 17)),
        (
            {
                "kubernetes": {
                    "labels": {"app_kubernetes_io/name": "cart"},
                    "container": {"name": "c"},
                }
            },
            "web-01",
            "cart",
            ("INFO", 9),
        ),
        ({"kubernetes": {"container": {"name": "c"}}}, "web-01", "c", ("INFO", 9)),
    ],
)
def test_a_log_takes_host_service_and_severity_from_ecs_fields(
    fields: dict[str, Any], host: str, service: str | None, severity: tuple[str, int]
) -> None:
    [record] = decode(event(**fields), "log")
    assert (record["host"], record["service"]) == (host, service)
    assert (record["severity_text"], record["severity_number"]) == severity


def test_a_module_event_without_message_keeps_its_original_as_body() -> None:
    [record] = decode(event(message=None, event={"original": "raw line"}), "log")
    assert record["body"] == "raw line"


def test_an_ecs_loggers_dotted_keys_are_read_nested() -> None:
    [record] = decode(message("filebeat", "ecs_logger_elasticsearch"), "log")
    assert record["attributes"]["log"]["logger"] == "org.elasticsearch.nativeaccess.NativeAccess"


@pytest.mark.parametrize(
    ("payload", "source", "message_part"),
    [
        (event(**{"@timestamp": None}), "log", "field '@timestamp': required"),
        (event(**{"@timestamp": "2024-05-01 10:00"}), "log", "has no time zone"),
        (event(**{"@timestamp": []}), "security", "field '@timestamp'"),
        (event(), "metric", "a Beats event feeds the logs or security topic, not metric"),
        (payload_of(b"null"), "log", "a Beats event is a JSON object"),
    ],
)
def test_a_bad_payload_is_refused_with_the_field_named(
    payload: Payload, source: str, message_part: str
) -> None:
    with pytest.raises(FormatError) as raised:
        decode(payload, source)
    assert message_part in str(raised.value)


@pytest.mark.parametrize(
    ("document", "claimed"),
    [
        ({"@metadata": {"beat": "auditbeat"}, "message": "x"}, True),
        ({"@timestamp": "2024-05-01T10:00:00Z", "ecs": {"version": "8.0.0"}}, True),
        ({"@timestamp": "2024-05-01T10:00:00Z", "agent": {"type": "filebeat"}}, True),
        ({"@timestamp": "2024-05-01T10:00:00Z", "ecs.version": "1.2.0"}, True),
        ({"@timestamp": "2024-05-01T10:00:00Z", "message": "rsyslog's JSON template"}, False),
        ({"@timestamp": 1629856477.2, "log": "a Fluent Bit line\n"}, False),
        ({"@metadata": "not a beat's"}, False),
    ],
)
def test_detection_goes_by_beats_metadata_or_the_ecs_shape(
    document: dict[str, Any], claimed: bool
) -> None:
    assert detect(payload_of(orjson.dumps(document))) is claimed


def test_the_format_is_named_filebeat_for_logs_and_security() -> None:
    assert (FILEBEAT.name, FILEBEAT.sources) == ("filebeat", {"log", "security"})


def filebeat_line(line: str, **fields: object) -> Payload:
    """Filebeat 7.17's event for one line of a file (its fixture's envelope)."""
    document = orjson.loads(message("filebeat", "filebeat_7_17_auth_log_filestream").raw)
    document.update(message=line, **fields)
    return payload_of(orjson.dumps(document))


def test_sshd_lines_of_a_syslog_file_become_authentication_events_and_others_stay() -> None:
    failed = (
        "2026-12-08T00:10:01.5+00:00 web-1 sshd-session[9]: Failed password for x from ::1 port 2"
    )
    [event] = decode(filebeat_line(failed), "security")
    assert event["event"]["outcome"] == "failure"
    assert (event["source"]["ip"], event["user"]["name"], event["host"]) == (
        "::1",
        "x",
        {"name": "web-1"},
    )
    other = "Dec  8 00:10:01 vm sshd[1234]: Connection closed by 203.0.113.7 port 50000"
    [event] = decode(filebeat_line(other), "security")
    assert "event" not in event and "source" not in event
    categorised = {"category": ["authentication"], "outcome": "success"}
    line = "Dec  8 00:10:01 vm sshd[1]: Failed password for root from 203.0.113.7 port 5 ssh2"
    [event] = decode(filebeat_line(line, event=categorised), "security")
    assert event["event"] == categorised  # the Beat's own categorisation is kept


def test_a_syslog_file_line_names_the_service_when_nothing_else_does() -> None:
    line = "Dec  8 00:10:01 vm cron[77]: (root) CMD (run-parts /etc/cron.hourly)"
    [record] = decode(filebeat_line(line), "log")
    assert (record["service"], record["host"], record["body"]) == ("cron", "vm", line)
    [record] = decode(filebeat_line("plain text, no syslog prefix"), "log")
    assert record["service"] is None
