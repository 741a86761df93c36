"""Syslog lines as rsyslog's ``omkafka`` and syslog-ng's ``kafka()`` destination send
them, one message per Kafka value (a trailing newline dropped):

- RFC 5424 (rsyslog ``template="RSYSLOG_SyslogProtocol23Format"``; from syslog-ng's
  kafka() prefer its default message or ``format-json`` (``syslog_json.py``): a
  hand-written RFC 5424 template leaves two spaces where a macro such as ``${PID}`` is
  empty)::

      <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]

  ``-`` for an absent part; MSG may start with a UTF-8 BOM (dropped). STRUCTURED-DATA
  ``[id name="value" …][…]`` with ``\\"``, ``\\\\`` and ``\\]`` escaped in values
  (RFC 5424 §6.3); one space at the start of MSG is dropped: rsyslog's template writes
  ``%STRUCTURED-DATA% %msg%``, and the ``msg`` of a message received in the BSD form
  (``syslog(3)``, ``/dev/log``) starts with the space after its tag.
- The file forms, with or without ``<PRI>``: ``TIMESTAMP HOSTNAME TAG MSG``, TAG being
  ``program[pid]:`` (RFC 3164's) — omkafka's default template ``RSYSLOG_FileFormat``
  (``2024-05-01T10:00:00.123456+02:00 web-01 sshd[812]: Failed password …``),
  ``RSYSLOG_ForwardFormat`` (the same after ``<PRI>``), and syslog-ng kafka()'s default
  ``${ISODATE} ${HOST} ${MSGHDR}${MSG}``. A message without a tag has no app name.

Times must be RFC 3339, with a zone. An RFC 3164 time (``Oct 11 22:14:15``, from
``RSYSLOG_TraditionalFileFormat``, ``RSYSLOG_TraditionalForwardFormat`` or syslog-ng's
``$DATE``) has no year and no zone, and a pure decoder has no clock to complete it
with: such a line is a FormatError telling the operator which template to use. (Taking
the year of the Kafka record, which the decoder does not see, would still leave the
zone a guess.) Non-UTF-8 bytes in a message are kept as ``\\xNN`` escapes.

The records: ``syslog_message.py`` (a LogRecord, or on a security topic an sshd
authentication event).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from processors.formats import NOT_JSON, Format, FormatError, Payload
from processors.formats.syslog_message import (
    NOTICE,
    StructuredData,
    SyslogMessage,
    facility_name,
    records,
    split_pri,
)
from processors.timestamps import parse_ts_ms

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424_HEADER = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ")
_FILE_HEADER = re.compile(r"(\d{4}-\d\d-\d\dT\S+) (\S+)(?: |$)")
RFC3164_TIME = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d")
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]*)\])?:(?: |$)")
_SD_NAME = re.compile(r'[^= \]"]{1,32}')
_SD_VALUE_RUN = re.compile(r'[^"\\]*')
_DETECT = re.compile(rb"<\d{1,3}>|\d{4}-\d\d-\d\dT|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")

BSD_TIME_FIX = (
    "has no year and no time zone (RFC 3164), which a decoder without a clock cannot "
    "supply: send RFC 3339 times (rsyslog omkafka: its default template RSYSLOG_FileFormat, "
    "or RSYSLOG_SyslogProtocol23Format; syslog-ng kafka(): its default ${ISODATE} message)"
)


def detect(payload: Payload) -> bool:
    """Not JSON, and it starts with ``<PRI>``, an RFC 3339 date or an RFC 3164 time."""
    return payload.data is NOT_JSON and _DETECT.match(payload.raw) is not None


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    return records(parse_line(payload.raw), source)


def parse_line(raw: bytes) -> SyslogMessage:
    """One syslog line; FormatError naming the part (and column) that is wrong."""
    text = raw.decode("utf-8", "backslashreplace")
    if text.endswith("\n"):
        text = text[:-1].removesuffix("\r")
    pri = _PRI.match(text)
    pos = pri.end() if pri else 0
    facility, severity = split_pri(int(pri[1])) if pri else (None, NOTICE)
    header = _RFC5424_HEADER.match(text, pos) if pri else None
    if header is not None:
        return _rfc5424(text, header, facility, severity)
    if RFC3164_TIME.match(text, pos):
        raise FormatError(f"TIMESTAMP {text[pos : pos + 15]!r} {BSD_TIME_FIX}")
    header = _FILE_HEADER.match(text, pos)
    if header is None:
        raise FormatError(
            f"column {pos + 1}: expected an RFC 3339 TIMESTAMP and a HOSTNAME (or, after "
            "<PRI>, RFC 5424's VERSION 1), got "
            f"{text[pos : pos + 40]!r}"
        )
    rest = text[header.end() :]
    tag = _TAG.match(rest)
    return SyslogMessage(
        ts_ms=timestamp(header[1], "TIMESTAMP"),
        severity=severity,
        body=rest[tag.end() :] if tag else rest,
        facility=facility_name(facility) if facility is not None else None,
        host=header[2],
        app=tag[1] if tag else None,
        procid=(tag[2] or None) if tag else None,
    )


@dataclass(frozen=True, slots=True)
class FileLine:
    """What a syslog file line says besides its time: ``host``, ``program[pid]:``, and
    the message after the tag."""

    host: str
    program: str | None
    pid: str | None
    message: str


_ANY_FILE_TIME = re.compile(r"(?:\d{4}-\d\d-\d\dT\S+|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ")


def file_line(text: str) -> FileLine | None:
    """A line as syslog daemons write their files (``/var/log/auth.log``), with an RFC
    3339 or an RFC 3164 time (its time is not read: a caller that has the line from a
    file reader has a better one), or None. For shippers that send the lines of a log
    file as they are (Filebeat, Fluent Bit's tail)."""
    header = _ANY_FILE_TIME.match(text)
    if header is None:
        return None
    rest = text[header.end() :].rstrip("\n")
    tag = _TAG.match(rest)
    if tag is None:
        return FileLine(header[1], None, None, rest)
    return FileLine(header[1], tag[1], tag[2] or None, rest[tag.end() :])


def _rfc5424(
    text: str, header: re.Match[str], facility: int | None, severity: int
) -> SyslogMessage:
    version, ts, host, app, procid, msgid = header.groups()
    if version != "1":
        raise FormatError(f"VERSION {version}: RFC 5424 defines 1 only")
    if ts == "-":
        raise FormatError("TIMESTAMP is '-' (none); a decoder has no clock to stamp it with")
    structured_data, pos = parse_structured_data(text, header.end())
    if pos < len(text) and text[pos] != " ":
        raise FormatError(f"column {pos + 1}: expected a space after STRUCTURED-DATA")
    # rsyslog's %msg% of a message it received in the BSD form (syslog(3), /dev/log)
    # keeps the space that followed the tag: RSYSLOG_SyslogProtocol23Format writes
    # "- -  Failed password …" (seen from rsyslog 8.2302's omkafka). One is dropped.
    body = text[pos + 1 :].removeprefix("\ufeff").removeprefix(" ")
    return SyslogMessage(
        ts_ms=timestamp(ts, "TIMESTAMP"),
        severity=severity,
        body=body,
        facility=facility_name(facility) if facility is not None else None,
        host=_nil(host),
        app=_nil(app),
        procid=_nil(procid),
        msgid=_nil(msgid),
        structured_data=structured_data,
    )


def parse_structured_data(text: str, pos: int = 0) -> tuple[StructuredData, int]:
    """RFC 5424 STRUCTURED-DATA at ``pos`` → (``{SD-ID: {PARAM-NAME: value}}``, the
    position after it); ``-`` is none. A parameter repeated in an element (RFC 5424
    allows it, e.g. ``origin``'s ``ip``) gives a list of its values."""
    if text.startswith("-", pos):
        return {}, pos + 1
    if not text.startswith("[", pos):
        raise FormatError(f"column {pos + 1}: expected STRUCTURED-DATA, '-' or '['")
    data: StructuredData = {}
    while text.startswith("[", pos):
        sd_id = _SD_NAME.match(text, pos + 1)
        if sd_id is None:
            raise FormatError(f"column {pos + 2}: expected an SD-ID after '['")
        params = data.setdefault(sd_id[0], {})
        pos = sd_id.end()
        while text.startswith(" ", pos):
            name = _SD_NAME.match(text, pos + 1)
            if name is None or not text.startswith('="', name.end()):
                raise FormatError(
                    f'column {pos + 2}: expected PARAM-NAME="PARAM-VALUE" in [{sd_id[0]} …]'
                )
            value, pos = _param_value(text, name.end() + 2)
            known = params.get(name[0])
            if known is None:
                params[name[0]] = value
            elif isinstance(known, list):
                known.append(value)
            else:
                params[name[0]] = [known, value]
        if not text.startswith("]", pos):
            raise FormatError(f"column {pos + 1}: expected ']' closing [{sd_id[0]} …]")
        pos += 1
    return data, pos


def _param_value(text: str, pos: int) -> tuple[str, int]:
    """The PARAM-VALUE starting at ``pos`` (after its opening quote), unescaped, and the
    position after its closing quote."""
    start, parts = pos, []
    while True:
        end = _SD_VALUE_RUN.match(text, pos).end()  # type: ignore[union-attr]
        parts.append(text[pos:end])
        if end >= len(text):
            raise FormatError(f"column {start}: PARAM-VALUE without its closing '\"'")
        if text[end] == '"':
            return "".join(parts), end + 1
        escaped = text[end + 1 : end + 2]
        if escaped in ('"', "\\", "]"):
            parts.append(escaped)
            pos = end + 2
        else:  # RFC 5424 §6.3.3: any other backslash is itself
            parts.append("\\")
            pos = end + 1


def timestamp(text: str, field: str) -> int:
    """An RFC 3339 time → epoch ms; FormatError naming ``field`` else."""
    try:
        return parse_ts_ms(text)
    except ValueError as exc:
        raise FormatError(f"{field} {text!r}: not an RFC 3339 time with a zone ({exc})") from None


def _nil(part: str) -> str | None:
    return None if part == "-" else part


LINES = Format(
    "syslog",
    frozenset({"log", "security"}),
    detect,
    decode,
    "syslog lines: RFC 5424, and RFC 3164 / file forms with RFC 3339 times "
    "(rsyslog omkafka, syslog-ng kafka)",
)
