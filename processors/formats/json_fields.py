"""Fields of a shipper's JSON record, read with errors that name them, and the native
LogRecord built from them: what the JSON log shippers' decoders share (vector.py,
fluentbit.py, filebeat.py, falco.py).

Where a shipper's own keys go. Rules on ``source: log`` may name only the LogRecord's
fields and paths under ``attributes`` (processors/rules/fields.py derives that from the
model), so every key a shipper sent that did not become a native field is kept under
``attributes``, as sent: ``attributes.kubernetes.namespace_name``,
``attributes.log.file.path``, ``attributes.source_type``.

Levels. A level word maps onto OpenTelemetry's severity scale (1–24) with the table
formats.md §2.3 proposes for ECS ``log.level``: trace 1, debug 5, info 9, notice 10, warn
13, error 17, critical/fatal 21 (syslog's ``alert`` and ``emerg``, Java's ``severe``
alike). Pino's and Bunyan's numeric levels (10 trace … 60 fatal) map likewise. A word
the table does not know keeps its text with INFO's number 9, so an unusual level never
dead-letters a log; a record with no level at all is INFO 9. journald's ``PRIORITY``
digit reads as its syslog word (``"3"``: err, 17).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from processors.formats import FormatError
from processors.severity import SYSLOG_NUMBERS, level_number
from processors.timestamps import parse_ts_ms

INFO = 9
DEFAULT_SEVERITY = ("INFO", INFO)

# Pino and Bunyan (Node.js) write levels as numbers.
SEVERITY_OF_NUMERIC_LEVEL = {10: 1, 20: 5, 30: 9, 40: 13, 50: 17, 60: 21}
# journald's PRIORITY is syslog's severity as a digit (Fluent Bit's systemd input and
# Vector's journald source send it as it is).
SYSLOG_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
# (processors/severity.py has the one table of level words.)


def severity_of(level: object) -> tuple[str, int] | None:
    """``(severity_text, severity_number)`` of a level value as a shipper sent it; None
    when it is not a level (empty, an object, a boolean…)."""
    if isinstance(level, str):
        text = level.strip()
        if not text:
            return None
        found = level_number(text)
        return text, found if found is not None else INFO
    if isinstance(level, int) and not isinstance(level, bool):
        return str(level), SEVERITY_OF_NUMERIC_LEVEL.get(level, INFO)
    return None


def journald_severity(record: Mapping[str, Any]) -> tuple[str, int] | None:
    """The severity of journald's ``PRIORITY`` ("0"–"7"), as its syslog word."""
    priority = record.get("PRIORITY")
    if isinstance(priority, str) and len(priority) == 1 and "0" <= priority <= "7":
        word = SYSLOG_SEVERITIES[int(priority)]
        return word, SYSLOG_NUMBERS[int(priority)]
    return None


def first_level(
    record: Mapping[str, Any], keys: Iterable[str]
) -> tuple[str | None, tuple[str, int]]:
    """The first of ``keys`` whose value is a level, and its severity; else journald's
    ``PRIORITY`` (kept, as the journal's own field); else ``(None, INFO)``."""
    for key in keys:
        found = severity_of(record.get(key))
        if found is not None:
            return key, found
    return None, journald_severity(record) or DEFAULT_SEVERITY


def ts_ms_of(value: object, field: str) -> int:
    """Epoch milliseconds of a time as shipped (RFC 3339, or epoch s/ms/ns by magnitude).
    A time outside 1970–9999 passes through: ingest rejects it as
    ``timestamp_out_of_range`` like a native record's."""
    if value is None:
        raise FormatError(f"field '{field}': required (the event's time)")
    try:
        return parse_ts_ms(value)
    except ValueError as exc:
        raise FormatError(f"field '{field}': {exc}") from None


def number_of(value: object, field: str) -> float:
    """A JSON number as a float; an integer past a double's range is infinite, which
    ingest rejects as ``non_finite_value``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"field '{field}': expected a number, got {_shown(value)}")
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def object_of(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"field '{field}': expected an object, got {_shown(value)}")
    return value


def text_of(value: object) -> str:
    """A log body: a string as it is, nothing as "", anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def string_at(record: Mapping[str, Any], *path: str) -> str | None:
    """The non-empty string at ``path`` of nested objects, if there is one."""
    node: Any = record
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, str) and node else None


# A pod's service, by its labels: Kubernetes' recommended label (as the kubernetes
# filters write it: Fluent Bit keeps the dots, Beats dedot them to _), then ``app``.
APP_LABELS = ("app.kubernetes.io/name", "app_kubernetes_io/name", "app")


def app_label(labels: object) -> str | None:
    """The service a pod's labels name, if they name one."""
    if not isinstance(labels, dict):
        return None
    return next((v for k in APP_LABELS if isinstance(v := labels.get(k), str) and v), None)


def take_string(record: dict[str, Any], key: str) -> str | None:
    """A top-level non-empty string that becomes a native field, and so leaves the keys
    kept under ``attributes``."""
    value = record.get(key)
    if isinstance(value, str) and value:
        del record[key]
        return value
    return None


def log_record(
    *,
    ts_ms: int,
    body: str,
    host: str | None,
    service: str | None,
    severity: tuple[str, int],
    attributes: dict[str, Any],
) -> dict[str, Any]:
    """The fields of a native LogRecord (processors/records.py)."""
    return {
        "ts_ms": ts_ms,
        "host": host,
        "service": service,
        "severity_text": severity[0],
        "severity_number": severity[1],
        "body": body,
        "attributes": attributes,
    }


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
