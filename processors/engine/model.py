"""The rule file format, as pydantic models (``extra="forbid"``: a typo is an error).

```yaml
rules:
  - id: host_cpu_saturated        # stable snake_case, unique across files
    description: Mean CPU above 90% for 5 minutes
    source: metric                # metric | log | security | health | event | signal
    match: name == "system.cpu.utilization"
    window: {size: 1m, stat: mean}
    condition: value > 0.9
    for: 5m
    keep_firing_for: 1m
    group_by: [host]
    severity: critical            # info | warning | error | critical
    labels: {team: infra}
    annotations:
      summary: "CPU {{ value }} on {{ host }}"
    actions:
      - type: alert
      - type: scale
        params: {delta: 1}
        cooldown: 10m
```

Durations are strings like ``500ms``, ``30s``, ``5m``, ``1h30m``, ``1d`` (or a number of
seconds) and are held in milliseconds (fields ending in ``_ms``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Source = Literal["metric", "log", "security", "health", "event", "signal"]
Severity = Literal["info", "warning", "error", "critical"]
ActionType = Literal["alert", "heal", "scale", "incident"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration_ms(value: object) -> int:
    """``"1h30m"`` → 5_400_000; a bare number is seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return round(value * 1000)
    if not isinstance(value, str):
        raise ValueError("a duration is a string like '30s', '5m' or '1h30m'")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f"{value!r} is not a duration; use a number and a unit: ms, s, m, h, d, w "
            "(e.g. '30s', '5m', '1h30m')"
        )
    return round(total)


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNIT_MS[unit]
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]
Stat = Literal["count", "sum", "min", "max", "mean", "last", "rate", "p50", "p90", "p99"]

RULE_ID = r"^[a-z][a-z0-9_]*$"


# What expressions may name, per source: (fields, prefixes of free-form maps).
SOURCE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "metric": (
        frozenset({"ts_ms", "name", "value", "unit", "host", "service", "labels"}),
        frozenset({"labels"}),
    ),
    "log": (
        frozenset(
            {"ts_ms", "host", "service", "severity_text", "severity_number", "body", "attributes"}
        ),
        frozenset({"attributes"}),
    ),
    "health": (
        frozenset(
            {"ts_ms", "service", "instance", "check", "status", "latency_ms", "host", "message"}
        ),
        frozenset(),
    ),
    # ECS: every top-level field set is free-form.
    "security": (
        frozenset({"ts_ms", "message", "tags", "labels"}),
        frozenset(
            {
                "event",
                "source",
                "destination",
                "user",
                "host",
                "process",
                "network",
                "url",
                "http",
                "file",
                "rule",
                "threat",
                "service",
                "client",
                "server",
                "labels",
                "agent",
                "observer",
                "related",
                "cloud",
                "container",
                "orchestrator",
                "dns",
                "tls",
            }
        ),
    ),
    "event": (
        frozenset({"ts_ms", "type", "entity", "status", "service", "host", "attributes"}),
        frozenset({"attributes"}),
    ),
    "signal": (
        frozenset({"ts_ms", "kind", "key", "source", "rules", "group", "values", "record"}),
        frozenset({"group", "values", "record"}),
    ),
}


def default_window_value(source: str) -> str:
    return "value" if source == "metric" else "1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WindowConfig(_Strict):
    """A window per ``group_by`` series over the records that ``match``."""

    size_ms: DurationMs = Field(alias="size", gt=0)
    hop_ms: DurationMs | None = Field(None, alias="hop", gt=0)
    grace_ms: DurationMs = Field(10_000, alias="grace", ge=0)
    stat: Stat
    value: str | None = Field(
        None,
        description="Expression giving each record's number; booleans count as 1/0 "
        "(e.g. 'status == \"fail\"'). Default: the field 'value' for metrics, else 1.",
    )

    @model_validator(mode="after")
    def _hop_fits(self) -> WindowConfig:
        if self.hop_ms is not None and self.hop_ms > self.size_ms:
            raise ValueError("hop must not be longer than size")
        return self


class ActionConfig(_Strict):
    type: ActionType
    params: dict[str, Any] = Field(default_factory=dict)
    cooldown_ms: DurationMs = Field(0, alias="cooldown", ge=0)


class Rule(_Strict):
    id: str = Field(pattern=RULE_ID, max_length=128)
    description: str = ""
    source: Source
    match: str = "true"
    window: WindowConfig | None = None
    condition: str = "true"
    for_ms: DurationMs = Field(0, alias="for", ge=0)
    keep_firing_for_ms: DurationMs | None = Field(None, alias="keep_firing_for", ge=0)
    group_by: list[str] = Field(default_factory=list)
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    actions: list[ActionConfig] = Field(
        default_factory=lambda: [ActionConfig(type="alert")], min_length=1
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _for_needs_window(self) -> Rule:
        if self.for_ms and self.window is None:
            raise ValueError(
                "'for' needs a window: a rule on single records fires on the matching record"
            )
        return self

    @property
    def window_value(self) -> str:
        """The window's per-record value expression, defaults applied."""
        assert self.window is not None
        if self.window.value is not None:
            return self.window.value
        return default_window_value(self.source)

    @property
    def windowed(self) -> bool:
        return self.window is not None

    @property
    def keep_firing_ms(self) -> int:
        """Rules on single records default to 5m: matches within it are one firing."""
        if self.keep_firing_for_ms is not None:
            return self.keep_firing_for_ms
        return 0 if self.windowed else 300_000


class RuleFile(_Strict):
    rules: list[Rule] = Field(default_factory=list)
