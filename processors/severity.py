"""Log severity on OpenTelemetry's scale, from the words and numbers shippers use.

OpenTelemetry's SeverityNumber runs TRACE 1–4, DEBUG 5–8, INFO 9–12, WARN 13–16, ERROR
17–20, FATAL 21–24. A level word maps to a number inside its range, and syslog's eight
severities keep their order (notice above info; alert and emerg above crit), so that
``severity_number >= 17`` means "error or worse" whoever sent the log:

- trace, finest: 1; finer: 2; fine, debug, dbg: 5
- info, information, informational: 9; notice: 10
- warn, warning: 13
- error, err, severe: 17
- crit, critical, fatal: 21; alert: 22; emerg, emergency, panic: 23

One table for every producer: native records' ``severity_text``, OTLP's
``severityText``, the JSON shippers' level keys, syslog and Falco priorities.
"""

from __future__ import annotations

# The first number of each range, by its OpenTelemetry short name.
SEVERITY_NUMBERS = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}

LEVEL_NUMBERS: dict[str, int] = {
    "trace": 1, "finest": 1, "finer": 2, "fine": 5, "debug": 5, "dbg": 5,
    "info": 9, "information": 9, "informational": 9, "notice": 10,
    "warn": 13, "warning": 13, "error": 17, "err": 17, "severe": 17,
    "crit": 21, "critical": 21, "fatal": 21, "alert": 22,
    "emerg": 23, "emergency": 23, "panic": 23,
}  # fmt: skip

# By syslog severity code 0 (emerg) … 7 (debug).
SYSLOG_NUMBERS = (23, 22, 21, 17, 13, 10, 9, 5)


def level_number(word: str) -> int | None:
    """The number of a level word (any case, surrounding blanks ignored), or None."""
    return LEVEL_NUMBERS.get(word.strip().lower())


def severity_text_for(number: int) -> str:
    """The OpenTelemetry short name of a severity number's range."""
    for text, first in reversed(SEVERITY_NUMBERS.items()):
        if number >= first:
            return text
    return "TRACE"
