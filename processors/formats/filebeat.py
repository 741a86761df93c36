"""Filebeat's (and any Beat's, and Elastic Agent's) ``output.kafka`` with ``codec.json``,
its default: the whole event as an ECS document
(https://www.elastic.co/guide/en/beats/filebeat/current/kafka-output.html).

``@timestamp`` (ISO 8601, ms, UTC), ``@metadata`` (``beat``, ``type``, ``version``; older
versions also ``topic``), ``message``, ``log.file.path``, ``log.offset``, ``input.type``,
``ecs.version``, ``host.name`` (and ``host.os.*`` with ``add_host_metadata``),
``agent.{name,type,version,id,ephemeral_id}``; Beats that categorise on the agent
(Auditbeat, Winlogbeat, Filebeat with processors) add ``event.{kind,category,type,
outcome}``, ``source.ip``, ``user.name``…. Filebeat *modules* parse in Elasticsearch
ingest pipelines, which do not run on the way to Kafka: their events arrive with the raw
``message`` and ``event.module``/``event.dataset``, not the parsed ECS fields. ECS
loggers that write to Kafka themselves send the same fields with dotted keys
(``"log.level": "info"``), read here as nested.

- On a security topic: a SecurityEvent, the ECS fields as they are, ``@timestamp`` its
  time, ``@metadata`` dropped. An event without ``event`` fields whose ``message`` is
  sshd's line in a syslog file (``/var/log/auth.log``: ``Dec  8 00:10:01 web-1
  sshd[812]: Failed password for root from 203.0.113.7 port 50000 ssh2``, as Filebeat's
  ``system`` module or a plain input reads it) gains the ECS authentication event that
  syslog gives the same line (sshd.py): ``event.*``, ``source.ip``, ``user.name``,
  ``process.*``, so ``failed_login_burst`` fires on it; Filebeat's own fields stay.
- On a logs topic: a LogRecord. Body ``message`` (else ``event.original``); host
  ``host.name``, else ``agent.name``; service ``service.name``, else the pod's
  ``app.kubernetes.io/name`` or ``app`` label, else ``kubernetes.container.name``, else
  the program of a syslog file line (``sshd[812]:`` → ``sshd``); severity ``log.level``
  (json_fields.py's table), else INFO 9; every field but ``@timestamp``, ``@metadata`` and
  ``message`` under ``attributes`` (``attributes.log.file.path``,
  ``attributes.host.os.name``).

The time is ``@timestamp``, when Filebeat read the line, not the time written in it.
"""

from __future__ import annotations

from typing import Any

from processors.formats import Format, FormatError, Payload
from processors.formats.json_fields import (
    DEFAULT_SEVERITY,
    app_label,
    log_record,
    severity_of,
    string_at,
    text_of,
    ts_ms_of,
)
from processors.formats.sshd import auth_event
from processors.formats.syslog import file_line
from processors.records import nest_dotted


def detect(payload: Payload) -> bool:
    """A Beat's ``@metadata.beat``, or the ECS shape: ``@timestamp`` with ``ecs.version``
    or ``agent.type``. Try it before fluentbit, whose ``@timestamp`` it shares."""
    obj = payload.obj
    if obj is None:
        return False
    meta = obj.get("@metadata")
    if isinstance(meta, dict) and "beat" in meta:
        return True
    if "@timestamp" not in obj:
        return False
    ecs, agent = obj.get("ecs"), obj.get("agent")
    return (
        "ecs.version" in obj
        or (isinstance(ecs, dict) and "version" in ecs)
        or (isinstance(agent, dict) and "type" in agent)
    )


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    document = payload.obj
    if document is None:
        raise FormatError("a Beats event is a JSON object")
    if any("." in key for key in document):  # an ECS logger's dotted keys
        document = nest_dotted(document)
    ts_ms = ts_ms_of(document.get("@timestamp"), "@timestamp")
    rest = {k: v for k, v in document.items() if k != "@timestamp" and k != "@metadata"}
    message = rest.get("message")
    line = file_line(message) if isinstance(message, str) else None
    if source == "security":
        rest["ts_ms"] = ts_ms
        if line is not None and "event" not in rest:
            attempt = auth_event(ts_ms, line.program, line.host, line.pid, line.message)
            if attempt is not None:
                attempt["message"] = message  # the line as read
                return [{**rest, **attempt, "host": {**_host(rest), **attempt["host"]}}]
        return [rest]
    if source != "log":
        raise FormatError(f"a Beats event feeds the logs or security topic, not {source}")
    rest.pop("message", None)
    body = text_of(message if message is not None else _at(rest, "event", "original"))
    return [
        log_record(
            ts_ms=ts_ms,
            body=body,
            host=string_at(rest, "host", "name") or string_at(rest, "agent", "name"),
            service=(
                string_at(rest, "service", "name")
                or app_label(_at(rest, "kubernetes", "labels"))
                or string_at(rest, "kubernetes", "container", "name")
                or (line.program if line is not None else None)
            ),
            severity=severity_of(_at(rest, "log", "level")) or DEFAULT_SEVERITY,
            attributes=rest,
        )
    ]


def _host(document: dict[str, Any]) -> dict[str, Any]:
    host = document.get("host")
    return host if isinstance(host, dict) else {}


def _at(document: dict[str, Any], parent: str, key: str) -> Any:
    node = document.get(parent)
    return node.get(key) if isinstance(node, dict) else None


FILEBEAT = Format(
    "filebeat",
    frozenset({"log", "security"}),
    detect,
    decode,
    "Filebeat / Beats / Elastic Agent output.kafka (ECS JSON): logs and security events",
)
