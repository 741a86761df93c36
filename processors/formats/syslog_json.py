"""Syslog messages as JSON templates write them: rsyslog's property names and syslog-ng's
``format-json`` macros, one object per Kafka value.

- rsyslog: the ``jsonmesg`` property (runtime/msg.c: every value a string, e.g.
  ``"syslogseverity": "2"``, ``"structured-data": "-"``), or a
  ``template(type="list" option.jsonf="on")`` of ``property(… format="jsonf")``, which
  names each key after its property. Read: ``timereported`` (or its alias ``timestamp``;
  ``dateFormat="rfc3339"`` — ``jsonmesg`` writes it so), ``hostname``,
  ``programname`` (or ``app-name``), ``procid``, ``msgid``, ``syslogseverity`` (0..7) or
  ``syslogseverity-text``, ``syslogfacility`` or ``syslogfacility-text`` (or ``pri``
  for both), ``structured-data`` (RFC 5424's text), ``msg``.
- syslog-ng: ``$(format-json --scope rfc5424 …)``, whose keys are the macros
  ``ISODATE`` (or ``DATE``: RFC 3164's form unless ``ts-format(iso)``; the kafka()
  documentation's example adds ``--key ISODATE``), ``HOST``, ``PROGRAM``, ``PID``,
  ``MSGID``, ``PRIORITY`` or ``LEVEL`` (a severity's name) or ``LEVEL_NUM``,
  ``FACILITY`` (a name) or ``FACILITY_NUM``, ``PRI``, ``MESSAGE``, and the structured
  data as an object of objects under ``SDATA`` or ``_SDATA`` (format-json nests the
  ``.SDATA.<id>.<param>`` pairs; the key of that object unverified here) or as text.

Recognised by ``msg`` with ``timereported`` or ``timestamp`` (rsyslog), ``MESSAGE`` with
``ISODATE`` or ``DATE`` (syslog-ng). Values may be strings or numbers; ``-`` is absent.
rsyslog's ``msg`` of a BSD-style message starts with the space after the tag: dropped.
The records are ``syslog_message.py``'s, as for the lines of ``syslog.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.formats import Format, FormatError, Payload
from processors.formats.syslog import (
    BSD_TIME_FIX,
    RFC3164_TIME,
    parse_structured_data,
    timestamp,
)
from processors.formats.syslog_message import (
    NOTICE,
    StructuredData,
    SyslogMessage,
    facility_name,
    records,
    severity_code,
    split_pri,
)


@dataclass(frozen=True, slots=True)
class _Keys:
    """Where one producer puts each part of a message (the first key present wins)."""

    time: tuple[str, ...]
    host: tuple[str, ...]
    app: tuple[str, ...]
    procid: tuple[str, ...]
    msgid: tuple[str, ...]
    severity_code: tuple[str, ...]
    severity_name: tuple[str, ...]
    facility_code: tuple[str, ...]
    facility_name: tuple[str, ...]
    pri: tuple[str, ...]
    sd: tuple[str, ...]
    body: tuple[str, ...]


RSYSLOG = _Keys(
    time=("timereported", "timestamp"),
    host=("hostname",),
    app=("programname", "app-name"),
    procid=("procid",),
    msgid=("msgid",),
    severity_code=("syslogseverity",),
    severity_name=("syslogseverity-text",),
    facility_code=("syslogfacility",),
    facility_name=("syslogfacility-text",),
    pri=("pri",),
    sd=("structured-data",),
    body=("msg",),
)
SYSLOG_NG = _Keys(
    time=("ISODATE", "DATE"),
    host=("HOST",),
    app=("PROGRAM",),
    procid=("PID",),
    msgid=("MSGID",),
    severity_code=("LEVEL_NUM",),
    severity_name=("PRIORITY", "LEVEL"),
    facility_code=("FACILITY_NUM",),
    facility_name=("FACILITY",),
    pri=("PRI",),
    sd=("SDATA", "_SDATA"),
    body=("MESSAGE",),
)
_TIME_FIX = {
    "timereported": 'add dateFormat="rfc3339" to the property',
    "timestamp": 'add dateFormat="rfc3339" to the property',
    "DATE": "use --key ISODATE (or ts-format(iso))",
}


def producer(obj: dict[str, Any]) -> _Keys | None:
    if "msg" in obj and ("timereported" in obj or "timestamp" in obj):
        return RSYSLOG
    if "MESSAGE" in obj and ("ISODATE" in obj or "DATE" in obj):
        return SYSLOG_NG
    return None


def detect(payload: Payload) -> bool:
    obj = payload.obj
    return obj is not None and producer(obj) is not None


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    obj = payload.obj
    keys = producer(obj) if obj is not None else None
    if obj is None or keys is None:
        raise FormatError(
            "expected a JSON object with rsyslog's msg and timereported, or syslog-ng's "
            "MESSAGE and ISODATE"
        )
    return records(parse_object(obj, keys), source)


def parse_object(obj: dict[str, Any], keys: _Keys) -> SyslogMessage:
    time_key, time_text = _first(obj, keys.time)
    if time_text is None or time_key is None:
        raise FormatError(f"no time: expected one of {', '.join(keys.time)}")
    if RFC3164_TIME.match(time_text):  # 'Oct 11 22:14:15'
        fix = _TIME_FIX.get(time_key, "send an RFC 3339 time")
        raise FormatError(f"field {time_key!r} {time_text!r} {BSD_TIME_FIX}; here: {fix}")
    facility, severity = _priority(obj, keys)
    body = _first(obj, keys.body)[1] or ""
    if keys is RSYSLOG:
        body = body.removeprefix(" ")
    return SyslogMessage(
        ts_ms=timestamp(time_text, f"field {time_key!r}"),
        severity=severity,
        body=body.removesuffix("\n"),
        facility=facility,
        host=_first(obj, keys.host)[1],
        app=_first(obj, keys.app)[1],
        procid=_first(obj, keys.procid)[1],
        msgid=_first(obj, keys.msgid)[1],
        structured_data=_structured_data(obj, keys),
    )


def _priority(obj: dict[str, Any], keys: _Keys) -> tuple[str | None, int]:
    """(facility name, severity code) from whichever fields the template has."""
    severity: int | None = None
    facility: str | None = None
    key, text = _first(obj, keys.pri)
    if text is not None:
        code, severity = split_pri(_int(key, text, 191))
        facility = facility_name(code)
    key, text = _first(obj, keys.severity_code)
    if text is not None:
        severity = _int(key, text, 7)
    else:
        key, text = _first(obj, keys.severity_name)
        if text is not None:
            try:
                severity = severity_code(text)
            except FormatError as exc:
                raise FormatError(f"field {key!r}: {exc}") from None
    key, text = _first(obj, keys.facility_code)
    if text is not None:
        facility = facility_name(_int(key, text, 23))
    else:
        key, text = _first(obj, keys.facility_name)
        if text is not None:
            facility = text.lower()
    return facility, NOTICE if severity is None else severity


def _structured_data(obj: dict[str, Any], keys: _Keys) -> StructuredData:
    for key in keys.sd:
        value = obj.get(key)
        if value is None or value == "-" or value == "":
            continue
        if isinstance(value, str):
            try:
                data, end = parse_structured_data(value)
            except FormatError as exc:
                raise FormatError(f"field {key!r}: {exc}") from None
            if end != len(value):
                raise FormatError(f"field {key!r}: column {end + 1}: text after the last ']'")
            return data
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            return {
                sd_id: {name: _text(f"{key}.{sd_id}.{name}", v) for name, v in params.items()}
                for sd_id, params in value.items()
            }
        raise FormatError(f"field {key!r}: expected RFC 5424 text or an object of objects")
    return {}


def _first(obj: dict[str, Any], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(key, text) of the first of ``names`` present with a value (``-`` and empty are
    absent); numbers read as their text."""
    for name in names:
        value = obj.get(name)
        if value is None or value == "-" or value == "":
            continue
        return name, _text(name, value)
    return None, None


def _text(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FormatError(f"field {key!r}: expected a string or a number, got {type(value).__name__}")


def _int(key: str | None, text: str, highest: int) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > highest:
        raise FormatError(f"field {key!r}: {text!r} is not a number from 0 to {highest}")
    return int(text)


TEMPLATES = Format(
    "syslog_json",
    frozenset({"log", "security"}),
    detect,
    decode,
    "syslog JSON templates: rsyslog's properties (jsonmesg), syslog-ng's format-json",
)
