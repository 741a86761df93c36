"""Records on the wire. Pure: imports nothing but pydantic, the standard library and
:mod:`processors.timestamps` (time on the wire, the ground floor too).

Input records accept ``ts`` as epoch seconds, milliseconds or nanoseconds (told apart
by magnitude) or an RFC 3339 string, and hold it as integer ``ts_ms``. Records we
write are single-line JSON with the field names below.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from processors.severity import level_number, severity_text_for
from processors.timestamps import EpochMs, parse_ts_ms


class _Input(BaseModel):
    """Base of input records: ``ts`` in any accepted form becomes ``ts_ms``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ts_ms: EpochMs

    @model_validator(mode="before")
    @classmethod
    def _ts(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ts_ms" not in data:
            if "ts" not in data:
                raise ValueError("field 'ts' is required")
            data = dict(data)
            data["ts_ms"] = parse_ts_ms(data.pop("ts"))
        return data


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be finite (no NaN or Infinity)")
    return value


def _cumulative_flag(record: BaseModel) -> None:
    """``"cumulative": true`` marks a running total (bytes sent since boot): the firehose
    follows each such sample with its per-second rate ``<name>.rate``. Kept among the
    extra fields, so a record carries the key only when its producer sent it."""
    extra = record.__pydantic_extra__
    if extra and "cumulative" in extra and extra["cumulative"].__class__ is not bool:
        raise ValueError("field 'cumulative': must be true or false")


class MetricSample(_Input):
    """``{"ts": …, "name": "system.cpu.utilization", "value": 0.93, "host": "web-1"}``

    Names follow OpenTelemetry semantic conventions; utilisations are 0–1 ratios.
    ``"cumulative": true`` marks a running total (see :func:`_cumulative_flag`).
    """

    name: str = Field(min_length=1, max_length=255)
    value: float
    unit: str | None = None
    host: str = Field(min_length=1, max_length=255)
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    _value_finite = field_validator("value")(_finite)

    @model_validator(mode="after")
    def _cumulative(self) -> MetricSample:
        _cumulative_flag(self)
        return self


class BatchSample(BaseModel):
    """One sample inside a :class:`MetricBatch`; ``ts`` defaults to the batch's, and
    ``"cumulative": true`` marks a running total as on a single sample."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    value: float
    unit: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    ts_ms: EpochMs | None = None

    _value_finite = field_validator("value")(_finite)

    @model_validator(mode="before")
    @classmethod
    def _ts(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ts" in data and "ts_ms" not in data:
            data = dict(data)
            data["ts_ms"] = parse_ts_ms(data.pop("ts"))
        return data

    @model_validator(mode="after")
    def _cumulative(self) -> BatchSample:
        _cumulative_flag(self)
        return self

    @property
    def cumulative(self) -> bool:
        extra = self.__pydantic_extra__
        return extra is not None and extra.get("cumulative") is True


class MetricBatch(_Input):
    """``{"ts": …, "host": …, "service": …, "samples": [{"name": …, "value": …}, …]}``"""

    host: str = Field(min_length=1, max_length=255)
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    samples: list[BatchSample] = Field(min_length=1, max_length=100_000)

    def expand(self) -> list[dict[str, Any]]:
        """The batch as the fields of single samples (:class:`MetricSample`'s), batch
        labels under each sample's own, ``"cumulative": True`` on a running total's.
        Already validated: no second validation."""
        ts_ms, host, service, labels = self.ts_ms, self.host, self.service, self.labels
        out = []
        for s in self.samples:
            fields: dict[str, Any] = {
                "ts_ms": s.ts_ms if s.ts_ms is not None else ts_ms,
                "name": s.name,
                "value": s.value,
                "unit": s.unit,
                "host": host,
                "service": service,
                "labels": {**labels, **s.labels} if labels else s.labels,
            }
            if s.cumulative:
                fields["cumulative"] = True
            out.append(fields)
        return out


class LogRecord(_Input):
    """``{"ts": …, "host": …, "service": …, "severity_text": "ERROR", "body": "…"}``

    Either severity field suffices; the other is derived (OpenTelemetry's 1–24 scale,
    syslog names such as ``warning`` or ``critical`` understood).
    """

    host: str | None = None
    service: str | None = None
    severity_text: str
    severity_number: int = Field(ge=1, le=24)
    body: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _severity(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        text, number = data.get("severity_text"), data.get("severity_number")
        if text is None and number is None:
            raise ValueError("needs severity_text or severity_number")
        data = dict(data)
        if number is None:
            found = level_number(str(text))
            if found is None:
                raise ValueError(f"unknown severity_text {text!r}; give severity_number")
            data["severity_number"] = found
        elif text is None and isinstance(number, int) and not isinstance(number, bool):
            data["severity_text"] = severity_text_for(number)
        return data


class HealthCheck(_Input):
    """``{"ts": …, "service": …, "instance": …, "check": "http", "status": "fail"}``"""

    service: str = Field(min_length=1, max_length=255)
    instance: str = Field(min_length=1, max_length=255)
    check: str = "heartbeat"
    status: Literal["pass", "warn", "fail"]
    latency_ms: float | None = Field(None, ge=0)
    host: str | None = None
    message: str | None = None

    _latency_finite = field_validator("latency_ms")(_finite)


def nest_dotted(data: dict[str, Any]) -> dict[str, Any]:
    """``{"event.category": "x"}`` → ``{"event": {"category": "x"}}`` (ECS allows both)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = nest_dotted(value)
        parts = key.split(".") if "." in key else [key]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict) and isinstance(value, dict):
            node[last] = {**node[last], **value}
        else:
            node[last] = value
    return out


# ECS fields a security event may carry beyond ``event`` (it is free-form otherwise):
# the base fields, and the field sets rules address by path (``source.ip``). ``falco`` is
# a vendor set, as Elastic's Falco integration names it: the alert's raw output fields
# (processors/formats/falco.py), which no ECS field holds.
ECS_BASE_FIELDS = ("message", "tags", "labels")
ECS_FIELD_SETS = (
    "event", "source", "destination", "user", "host", "process", "network", "url", "http",
    "file", "rule", "threat", "service", "client", "server", "labels", "agent", "observer",
    "related", "cloud", "container", "orchestrator", "dns", "tls", "falco",
)  # fmt: skip


class SecurityEvent(_Input):
    """A security event with Elastic Common Schema names, nested or dotted
    (``event.category``, ``event.outcome``, ``source.ip``, ``user.name``, …).

    Held nested; rule expressions address fields by path (``source.ip``).
    """

    event: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return nest_dotted(data)
        return data


class OpsEvent(_Input):
    """Deploys, backups, maintenance, changes: ``{"ts": …, "type": "deploy",
    "entity": "checkout", "status": "succeeded", "attributes": {…}}``; backups and
    restore tests carry ``backup_id`` and ``size_bytes``, deployments ``version``,
    ``previous_version`` and ``strategy``."""

    type: str = Field(min_length=1, max_length=255)
    entity: str = Field(min_length=1, max_length=255)
    status: str | None = None
    service: str | None = None
    host: str | None = None
    message: str | None = None
    # what the operations policies read (rules/README.md): backups and restore tests …
    backup_id: str | None = None
    size_bytes: int | None = Field(None, ge=0)
    # … and deployments
    version: str | None = None
    previous_version: str | None = None
    strategy: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


# What an anomaly signal's ``group`` and ``values`` hold (processors/firehose/anomaly_feed.py);
# rules on signals read them flattened, as top-level fields.
ANOMALY_GROUP_FIELDS = ("metric", "host", "service")
ANOMALY_VALUE_FIELDS = ("score", "value", "expected", "low", "high", "direction")


class Signal(BaseModel):
    """What a processor found; the input of the decision tier (``ops.signals``).

    ``kind="window"``: one closed window of one series (``values`` holds its stats,
    ``ts_ms`` is the window end). ``kind="record"``: one record that matched a rule
    without a window (``values`` holds its numeric fields, ``record`` the record).
    ``kind="anomaly"``: a metric point the anomaly detector scored at or above its
    threshold (``values``: score, value, expected, low, high, direction +1 up / -1
    down; ``group``: metric, host, service; see :mod:`processors.firehose.anomaly_feed`).
    ``kind="match"``: a rule of a type beyond thresholds matched (frequency, flatline,
    change, new_term, cardinality, spike, sequence; ``record`` holds what the rule's
    templates see). ``kind="step"``: one step of a sequence rule (``sequence``), keyed
    by the join key; ``rules`` is empty, as the decision tier has nothing to decide on
    it (see :mod:`processors.firehose.sequence`). ``kind="recovery"``: a flatline rule's silent
    key sent again (``record.silent_since``); it only settles the verification of the
    actions taken for the silence. ``kind="slo"``: one minute of one SLO's group
    (``values``: ``burn_5m`` … ``burn_3d``, ``budget_remaining``, the minute's
    ``total`` and ``bad``; ``record``: ``slo``, ``objective``). ``kind="part"``: one
    input partition's count of one SLO group's minute, on its way to the signals
    partition that adds them up (``rules`` is empty; see :mod:`processors.firehose.slos`).
    ``rules`` are the ids of the rules it feeds; ``group`` their ``group_by`` values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # deterministic: series + window start + spec, or source offset
    kind: Literal["window", "record", "anomaly", "match", "step", "recovery", "slo", "part"]
    key: str  # the entity; also the Kafka key
    source: str = "metric"
    rules: list[str] = Field(default_factory=list)
    group: dict[str, str] = Field(default_factory=dict)
    ts_ms: EpochMs
    window_start_ms: EpochMs | None = None
    values: dict[str, float | None] = Field(default_factory=dict)
    record: dict[str, Any] | None = None
    sequence: str | None = None  # kind "step": the sequence rule it is a step of


# The action types (each has its topic, ops.actions.<type>) and the severities of alerts:
# the words of actions on the wire and of rule files (processors/rules/ imports them).
ActionType = Literal["alert", "heal", "scale", "incident"]
Severity = Literal["info", "warning", "error", "critical"]
AlertStatus = Literal["firing", "resolved"]  # of an action, a decision, an alert's news


class Action(BaseModel):
    """What the engine decided (``ops.actions.<type>``); executors act on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # deterministic: the same alert, firing and action always give the same id
    type: ActionType
    status: AlertStatus
    rule_id: str
    rule_version: str
    severity: Severity
    group: dict[str, str]
    fingerprint: str = ""  # the alert's identity: rule id + group values
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str
    annotations: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    starts_at: str | None = None  # when the firing began (event time), RFC 3339
    ts: str  # when it was decided (event time), RFC 3339
    # The decision side (additive):
    target: str | None = None  # what it acts on: params.target, else the group as k=v,…
    incident_id: str | None = None  # the incident opened for this alert, once there is one
    decision: Decision | None = None  # why it was sent: the decision trail


SuppressReason = Literal[
    "silenced",
    "inhibited",
    "maintenance",
    "cooldown",
    "budget",
    "flapping",
    "dry_run",
    "circuit_open",
]


class Decision(BaseModel):
    """Why the engine sent, or did not send, one action: the decision trail. Carried by
    the action (``decision``) and written for every action and every suppressed would-be
    action to ``ops.decisions`` (key = fingerprint).

    ``outcome``: ``sent``; ``suppressed`` (``reason`` says why and ``suppressed_by`` names
    the silence id, inhibiting alert, maintenance window, budget or breaker); or
    ``dry_run`` (decided, recorded, not sent). ``because`` says what made it due:
    ``firing``, ``resolved``, ``flapping_ended``, ``unmuted`` (a firing that was muted
    and is not any more) or ``escalation``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    action_type: ActionType
    action_index: int  # the rule's action; an escalation has its verified action's
    status: AlertStatus
    outcome: Literal["sent", "suppressed", "dry_run"]
    reason: SuppressReason | None = None
    because: str
    rule_id: str
    rule_version: str
    fingerprint: str
    target: str | None = None
    group: dict[str, str] = Field(default_factory=dict)
    values: dict[str, Any] = Field(default_factory=dict)  # the values that matched
    suppressed_by: dict[str, Any] = Field(default_factory=dict)
    detail: dict[str, Any] = Field(default_factory=dict)
    ts: str  # event time of the decision, RFC 3339


class SilenceRecord(BaseModel):
    """A silence (``ops.silences``, compacted, key = silence id): alerts whose labels match
    every matcher send nothing from ``starts_at`` to ``ends_at``. Silences always end;
    expiring one rewrites it with ``ends_at`` = now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    matchers: list[str] = Field(min_length=1)  # Alertmanager syntax: host=web-1, env!~"dev.*"
    starts_at: str  # RFC 3339
    ends_at: str  # RFC 3339
    created_by: str
    comment: str = Field(min_length=1)
    created_at: str  # RFC 3339

    @field_validator("starts_at", "ends_at", "created_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_ts_ms(value)
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceRecord:
        if parse_ts_ms(self.ends_at) <= parse_ts_ms(self.starts_at):
            raise ValueError("ends_at must be after starts_at")
        return self

    @property
    def starts_ms(self) -> int:
        return parse_ts_ms(self.starts_at)

    @property
    def ends_ms(self) -> int:
        return parse_ts_ms(self.ends_at)


class ActionResult(_Input):
    """An executor's report on one action (``ops.actions.results``, key = action id);
    ``opsrules act`` writes one per action and receiver."""

    action_id: str
    status: Literal["succeeded", "failed", "skipped"]
    executor: str = "unknown"
    message: str = ""
    receiver: str | None = None
    attempts: int | None = None
    duration_ms: float | None = None
    error: str = ""  # why it failed


DeadLetterReason = Literal[
    "malformed_json",
    "invalid_schema",
    "non_finite_value",
    "timestamp_out_of_range",
    "too_large",
    "late",
    "processing_error",  # a bug: the record was valid but a core failed on it
]


class DeadLetter(BaseModel):
    """A record we could not process, with why and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: DeadLetterReason
    message: str
    topic: str
    partition: int
    offset: int
    key: str | None
    raw: str | None  # the original bytes when they are valid UTF-8 …
    raw_base64: str | None = None  # … else base64 of them
    ts: str  # when it was dead-lettered, RFC 3339


# The sources a rule reads records from (a rule file's ``source``), and the record model
# each source's records are validated with (a metric batch is read as samples of this
# shape): one model per source (tests/processors/rules/test_source_fields.py checks it).
Source = Literal["metric", "log", "security", "health", "event", "signal"]
SOURCE_MODELS: dict[str, type[BaseModel]] = {
    "metric": MetricSample,
    "log": LogRecord,
    "health": HealthCheck,
    "security": SecurityEvent,
    "event": OpsEvent,
    "signal": Signal,
}
