"""A syslog message, whichever way it was written (a line: ``syslog.py``; a JSON
template: ``syslog_json.py``), and the native records it becomes.

Priority (RFC 5424 §6.2.1, RFC 3164 §4.1.1): ``PRI = facility × 8 + severity``, 0..191;
facility 0..23, severity 0..7. A message without one has, as RFC 3164 §4.3.3 tells a
relay to assume, severity ``notice`` (and facility ``user``, not written: it was not
sent).

Severity → OpenTelemetry ``severity_number`` (our table; the text keeps syslog's word):

==========  =====  ======
syslog      code   number
==========  =====  ======
emerg       0      23 (FATAL3)
alert       1      22 (FATAL2)
crit        2      21 (FATAL)
err         3      17 (ERROR)
warning     4      13 (WARN)
notice      5      10 (INFO2)
info        6      9 (INFO)
debug       7      5 (DEBUG)
==========  =====  ======

On a **log** topic a message is a ``LogRecord``: ``service`` the app name (RFC 5424
APP-NAME, RFC 3164's TAG without its ``[pid]``), ``host`` the hostname, ``body`` the
message, attributes ``facility`` (its name), ``procid``, ``msgid`` and
``structured_data`` (``{SD-ID: {PARAM: value}}``, a value repeated in one element as a
list) when present. On a **security** topic only sshd's authentication lines are read,
as ECS authentication events (``sshd.py``); any other message is a FormatError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.formats import FormatError
from processors.formats.sshd import SUPPORTED, auth_event
from processors.severity import SYSLOG_NUMBERS

SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
SEVERITY_NUMBERS = SYSLOG_NUMBERS  # OpenTelemetry's, by syslog severity (processors/severity.py)
NOTICE = 5
# RFC 5424 table 1, as rsyslog names them (syslogfacility-text).
FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
# Other spellings of the severities (syslog-ng's, syslog.h's, the long forms).
_SEVERITY_WORDS = {name: code for code, name in enumerate(SEVERITY_NAMES)} | {
    "emergency": 0,
    "panic": 0,
    "critical": 2,
    "error": 3,
    "warn": 4,
    "informational": 6,
}

StructuredData = dict[str, dict[str, str | list[str]]]


@dataclass(frozen=True, slots=True)
class SyslogMessage:
    """What the records are made of; absent parts are None."""

    ts_ms: int
    severity: int  # 0..7
    body: str
    facility: str | None = None  # its name
    host: str | None = None
    app: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: StructuredData = field(default_factory=dict)


def split_pri(pri: int) -> tuple[int, int]:
    """(facility, severity) of a PRI value; FormatError outside 0..191."""
    if not 0 <= pri <= 191:
        raise FormatError(f"PRI {pri} is not between 0 and 191 (facility × 8 + severity)")
    return pri >> 3, pri & 7


def facility_name(code: int) -> str:
    return FACILITY_NAMES[code]


def severity_code(word: str) -> int:
    """A severity's name (any case, syslog's or a long form) → 0..7; FormatError else."""
    code = _SEVERITY_WORDS.get(word.strip().lower())
    if code is None:
        raise FormatError(f"severity {word!r} is none of {', '.join(SEVERITY_NAMES)}")
    return code


def records(message: SyslogMessage, source: str) -> list[dict[str, Any]]:
    """The native record of ``message`` on a topic of ``source`` (log or security)."""
    if source == "security":
        event = auth_event(message.ts_ms, message.app, message.host, message.procid, message.body)
        if event is None:
            origin = f"is from {message.app!r}" if message.app else "has no app name"
            raise FormatError(
                f"on a security topic the syslog formats read {SUPPORTED}; this message "
                f"{origin}: send it to the logs topic"
            )
        return [event]
    return [log_record(message)]


def log_record(message: SyslogMessage) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if message.facility is not None:
        attributes["facility"] = message.facility
    if message.procid is not None:
        attributes["procid"] = message.procid
    if message.msgid is not None:
        attributes["msgid"] = message.msgid
    if message.structured_data:
        attributes["structured_data"] = message.structured_data
    return {
        "ts_ms": message.ts_ms,
        "host": message.host,
        "service": message.app,
        "severity_text": SEVERITY_NAMES[message.severity],
        "severity_number": SEVERITY_NUMBERS[message.severity],
        "body": message.body,
        "attributes": attributes,
    }
