"""Falco's JSON alerts (``json_output: true``), as falcosidekick's ``kafka`` output sends
them (https://falco.org/docs/concepts/outputs/formatting/; falcosidekick
``types.FalcoPayload``): ``time`` (RFC 3339, ns), ``rule``, ``priority`` (one of eight),
``output`` (the formatted line), ``output_fields`` (each ``%field`` of the rule's output
and ``append_output`` extras, by Falco's names: ``proc.cmdline``, ``proc.aname[2]``,
``ka.uri.param[command]``; values strings, numbers or null), ``source`` (``syscall``,
``k8s_audit``, a plugin's), ``tags``, ``hostname``, ``uuid`` (falcosidekick).

On a security topic, an ECS alert:

- ``event.kind`` alert, ``event.category`` [intrusion_detection], ``event.module``
  falco, ``event.provider`` the Falco source, ``event.id`` the uuid, ``event.severity``
  the priority on OpenTelemetry's scale (formats.md §2.3: Debug 5, Informational 9,
  Notice 10, Warning 13, Error 17, Critical 18, Alert 21, Emergency 22);
- ``rule.name``, ``message`` (the output line), ``tags``, ``labels`` (``priority``,
  ``source``); MITRE tags as ``threat.technique.id`` (``T1555``) and
  ``threat.tactic.name`` (``mitre_credential_access``: Credential Access);
- from ``output_fields``: ``process.{name,command_line,executable,pid}`` (the name from
  ``proc.cmdline``'s first word when the rule did not output ``proc.name``: Falco's
  cmdline is ``proc.name`` + ``proc.args``),
  ``process.parent.{name,pid}``, ``user.{name,id}`` (``ka.user.name`` for Kubernetes
  audit), ``container.{id,name}``, ``container.image.{name,tag}``,
  ``orchestrator.namespace`` and the pod (or, for Kubernetes audit, ``ka.target.name``
  and ``ka.target.resource``) as ``orchestrator.resource``, ``file.path`` from
  ``fd.name`` when the descriptor is a file (``fd.type`` file or directory, or a path
  when ``fd.type`` is absent), ``source``/``destination`` ip and port from
  ``fd.cip``/``fd.cport``/``fd.sip``/``fd.sport``; Falco's ``<NA>`` and null are absent;
- ``host.name`` from ``hostname`` (``evt.hostname`` before falcosidekick's field existed);
- every output field as sent under ``falco.output_fields``, its key made a path a rule
  can name: each run of characters other than letters, digits and ``_`` becomes one
  ``_`` (``proc.aname[2]`` → ``proc_aname_2``, ``ka.uri.param[command]`` →
  ``ka_uri_param_command``). Falco's names mix leaves and branches (``container.image``
  and ``container.image.repository``), which nesting by dots would lose.

On a logs topic (a team that keeps alerts with its logs): a LogRecord with the output line
as body, the priority as severity (same table), host from ``hostname``, and ``rule``,
``source``, ``tags``, ``uuid`` and the output fields (keys as above) under ``attributes``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from processors.formats import Format, FormatError, Payload
from processors.formats.json_fields import INFO, log_record, object_of, text_of, ts_ms_of
from processors.severity import level_number

# Falco's priorities are syslog's severities (falco_common.h); "info" is what rule files
# may write. Their numbers come from the one table (processors/severity.py).
PRIORITIES = frozenset(
    {"emergency", "alert", "critical", "error", "warning", "notice", "informational", "info",
     "debug"}
)  # fmt: skip
NOT_AVAILABLE = "<NA>"
_UNADDRESSABLE = re.compile(r"[^A-Za-z0-9_]+")
_TECHNIQUE = re.compile(r"T\d{4}(\.\d{3})?")
# ECS fields from Falco fields: (ECS path, Falco fields in order of preference).
ECS_FROM_FIELDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("process", "name"), ("proc.name",)),
    (("process", "command_line"), ("proc.cmdline",)),
    (("process", "executable"), ("proc.exepath",)),
    (("process", "pid"), ("proc.pid",)),
    (("process", "parent", "name"), ("proc.pname",)),
    (("process", "parent", "pid"), ("proc.ppid",)),
    (("user", "name"), ("user.name", "ka.user.name")),
    (("container", "id"), ("container.id",)),
    (("container", "name"), ("container.name",)),
    (("container", "image", "name"), ("container.image.repository",)),
    (("orchestrator", "namespace"), ("k8s.ns.name", "ka.target.namespace")),
    (("orchestrator", "resource", "name"), ("k8s.pod.name",)),
    (("source", "ip"), ("fd.cip",)),
    (("source", "port"), ("fd.cport",)),
    (("destination", "ip"), ("fd.sip",)),
    (("destination", "port"), ("fd.sport",)),
)


def detect(payload: Payload) -> bool:
    """``rule``, ``priority`` and ``output`` as strings: an alert, Falco's or falcosidekick's."""
    obj = payload.obj
    return (
        obj is not None
        and isinstance(obj.get("rule"), str)
        and isinstance(obj.get("priority"), str)
        and isinstance(obj.get("output"), str)
    )


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    alert = payload.obj
    if alert is None:
        raise FormatError("a Falco alert is a JSON object")
    rule = alert.get("rule")
    if not isinstance(rule, str) or not rule:
        raise FormatError(f"field 'rule': expected the rule's name, got {rule!r}")
    priority = alert.get("priority")
    if not isinstance(priority, str) or priority.lower() not in PRIORITIES:
        raise FormatError(
            f"field 'priority': expected one of Falco's priorities (Emergency, Alert, "
            f"Critical, Error, Warning, Notice, Informational, Debug), got {priority!r}"
        )
    severity = level_number(priority) or INFO  # every priority is in the table
    fields = object_of(alert.get("output_fields") or {}, "output_fields")
    if "time" in alert:
        ts_ms = ts_ms_of(alert["time"], "time")
    else:  # evt.time: epoch ns, when the rule's output has %evt.time
        ts_ms = ts_ms_of(fields.get("evt.time"), "time")
    tags = alert.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FormatError(f"field 'tags': expected a list of strings, got {tags!r}")
    falco_source = alert.get("source")
    hostname = alert.get("hostname") or fields.get("evt.hostname")
    output = text_of(alert.get("output"))
    raw = {_addressable(key): value for key, value in fields.items()}
    if source == "log":
        attributes: dict[str, Any] = {"rule": rule, "source": falco_source, "tags": tags}
        if "uuid" in alert:
            attributes["uuid"] = alert["uuid"]
        attributes["output_fields"] = raw
        return [
            log_record(
                ts_ms=ts_ms,
                body=output,
                host=hostname if isinstance(hostname, str) and hostname else None,
                service=None,
                severity=(priority, severity),
                attributes=attributes,
            )
        ]
    if source != "security":
        raise FormatError(f"a Falco alert feeds the security or logs topic, not {source}")
    event: dict[str, Any] = {
        "kind": "alert",
        "category": ["intrusion_detection"],
        "module": "falco",
        "severity": severity,
    }
    if isinstance(falco_source, str):
        event["provider"] = falco_source
    if isinstance(alert.get("uuid"), str):
        event["id"] = alert["uuid"]
    record: dict[str, Any] = {
        "ts_ms": ts_ms,
        "event": event,
        "rule": {"name": rule},
        "message": output,
        "tags": tags,
        "labels": {"priority": priority},
    }
    if isinstance(falco_source, str):
        record["labels"]["source"] = falco_source
    _ecs_from_fields(record, fields)
    threat = _threat(tags)
    if threat:
        record["threat"] = threat
    if isinstance(hostname, str) and hostname:
        record["host"] = {"name": hostname}
    record["falco"] = {"output_fields": raw}
    return [record]


def _ecs_from_fields(record: dict[str, Any], fields: dict[str, Any]) -> None:
    for path, names in ECS_FROM_FIELDS:
        for name in names:
            value = fields.get(name)
            if _known(value):
                _put(record, path, value)
                break
    cmdline = fields.get("proc.cmdline")
    if "name" not in record.get("process", {}) and _known(cmdline) and isinstance(cmdline, str):
        _put(record, ("process", "name"), cmdline.split(" ", 1)[0])  # proc.name + proc.args
    if _known(fields.get("user.uid")):  # ECS user.id is a keyword
        _put(record, ("user", "id"), str(fields["user.uid"]))
    if _known(fields.get("container.image.tag")):  # ECS container.image.tag is a list
        _put(record, ("container", "image", "tag"), [str(fields["container.image.tag"])])
    if _known(fields.get("k8s.pod.name")):
        _put(record, ("orchestrator", "resource", "type"), "pod")
    elif _known(fields.get("ka.target.name")):  # Kubernetes audit: what the request acted on
        _put(record, ("orchestrator", "resource", "name"), fields["ka.target.name"])
        if _known(fields.get("ka.target.resource")):
            _put(record, ("orchestrator", "resource", "type"), fields["ka.target.resource"])
    fd_name, fd_type = fields.get("fd.name"), fields.get("fd.type")
    is_file = fd_type in ("file", "directory") or fd_type is None
    if is_file and isinstance(fd_name, str) and fd_name.startswith("/"):
        _put(record, ("file", "path"), fd_name)


def _threat(tags: list[str]) -> dict[str, Any]:
    """MITRE ATT&CK from Falco's tags: technique ids (``T1555``) and tactics
    (``mitre_credential_access``)."""
    techniques = [t for t in tags if _TECHNIQUE.fullmatch(t)]
    tactics = [
        " ".join(w if w == "and" else w.capitalize() for w in t[len("mitre_") :].split("_"))
        for t in tags
        if t.startswith("mitre_")
    ]
    threat: dict[str, Any] = {}
    if techniques or tactics:
        threat["framework"] = "MITRE ATT&CK"
    if techniques:
        threat["technique"] = {"id": techniques}
    if tactics:
        threat["tactic"] = {"name": tactics}
    return threat


@lru_cache(maxsize=4096)  # a small vocabulary of names (measured: 36k → 110k alerts/s)
def _addressable(key: str) -> str:
    name = _UNADDRESSABLE.sub("_", key).strip("_")
    return name if name and not name[0].isdigit() else f"_{name}"


def _known(value: object) -> bool:
    return value is not None and value != NOT_AVAILABLE and value != ""


def _put(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = record
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


FALCO = Format(
    "falco",
    frozenset({"security", "log"}),
    detect,
    decode,
    "Falco JSON alerts (falcosidekick's kafka output): ECS alerts, or logs",
)
