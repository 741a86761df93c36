"""SLOs in rule files (``slos:``), compiled into rules: the Google SRE workbook's
multi-window, multi-burn-rate alerts (ch. 5, "Alerting on SLOs"), as Sloth and OpenSLO
write them.

```yaml
slos:
  - id: checkout_availability
    description: 99% of checkout's HTTP checks pass
    objective: 0.99                      # target ratio of good events
    window: 30d                          # error-budget window (default 30d)
    sli:
      source: health                     # any source
      total: service == "checkout" and check == "http"
      bad: status == "fail"              # evaluated on records that match total
    group_by: []                         # optional, as for rules
    page:   {severity: critical}         # optional: severity, labels, annotations,
    ticket: {severity: warning}          #   actions, enabled
```

Each SLO becomes two rules of ``type: slo``, ``<id>_page`` and ``<id>_ticket``
(:func:`slo_rules`), which every tool treats like any rule (``check``, ``explain``,
``opsrules test``, the decision trail). The firehose counts the SLI's events per
minute (:mod:`processors.firehose.slos`) and sends one ``slo`` signal per group per
minute with the burn rates and the remaining budget; the decision tier decides each
rule's condition on it like a windowed rule's, so an alert resolves when its short
window recovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from processors.records import Severity, Source
from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.generated import (
    AlertOverride,
    Expanded,
    Expression,
    GeneratedRule,
    Section,
    alert_fields,
    entry_id,
    number_as_expression,
)
from processors.rules.model_base import StrictModel

# The workbook's alert windows, in minutes, and its burn-rate thresholds (table 5-8).
WINDOWS_MIN = {"5m": 5, "30m": 30, "1h": 60, "2h": 120, "6h": 360, "1d": 1440, "3d": 4320}
PAGE = ((14.4, "1h", "5m"), (6.0, "6h", "30m"))  # (threshold, long window, short window)
TICKET = ((3.0, "1d", "2h"), (1.0, "3d", "6h"))
ALERTS = {"page": PAGE, "ticket": TICKET}
# What an slo signal's values hold besides the burn rates (processors/firehose/slos.py).
SIGNAL_VALUES = frozenset(
    {*(f"burn_{name}" for name in WINDOWS_MIN), "budget_remaining", "total", "bad"}
)


def alert_condition(pairs: tuple[tuple[float, str, str], ...]) -> str:
    """The condition of a generated rule, in the rule language, on an ``slo`` signal's
    values: ``(burn_1h > 14.4 and burn_5m > 14.4) or (…)``."""
    return " or ".join(
        f"(burn_{long} > {threshold:g} and burn_{short} > {threshold:g})"
        for threshold, long, short in pairs
    )


class SliConfig(StrictModel):
    """The service level indicator: which records are events, which of them are bad."""

    source: Source = Field(description="Which records: metric, log, security, health, event.")
    total: str = Field(
        "true", description="Which records are events (default: every record of the source)."
    )
    bad: str = Field(description="Which events are bad, e.g. 'status == \"fail\"'.")
    events: str | None = Field(
        None,
        description="How many events a record counts as. Default: a metric sample's value "
        "(delta counts), 1 for any other record; write 1 for a latency SLI on samples.",
    )

    _number = field_validator("events", mode="before")(number_as_expression)

    @property
    def events_expression(self) -> str:
        if self.events is not None:
            return self.events
        return "value" if self.source == "metric" else "1"


SloAlertConfig = AlertOverride  # page: and ticket:


class Slo(StrictModel):
    """A service level objective: ``objective`` of the SLI's events good over ``window``."""

    id: str = entry_id("its rules are <id>_page and <id>_ticket", 120)
    description: str = ""
    objective: float = Field(gt=0, lt=1, description="The target ratio of good events (0.99).")
    window_ms: PositiveDurationMs = Field(
        2_592_000_000, alias="window", description="The error budget's window (default 30d)."
    )
    sli: SliConfig
    group_by: list[str] = Field(
        default_factory=list, description="Fields whose values make one SLO each."
    )
    grace_ms: DurationMs = Field(
        10_000,
        alias="grace",
        description="How long a minute waits for late events after its end (default 10s).",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="On both rules' actions.")
    page: SloAlertConfig = Field(default_factory=SloAlertConfig)
    ticket: SloAlertConfig = Field(default_factory=SloAlertConfig)
    enabled: bool = Field(True, description="false: checked but not run.")


_SEVERITY: dict[str, Severity] = {"page": "critical", "ticket": "warning"}
_ANNOTATIONS = {
    "page": {
        "summary": "SLO {{ slo }}: error budget burning fast ({{ value }}x over 1h), "
        "{{ budget_remaining | percent }} left",
    },
    "ticket": {
        "summary": "SLO {{ slo }}: error budget burning ({{ value }}x over 1d), "
        "{{ budget_remaining | percent }} left",
    },
}
_WHEN = {
    "page": "burn rate above 14.4 over 1h and 5m, or above 6 over 6h and 30m",
    "ticket": "burn rate above 3 over 1d and 2h, or above 1 over 3d and 6h",
}


def slo_rules(slo: Slo, expanded: Expanded) -> list[GeneratedRule]:
    """The rules ``<id>_page`` and ``<id>_ticket``, with the SLI's expressions as
    ``expanded`` (macros and lists resolved)."""
    return [GeneratedRule(slo_rule_fields(slo, alert, expanded), alert) for alert in ALERTS]


def slo_rule_fields(slo: Slo, alert: str, expanded: Expanded | None = None) -> dict[str, Any]:
    """The generated rule ``<id>_<alert>`` as the fields of a rule file's rule."""
    sli = {key: (expanded or {}).get(("sli", key)) for key in ("total", "bad", "events")}
    what = slo.description or f"{slo.objective:g} of {slo.sli.source} events good"
    return {
        "id": f"{slo.id}_{alert}",
        "description": f"{what} ({alert}: {_WHEN[alert]})",
        "source": slo.sli.source,
        "type": "slo",
        "match": sli["total"] or slo.sli.total,
        "slo": {
            "slo": slo.id,
            "alert": alert,
            "objective": slo.objective,
            "window": f"{slo.window_ms}ms",
            "bad": sli["bad"] or slo.sli.bad,
            "events": sli["events"] or slo.sli.events_expression,
            "grace": f"{slo.grace_ms}ms",
        },
        "condition": alert_condition(ALERTS[alert]),
        "group_by": list(slo.group_by),
        "tags": ["slo"],
        **alert_fields(
            getattr(slo, alert),
            severity=_SEVERITY[alert],
            labels=slo.labels,
            annotations=_ANNOTATIONS[alert],
            enabled=slo.enabled,
        ),
    }


def _source(node: Mapping[str, Any]) -> object:
    sli = node.get("sli")
    return sli.get("source") if isinstance(sli, Mapping) else None


def _expressions(node: Mapping[str, Any]) -> tuple[Expression, ...]:
    events = "value" if _source(node) == "metric" else "1"
    return (
        Expression(("sli", "total"), "true", "sli.total"),
        Expression(("sli", "bad"), "false", "sli.bad"),
        Expression(("sli", "events"), events, "sli.events"),
    )


SECTION = Section("slos", "slo", Slo, _source, _expressions, slo_rules, lambda _: tuple(ALERTS))
