"""Records on the wire. Pure: imports nothing but pydantic and the standard library.

Input records accept ``ts`` as epoch seconds, milliseconds or nanoseconds (told apart
by magnitude) or an RFC 3339 string, and hold it as integer ``ts_ms``. Records we
write are single-line JSON with the field names below.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Epoch magnitudes: 1e11 s is the year 5138, 1e14 ms the year 5138 too.
_MAX_SECONDS = 1e11
_MAX_MILLIS = 1e14


def parse_ts_ms(value: object) -> int:
    """Epoch s / ms / ns (by magnitude) or RFC 3339 → integer epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError("a timestamp must be a finite, non-negative epoch number")
        if number < _MAX_SECONDS:
            return round(number * 1000)
        if number < _MAX_MILLIS:
            return round(number)
        return int(value) // 1_000_000 if isinstance(value, int) else round(number / 1e6)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is neither epoch time nor RFC 3339") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone (add Z or an offset)")
        return round(parsed.timestamp() * 1000)
    raise ValueError("a timestamp must be a number or an RFC 3339 string")


def format_ts(ts_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-28T21:00:00.000Z``."""
    return (
        datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    )


class _Input(BaseModel):
    """Base of input records: ``ts`` in any accepted form becomes ``ts_ms``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ts_ms: int

    @model_validator(mode="before")
    @classmethod
    def _ts(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ts_ms" not in data:
            if "ts" not in data:
                raise ValueError("field 'ts' is required")
            data = dict(data)
            data["ts_ms"] = parse_ts_ms(data.pop("ts"))
        return data


class MetricSample(_Input):
    """``{"ts": …, "name": "system.cpu.utilization", "value": 0.93, "host": "web-1"}``"""

    name: str = Field(min_length=1, max_length=255)
    value: float
    unit: str | None = None
    host: str = Field(min_length=1, max_length=255)
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be finite (no NaN or Infinity)")
        return value


class Signal(BaseModel):
    """What a processor found; the input of the decision tier (``ops.signals``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str  # "sample" in the walking skeleton; later aggregate, anomaly, threat, …
    key: str  # the entity the signal is about (host, service, series)
    name: str
    value: float
    ts_ms: int
    host: str | None = None
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


ActionType = Literal["alert", "heal", "scale", "incident"]
Severity = Literal["info", "warning", "error", "critical"]


class Action(BaseModel):
    """What the engine decided (``ops.actions.<type>``); executors act on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # deterministic: the same alert, firing and action always give the same id
    type: ActionType
    status: Literal["firing", "resolved"]
    rule_id: str
    rule_version: str
    severity: Severity
    group: dict[str, str]
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    ts: str  # RFC 3339, UTC


DeadLetterReason = Literal[
    "malformed_json",
    "invalid_schema",
    "non_finite_value",
    "timestamp_out_of_range",
    "too_large",
    "late",
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
