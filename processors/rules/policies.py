"""The file-level sections of rule files that act on alerts of every rule:
``inhibit_rules`` and ``maintenance_windows``, from every file, compiled once.

The loader validates them with the rest of each file (errors with positions); this
module only gathers the valid ones for the compiler.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from processors.rules.label_matchers import LabelMatcher, parse_matchers
from processors.rules.model import RuleFile
from processors.rules.noise_control import LabelMaintenanceWindow, MaintenanceWindow


@dataclass(frozen=True, slots=True)
class InhibitPolicy:
    name: str
    source: tuple[LabelMatcher, ...]
    target: tuple[LabelMatcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """A maintenance window; ``matchers`` empty for one attached to a rule."""

    name: str
    cron: str
    time_zone: str
    duration_ms: int
    matchers: tuple[LabelMatcher, ...] = ()


@dataclass(frozen=True, slots=True)
class Policies:
    inhibit_rules: tuple[InhibitPolicy, ...] = ()
    maintenance_windows: tuple[WindowPolicy, ...] = ()


def window_policy(window: MaintenanceWindow) -> WindowPolicy:
    matchers = window.matchers if isinstance(window, LabelMaintenanceWindow) else []
    return WindowPolicy(
        window.name, window.cron, window.time_zone, window.duration_ms, parse_matchers(matchers)
    )


def collect_policies(files: Iterable[Any]) -> Policies:
    """The valid ``inhibit_rules`` and ``maintenance_windows`` of parsed rule files (their
    YAML trees), in file order. An invalid section is left out: the loader reports it."""
    inhibit: list[InhibitPolicy] = []
    windows: list[WindowPolicy] = []
    for data in files:
        if not isinstance(data, dict):
            continue
        sections = {k: data[k] for k in ("inhibit_rules", "maintenance_windows") if k in data}
        if not sections:
            continue
        try:
            parsed = RuleFile.model_validate(sections)
        except ValidationError:
            continue
        for index, rule in enumerate(parsed.inhibit_rules, start=len(inhibit)):
            inhibit.append(
                InhibitPolicy(
                    rule.name or f"inhibit_rule_{index}",
                    parse_matchers(rule.source_matchers),
                    parse_matchers(rule.target_matchers),
                    tuple(rule.equal),
                )
            )
        windows.extend(window_policy(w) for w in parsed.maintenance_windows)
    return Policies(tuple(inhibit), tuple(windows))


def rule_windows(windows: Sequence[MaintenanceWindow]) -> tuple[WindowPolicy, ...]:
    return tuple(window_policy(w) for w in windows)


NO_POLICIES = Policies()
