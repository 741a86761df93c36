"""OTLP logs (an ``ExportLogsServiceRequest`` in OTLP/JSON's shape) as native log
records, one per ``logRecord``.

Follows opentelemetry-proto's ``logs.proto`` and the OpenTelemetry logs data model.
Each record has:

- ``ts_ms``: ``timeUnixNano`` (when the event happened), else ``observedTimeUnixNano``
  (when the Collector read it; the filelog receiver sets only this one without a time
  parser), truncated to ms; neither set is an error;
- ``severity_number``: ``severityNumber`` (1–24); when it is 0 or absent (the official
  example sends only ``"severityText": "Information"``), the level ``severityText`` names
  (``Information``, ``warning``, ``ERROR2``, …), else INFO (9): a record that says
  nothing of its level is taken as information, not dropped; ``severity_text``:
  ``severityText`` when set (else derived from the number by the record model);
- ``body``: a string body as it is; any other body as text (numbers in decimal,
  ``true``/``false``, arrays and maps as compact JSON); no body is ``""``;
- ``host``: the resource's ``host.name``; ``service``: its ``service.name`` (None when
  absent: a log record's host is optional);
- ``attributes``: the record's attributes as plain JSON values (ints as ints whether
  they came as strings or numbers, maps as objects), plus ``trace_id`` and ``span_id``
  (lower-case hex) when set and ``event.name`` from ``eventName``;
- ``resource``: the resource's other attributes, as their own object beside
  ``attributes`` (rules address ``resource.k8s.pod.name``), so that a record's
  attributes and its resource's never overwrite each other;
- ``scope``: the instrumentation scope's ``name`` and ``version`` when it has a name (the
  logger, for SDK logs).
"""

from __future__ import annotations

from typing import Any

from processors.formats import FormatError
from processors.formats.otlp_common import (
    HOST_NAME,
    SERVICE_NAME,
    any_value,
    attributes,
    each,
    hex_id,
    items,
    resource_of,
    scopes,
    text,
    uint64,
)
from processors.severity import SEVERITY_NUMBERS, level_number

Records = list[dict[str, Any]]
INFO = SEVERITY_NUMBERS["INFO"]
# The SeverityNumber enum's names (``SEVERITY_NUMBER_WARN2``), for encoders that write
# names although OTLP/JSON says integers.
_ENUM = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{level}{step if step > 1 else ''}": first + step - 1
    for level, first in SEVERITY_NUMBERS.items()
    for step in range(1, 5)
}


def decode_logs(export: dict[str, Any]) -> Records:
    """An export's log records, in order; a FormatError names the path of what is
    wrong."""
    out: Records = []
    each(export, "resourceLogs", lambda resource_logs: _resource(resource_logs, out))
    return out


def _resource(resource_logs: dict[str, Any], out: Records) -> None:
    resource = resource_of(resource_logs.get("resource"))
    host, service = resource.get(HOST_NAME), resource.get(SERVICE_NAME)
    identity = (
        None if host is None else text(host),
        None if service is None else text(service),
        {k: v for k, v in resource.items() if k != HOST_NAME and k != SERVICE_NAME},
    )

    def scope_logs(logs: dict[str, Any]) -> None:
        scope = _scope(logs.get("scope"))
        each(logs, "logRecords", lambda record: out.append(_record(record, identity, scope)))

    each(resource_logs, scopes(resource_logs, "Logs"), scope_logs)


def _scope(scope: Any) -> dict[str, str] | None:
    if scope.__class__ is not dict or not scope.get("name"):
        return None
    found = {"name": text(scope["name"])}
    if scope.get("version"):
        found["version"] = text(scope["version"])
    return found


def _record(
    log_record: dict[str, Any],
    identity: tuple[str | None, str | None, dict[str, Any]],
    scope: dict[str, str] | None,
) -> dict[str, Any]:
    host, service, resource = identity
    severity_text = log_record.get("severityText") or None
    if severity_text is not None and severity_text.__class__ is not str:
        raise FormatError(f"severityText: {severity_text!r} is not a string")
    attrs = attributes(items(log_record, "attributes"), "attributes")
    for field, key, size in (("traceId", "trace_id", 16), ("spanId", "span_id", 8)):
        if log_record.get(field):
            attrs[key] = hex_id(log_record[field], field, size)
    if log_record.get("eventName"):
        attrs["event.name"] = text(log_record["eventName"])
    body = log_record.get("body")
    record = {
        "ts_ms": _time_ms(log_record),
        "host": host,
        "service": service,
        "severity_number": _severity(log_record.get("severityNumber"), severity_text),
        "body": "" if body is None else text(any_value(body, "body")),
        "attributes": attrs,
        "resource": dict(resource),
    }
    if severity_text is not None:
        record["severity_text"] = severity_text
    if scope is not None:
        record["scope"] = dict(scope)
    return record


def _time_ms(log_record: dict[str, Any]) -> int:
    for field in ("timeUnixNano", "observedTimeUnixNano"):
        ns = log_record.get(field)
        if ns is not None and ns != 0 and ns != "0":
            return uint64(ns, field) // 1_000_000
    raise FormatError("timeUnixNano: neither it nor observedTimeUnixNano is set")


def _severity(number: Any, severity_text: str | None) -> int:
    if number.__class__ is str:
        number = _ENUM.get(number, number)
    if number is None or (number == 0 and number.__class__ is int):
        return _level(severity_text) if severity_text is not None else INFO
    if number.__class__ is not int or not 1 <= number <= 24:
        raise FormatError(f"severityNumber: {number!r} is not a severity number (0–24)")
    return number


def _level(severity_text: str) -> int:
    """The number of the level ``severity_text`` names (``warning``, ``INFO3``), else
    INFO."""
    key = severity_text.strip().upper()
    step = 1
    if key[-1:] in ("2", "3", "4") and key[:-1] in SEVERITY_NUMBERS:
        key, step = key[:-1], int(key[-1])
    found = level_number(key)
    return (found if found is not None else INFO) + step - 1
