"""Fluent Bit's ``kafka`` output with ``format json`` (its default): one record per
message, the record's map as JSON with the event time inserted under ``timestamp_key``
(https://docs.fluentbit.io/manual/pipeline/outputs/kafka; ``plugins/out_kafka``).

The time is ``@timestamp`` unless ``timestamp_key`` says otherwise, in
``timestamp_format`` ``double`` (float epoch seconds, the default), ``iso8601``
(``2021-08-25T01:54:37.226758Z``, microseconds) or ``iso8601_ns`` (nanoseconds). The
rest is what the inputs, parsers and filters made: ``log`` (tail with the docker or CRI
parser: the raw line, often ending in a newline), ``message`` (systemd, syslog), ``stream``,
``time`` (the container runtime's own time) and the kubernetes filter's ``kubernetes``
(``pod_name``, ``namespace_name``, ``container_name``, ``host``, ``labels``…).

Becomes a LogRecord:

- time: ``@timestamp``, else ``time``, else ``timestamp`` (for a changed
  ``timestamp_key``; never set it to ``ts``, which reads as a native record);
- body: ``log`` without its trailing newline, else ``message``, else the systemd
  input's ``MESSAGE``;
- host: ``kubernetes.host`` (the node), else a ``host`` or ``hostname`` key
  (record_modifier), else the systemd input's ``_HOSTNAME``;
- service: a ``service`` key, else the pod's ``app.kubernetes.io/name`` or ``app`` label
  (container names are often generic: ``server``, ``app``), else
  ``kubernetes.container_name``, else the systemd input's ``SYSLOG_IDENTIFIER``;
- severity: a ``level`` or ``severity`` key, a ``log.level`` key (ECS loggers), or
  ``level`` inside a merged ``log`` object (json_fields.py's table), else the systemd
  input's ``PRIORITY``, else INFO 9;
- every other key under ``attributes``: ``attributes.kubernetes.namespace_name``,
  ``attributes.stream``.
"""

from __future__ import annotations

from typing import Any

from processors.formats import Format, FormatError, Payload
from processors.formats.json_fields import (
    app_label,
    first_level,
    log_record,
    severity_of,
    string_at,
    take_string,
    text_of,
    ts_ms_of,
)

TIME_KEYS = ("@timestamp", "time", "timestamp")
LEVEL_KEYS = ("level", "severity", "log.level")


def detect(payload: Payload) -> bool:
    """``@timestamp`` as a float (``timestamp_format double``), or any ``@timestamp`` with a
    ``log`` line or ``kubernetes`` metadata; never a Beats/ECS document (``@metadata``,
    ``ecs``), whose ``@timestamp`` is an ISO string too. Try it after filebeat and the
    syslog JSON formats: its shape is the loosest."""
    obj = payload.obj
    if obj is None or "@metadata" in obj or "ecs" in obj or "ecs.version" in obj:
        return False
    ts = obj.get("@timestamp")
    if isinstance(ts, float):
        return True
    return ts is not None and (
        isinstance(obj.get("log"), str) or isinstance(obj.get("kubernetes"), dict)
    )


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    record = payload.obj
    if record is None:
        raise FormatError("a Fluent Bit record is a JSON object")
    if source != "log":
        raise FormatError(f"a Fluent Bit record is a log; it cannot feed a {source} topic")
    rest = dict(record)
    time_key = next((key for key in TIME_KEYS if key in rest), "@timestamp")
    ts_ms = ts_ms_of(rest.pop(time_key, None), time_key)
    line = rest.get("log")
    if isinstance(line, str):
        del rest["log"]
        body = line[:-1] if line.endswith("\n") else line
        body = body[:-1] if body.endswith("\r") else body
    elif "message" in rest:
        body = text_of(rest.pop("message"))
    else:  # the systemd input: journal fields as they are
        body = text_of(rest.pop("MESSAGE", None))
    level_key, severity = first_level(rest, LEVEL_KEYS)
    if level_key is not None:
        del rest[level_key]
    elif isinstance(line, dict):  # Merge_Log_Key log: the app's JSON under ``log``
        severity = severity_of(line.get("level")) or severity
    host = string_at(rest, "kubernetes", "host")
    if host is None:
        host = (
            take_string(rest, "host")
            or take_string(rest, "hostname")
            or string_at(rest, "_HOSTNAME")
        )
    kubernetes = rest.get("kubernetes")
    service = (
        take_string(rest, "service")
        or (app_label(kubernetes.get("labels")) if isinstance(kubernetes, dict) else None)
        or string_at(rest, "kubernetes", "container_name")
        or string_at(rest, "SYSLOG_IDENTIFIER")
    )
    return [
        log_record(
            ts_ms=ts_ms,
            body=body,
            host=host,
            service=service,
            severity=severity,
            attributes=rest,
        )
    ]


FLUENTBIT = Format(
    "fluentbit",
    frozenset({"log"}),
    detect,
    decode,
    "Fluent Bit's kafka output, format json: log records (kubernetes metadata kept)",
)
