"""Noise control over whole alerts in rule files: a rule's flap detection and
maintenance windows, and the file-level ``maintenance_windows`` (by labels) and
``inhibit_rules`` (Alertmanager's).

processors/decisions/ runs them (gates.py, flapping.py); processors/rules/policies.py
gathers the file-level ones for the compiler; rules/README.md documents them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from processors.rules.durations import PositiveDurationMs
from processors.rules.label_matchers import MatcherError, parse_matcher
from processors.rules.maintenance import CronError, check_cron, check_time_zone
from processors.rules.model_base import Name, StrictModel


def _matcher_text(text: str) -> str:
    try:
        parse_matcher(text)
    except MatcherError as exc:
        raise PydanticCustomError("matcher", str(exc), {"column": exc.column}) from None
    return text


def _cron_text(text: str) -> str:
    try:
        check_cron(text)
    except CronError as exc:
        raise PydanticCustomError("cron", str(exc), {"column": exc.column}) from None
    return text


def _time_zone(name: str) -> str:
    check_time_zone(name)
    return name


LabelMatcherText = Annotated[
    str,
    AfterValidator(_matcher_text),
    Field(
        description='Alertmanager label matcher: name=value, name!=value, name=~"regex", '
        'name!~"regex" (RE2, anchored). Labels: alertname (the rule id), severity, the '
        "rule's labels and its group_by values."
    ),
]
CronText = Annotated[
    str,
    AfterValidator(_cron_text),
    Field(
        description="When the window opens: minute hour day-of-month month day-of-week, on "
        "the wall clock of time_zone (e.g. '0 2 * * sun': Sundays at 02:00)."
    ),
]


class FlappingConfig(StrictModel):
    """Flap detection: an alert that fires and resolves more than ``changes`` times within
    ``within`` is flapping; it is held firing and notifies nothing until it calms down."""

    changes: int = Field(ge=1, description="More firing/resolved changes than this is flapping.")
    within_ms: PositiveDurationMs = Field(alias="within", description="Counted over this time.")


class MaintenanceWindow(StrictModel):
    """A recurring window in which the rule's alerts send nothing."""

    name: Name = Field(description="Shown in the decision trail.")
    cron: CronText
    duration_ms: PositiveDurationMs = Field(alias="duration", description="How long it stays open.")
    time_zone: Annotated[str, AfterValidator(_time_zone)] = Field(
        "UTC", description="IANA time zone of the cron expression (e.g. Europe/Berlin)."
    )


class LabelMaintenanceWindow(MaintenanceWindow):
    """A recurring window for every alert whose labels match."""

    matchers: list[LabelMatcherText] = Field(min_length=1)


class InhibitRule(StrictModel):
    """Alertmanager's inhibition: while an alert matching ``source_matchers`` fires, alerts
    matching ``target_matchers`` with the same values of the ``equal`` labels send
    nothing. An alert matching both sides is not muted by one that also does."""

    name: Name | None = Field(None, description="Shown in the decision trail.")
    source_matchers: list[LabelMatcherText] = Field(min_length=1)
    target_matchers: list[LabelMatcherText] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list, description="Labels that must be equal.")
