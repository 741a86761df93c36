"""What a decision reads besides one alert's record, and what it makes.

:class:`DecisionContext` holds the live views the shell keeps current from Kafka
(``ops.silences``, ``<app_id>.alerts.firing``, ``ops.decisions``,
``ops.actions.results``); :class:`Outcome` collects the actions, the decision trail and
the firing-view changes of one call of the decision core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.decisions.inhibition import FiringAlert, FiringAlerts
from processors.decisions.ledger import Ledger
from processors.decisions.silences import SilenceBook
from processors.records import Action, Decision


@dataclass(frozen=True, slots=True)
class Suppressed:
    """An action the engine decided not to send, and why (the decision trail)."""

    rule_id: str
    fingerprint: str
    action_type: str
    reason: str
    ts_ms: int
    decision: Decision | None = None


@dataclass(slots=True)
class Outcome:
    actions: list[Action] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)  # incl. dry runs
    decisions: list[Decision] = field(default_factory=list)  # every action and suppression
    # alerts that started or stopped firing (None): the shell publishes them
    firing_changes: dict[str, FiringAlert | None] = field(default_factory=dict)


@dataclass(slots=True)
class DecisionContext:
    """What decisions read besides one alert's state. The shell feeds the views from
    Kafka and :meth:`apply` adds the core's own outcomes at once."""

    silences: SilenceBook = field(default_factory=SilenceBook)
    firing: FiringAlerts = field(default_factory=FiringAlerts)
    ledger: Ledger = field(default_factory=Ledger)
    dry_run: bool = False  # OPSRULES_DRY_RUN: record every action, send none

    def apply(self, outcome: Outcome) -> None:
        for decision in outcome.decisions:
            self.ledger.record(decision)
        for key, alert in outcome.firing_changes.items():
            if alert is None:
                self.firing.remove(key)
            else:
                self.firing.put(alert)
