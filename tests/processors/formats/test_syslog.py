"""Syslog lines (processors/formats/syslog.py): RFC 5424's and RFC 3164's own examples,
rsyslog's and syslog-ng's file forms, structured data, bad lines named, and the PRI
arithmetic for every priority (property test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import NOT_JSON, FormatError, Payload
from processors.formats.sshd import auth_event
from processors.formats.syslog import LINES, parse_structured_data
from processors.formats.syslog_message import FACILITY_NAMES, SEVERITY_NAMES, SEVERITY_NUMBERS

FIXTURES = Path(__file__).parent / "fixtures" / "syslog"
T_2003 = 1_065_910_455_003  # 2003-10-11T22:14:15.003Z
SD_EXAMPLE = {"exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}}


def lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().splitlines()


def decode(raw: bytes, source: str = "log") -> list[dict[str, Any]]:
    payload = Payload(raw, NOT_JSON)
    assert LINES.detect(payload), raw
    return LINES.decode(payload, source)


def log(ts_ms: int, severity: str, number: int, body: str, **fields: Any) -> dict[str, Any]:
    return {
        "ts_ms": ts_ms,
        "host": fields.pop("host", None),
        "service": fields.pop("service", None),
        "severity_text": severity,
        "severity_number": number,
        "body": body,
        "attributes": fields,
    }


RFC5424_EXPECTED = [
    log(
        T_2003,
        "crit",
        21,
        "'su root' failed for lonvick on /dev/pts/8",  # the BOM dropped
        host="mymachine.example.com",
        service="su",
        facility="auth",
        msgid="ID47",
    ),
    log(
        1_061_727_255_000,  # 2003-08-24T05:14:15.000003-07:00, to the millisecond
        "notice",
        10,
        "%% It's time to make the do-nuts.",
        host="192.0.2.1",
        service="myproc",
        facility="local4",
        procid="8710",
    ),
    log(
        T_2003,
        "notice",
        10,
        "An application event log entry...",
        host="mymachine.example.com",
        service="evntslog",
        facility="local4",
        msgid="ID47",
        structured_data=SD_EXAMPLE,
    ),
    log(
        T_2003,
        "notice",
        10,
        "",
        host="mymachine.example.com",
        service="evntslog",
        facility="local4",
        msgid="ID47",
        structured_data={**SD_EXAMPLE, "examplePriority@32473": {"class": "high"}},
    ),
]


def test_rfc_5424s_examples_decode_to_exact_log_records() -> None:
    fixtures = lines("rfc5424.log")
    assert len(fixtures) == len(RFC5424_EXPECTED)
    for raw, expected in zip(fixtures, RFC5424_EXPECTED, strict=True):
        assert decode(raw) == [expected]


def test_a_trailing_newline_is_not_part_of_the_message() -> None:
    raw = lines("rfc5424.log")[1]
    assert decode(raw + b"\n") == decode(raw + b"\r\n") == [RFC5424_EXPECTED[1]]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (lines("rfc3164.log")[0], "TIMESTAMP 'Oct 11 22:14:15' has no year and no time zone"),
        (lines("rfc3164.log")[1], "TIMESTAMP 'Feb  5 17:32:18' has no year and no time zone"),
        (lines("rfc3164.log")[2], "TIMESTAMP 'Aug 24 05:34:00' has no year and no time zone"),
        (lines("rfc3164.log")[3], "column 4: expected an RFC 3339 TIMESTAMP and a HOSTNAME"),
    ],
)
def test_rfc_3164s_examples_are_refused_with_the_template_to_use(raw: bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        decode(raw)
    assert message in str(caught.value)
    if "no year" in message:
        assert "RSYSLOG_FileFormat" in str(caught.value)
        assert "${ISODATE}" in str(caught.value)


def test_the_rfc_3164_relay_example_without_pri_or_header_is_not_claimed() -> None:
    assert not LINES.detect(Payload(b"Use the BFG!", NOT_JSON))


FAILED_ROOT = "Failed password for root from 203.0.113.7 port 51234 ssh2"
FILE_EXPECTED = [
    log(1_714_550_400_123, "notice", 10, FAILED_ROOT, host="web-01", service="sshd", procid="812"),
    log(
        1_714_550_401_000,
        "notice",
        10,
        "Failed password for invalid user admin from 203.0.113.7 port 51236 ssh2",
        host="web-01",
        service="sshd",
        procid="812",
    ),
    log(
        1_714_550_402_500,
        "notice",
        10,
        "Accepted publickey for alice from 2001:db8::5 port 50000 ssh2: "
        "ED25519 SHA256:uL8dBjH3m2iN0QjGkZ5s",
        host="web-01",
        service="sshd-session",
        procid="815",
    ),
    log(
        1_714_550_403_000,
        "info",
        9,
        "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        host="web-01",
        service="CRON",
        facility="authpriv",
        procid="900",
    ),
    log(
        1_714_550_404_000,
        "notice",
        10,
        "Connection closed by authenticating user root 203.0.113.7 port 51234 [preauth]",
        host="web-01",
        service="sshd",
        procid="812",
    ),
]


def test_rsyslog_and_syslog_ng_file_forms_decode_to_exact_log_records() -> None:
    """Without <PRI> the severity is notice, as RFC 3164 §4.3.3 has a relay assume."""
    fixtures = lines("file_formats.log")
    assert len(fixtures) == len(FILE_EXPECTED)
    for raw, expected in zip(fixtures, FILE_EXPECTED, strict=True):
        assert decode(raw + b"\n") == [expected]


@pytest.mark.parametrize(
    ("rest", "service", "procid", "body"),
    [
        ("kernel: [ 1.2] eth0 up", "kernel", None, "[ 1.2] eth0 up"),
        ("postfix/smtpd[77]: connect", "postfix/smtpd", "77", "connect"),
        ("sudo:", "sudo", None, ""),
        ("no tag here", None, None, "no tag here"),
        ("app[]: empty pid", "app", None, "empty pid"),
    ],
)
def test_the_tag_gives_the_app_and_its_pid(
    rest: str, service: str | None, procid: str | None, body: str
) -> None:
    (record,) = decode(f"2024-05-01T10:00:00Z web-01 {rest}".encode())
    assert (record["service"], record["attributes"].get("procid"), record["body"]) == (
        service,
        procid,
        body,
    )


def test_bytes_that_are_not_utf8_are_kept_as_escapes() -> None:
    (record,) = decode(b"<14>1 2024-05-01T10:00:00Z h app - - - caf\xe9")
    assert record["body"] == "caf\\xe9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-", {}),
        ('[a b="1"]', {"a": {"b": "1"}}),
        ("[a]", {"a": {}}),
        (r'[a b="q\"uo\\te\]"]', {"a": {"b": 'q"uo\\te]'}}),
        (r'[a b="back\slash"]', {"a": {"b": "back\\slash"}}),
        (
            '[origin ip="192.0.2.1" ip="192.0.2.129"]',
            {"origin": {"ip": ["192.0.2.1", "192.0.2.129"]}},
        ),
        ('[a x="1" x="2" x="3"]', {"a": {"x": ["1", "2", "3"]}}),
        ('[a b=""][c d="e f"]', {"a": {"b": ""}, "c": {"d": "e f"}}),
    ],
)
def test_structured_data_reads_as_rfc_5424_writes_it(text: str, expected: dict[str, Any]) -> None:
    assert parse_structured_data(text) == (expected, len(text))


BAD_LINES = [
    (b"<192>1 2024-05-01T10:00:00Z h a - - - m", "PRI 192 is not between 0 and 191"),
    (b"<14>2 2024-05-01T10:00:00Z h a - - - m", "VERSION 2: RFC 5424 defines 1 only"),
    (b"<14>1 - h a - - - m", "TIMESTAMP is '-' (none); a decoder has no clock"),
    (b"<14>1 2024-05-01T10:00:00 h a - - - m", "TIMESTAMP '2024-05-01T10:00:00': not an RFC"),
    (b"<14>1 2024-13-01T10:00:00Z h a - - - m", "TIMESTAMP '2024-13-01T10:00:00Z': not an RFC"),
    (b"<14>1 2024-05-01T10:00:00Z h a - - x m", "column 36: expected STRUCTURED-DATA, '-' or '['"),
    (b"<14>1 2024-05-01T10:00:00Z h a - - [ x] m", "column 37: expected an SD-ID after '['"),
    (b"<14>1 2024-05-01T10:00:00Z h a - - [x y=1] m", 'column 39: expected PARAM-NAME="PARAM'),
    (b'<14>1 2024-05-01T10:00:00Z h a - - [x y="1"x', "column 44: expected ']' closing [x"),
    (b'<14>1 2024-05-01T10:00:00Z h a - - [x y="1', "column 41: PARAM-VALUE without its closing"),
    (b'<14>1 2024-05-01T10:00:00Z h a - - [x y="1"]m', "column 45: expected a space after"),
    (b"<14>hello world", "column 5: expected an RFC 3339 TIMESTAMP and a HOSTNAME"),
    (b"2024-05-01T10:00:00 web-01 sshd: x", "TIMESTAMP '2024-05-01T10:00:00': not an RFC"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_LINES)
def test_a_bad_line_is_named(raw: bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        decode(raw)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"msg": "x"}',
        b"cpu,host=a usage_idle=1 1",
        b"web01.cpu.percent-idle 97.5 1480063672",
        b"hello <14>",
        b"",
    ],
)
def test_other_payloads_are_not_claimed(raw: bytes) -> None:
    data = NOT_JSON if not raw.startswith(b"{") else {"msg": "x"}
    assert not LINES.detect(Payload(raw, data))


def test_an_sshd_failure_on_the_security_topic_is_an_authentication_event() -> None:
    """The line's time, host, program and pid reach sshd.py's event (tested there)."""
    (event,) = decode(lines("file_formats.log")[0], "security")
    assert event == auth_event(1_714_550_400_123, "sshd", "web-01", "812", FAILED_ROOT)
    assert event["event"]["outcome"] == "failure" and event["source"]["ip"] == "203.0.113.7"


@pytest.mark.parametrize(
    ("index", "origin"),
    [(3, "is from 'CRON'"), (4, "is from 'sshd'")],
)
def test_other_lines_on_the_security_topic_are_named_errors(index: int, origin: str) -> None:
    with pytest.raises(FormatError) as caught:
        decode(lines("file_formats.log")[index], "security")
    assert "on a security topic the syslog formats read sshd's 'Failed|Accepted" in str(
        caught.value
    )
    assert f"this message {origin}: send it to the logs topic" in str(caught.value)


@given(st.integers(0, 191), st.booleans())
def test_every_priority_gives_its_facility_and_severity(pri: int, rfc5424: bool) -> None:
    raw = (
        f"<{pri}>1 2024-05-01T10:00:00Z h app - - - m"
        if rfc5424
        else f"<{pri}>2024-05-01T10:00:00Z h app: m"
    )
    (record,) = decode(raw.encode())
    assert record["attributes"]["facility"] == FACILITY_NAMES[pri // 8]
    assert record["severity_text"] == SEVERITY_NAMES[pri % 8]
    assert record["severity_number"] == SEVERITY_NUMBERS[pri % 8]


@given(st.integers(192, 999))
def test_a_priority_past_191_is_refused(pri: int) -> None:
    with pytest.raises(FormatError, match=f"PRI {pri} is not between 0 and 191"):
        decode(f"<{pri}>1 2024-05-01T10:00:00Z h app - - - m".encode())


def test_rsyslogs_rfc_5424_template_drops_the_space_after_a_bsd_messages_tag() -> None:
    """As rsyslog 8.2302's omkafka sent it (RSYSLOG_SyslogProtocol23Format) for a line
    that came in by syslog(3): its msg property keeps the space after ``sshd[123]:``,
    so a second space follows the one after STRUCTURED-DATA. It is dropped."""
    raw = (
        b"<38>1 2026-12-07T22:33:26.043586+00:00 vm sshd 123 - -  "
        b"Failed password for root from 203.0.113.7 port 4000 ssh2\n"
    )
    body = "Failed password for root from 203.0.113.7 port 4000 ssh2"
    ts_ms = 1_796_682_806_044  # .043586, rounded to the millisecond
    assert decode(raw) == [
        log(ts_ms, "info", 9, body, host="vm", service="sshd", facility="auth", procid="123")
    ]
    assert decode(raw, "security") == [auth_event(ts_ms, "sshd", "vm", "123", body)]
    (record,) = decode(b"<14>1 2024-05-01T10:00:00Z h app - - -   indented")
    assert record["body"] == " indented"  # one space only
