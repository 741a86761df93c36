"""Sections of a rule file that compile into rules: ``slos:`` (:mod:`processors.rules.slos`),
``backups:`` (:mod:`processors.rules.backups`), ``autoscalers:``
(:mod:`processors.rules.autoscalers`), ``canaries:`` (:mod:`processors.rules.canaries`).

Each entry of such a section is validated against its model and its expressions are
checked against its source's records like a rule's (``check`` places every error at
its line, named ``<kind> <id>``); then :attr:`Section.rules` turns it into rules, each
a rule file's rule, which every tool treats like one written by hand (``explain``,
``opsrules test``, the decision trail). An entry's alerts are each overridable with an
:class:`AlertOverride` under a key of their own (``page:``, ``missed:``, …), where
``check`` places their templates' errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from processors.records import Severity
from processors.rules.actions import ActionConfig
from processors.rules.model_base import RULE_ID, StrictModel

SectionKind = Literal["slo", "backup", "autoscaler", "canary"]
Expanded = Mapping[tuple[str | int, ...], str]  # an entry's expressions as run, by path


class AlertOverride(StrictModel):
    """Overrides for one rule an entry compiles into."""

    severity: Severity | None = Field(None, description="Default: the entry's.")
    labels: dict[str, str] = Field(default_factory=dict, description="Added to the entry's.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Templates; replace the defaults of the same name."
    )
    actions: list[ActionConfig] | None = Field(
        None, min_length=1, description="Default: the entry's (an alert)."
    )
    enabled: bool = True


def entry_id(rules: str, max_length: int = 110) -> Any:
    """The ``id`` field of a section's entry; ``rules`` names the rules it compiles into
    (their ids must fit the 128 characters of a rule id)."""
    return Field(
        pattern=RULE_ID,
        max_length=max_length,
        description=f"Stable snake_case id; {rules}.",
        json_schema_extra={"patternErrorMessage": "snake_case: a-z, 0-9 and _"},
    )


def number_as_expression(cls: type, value: Any) -> Any:
    """A before-validator: a number written where an expression goes (``events: 1``) is
    the expression of that number, kept exactly."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return value


def alert_fields(
    override: AlertOverride,
    *,
    severity: Severity,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    actions: list[ActionConfig] | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    """The fields of a generated rule an :class:`AlertOverride` may change, with the
    entry's values as defaults."""
    return {
        "severity": override.severity or severity,
        "labels": {**labels, **override.labels},
        "annotations": {**annotations, **override.annotations},
        "actions": override.actions or actions or [ActionConfig(type="alert")],
        "enabled": enabled and override.enabled,
    }


@dataclass(frozen=True, slots=True)
class Expression:
    """An expression of an entry, checked against its source's records (or those of
    ``source``) and expanded: ``entry[path]`` (``default`` when absent; a number written
    as one is taken as is)."""

    path: tuple[str | int, ...]
    default: str
    label: str
    source: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedRule:
    fields: dict[str, Any]  # the rule as a rule file writes it
    override: str | None  # the entry's key of its AlertOverride (where its templates are)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the rule file's key: "slos"
    kind: SectionKind  # how check names an entry: "slo <id>: ..."
    model: type[StrictModel]
    source: Callable[[Mapping[str, Any]], object]  # the source named in an entry's YAML
    expressions: Callable[[Mapping[str, Any]], tuple[Expression, ...]]
    rules: Callable[[Any, Expanded], list[GeneratedRule]]
    suffixes: Callable[[Mapping[str, Any]], tuple[str, ...]]  # its rules: <id>_<suffix>
    group_by: tuple[str, ...] = ("group_by",)  # where the entry names fields to group by
