"""Drive the decision core on a virtual clock, as the decision tier does: one store, one
context that every outcome is applied to (so budgets, breakers and inhibition see what
was decided before)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.decisions.alert_record import DictStore
from processors.decisions.context import DecisionContext, Outcome
from processors.decisions.decide import decide, decide_result
from processors.ids import fingerprint
from processors.records import Action, ActionResult, Signal
from processors.rules.compiler import CompiledRulebook

M = 60_000
T0 = 1_795_899_240_000  # a whole minute: 2026-11-28T20:54:00Z


def minute_ms(minute: float) -> int:
    return T0 + round(minute * M)


def window_signal(rule_id: str, group: dict[str, str], minute: int, **values: float) -> Signal:
    """The 1-minute window ``[minute, minute + 1)``; no values: an empty window."""
    start = minute_ms(minute)
    return Signal(
        id=f"{rule_id}-{'-'.join(group.values())}-{minute}",
        kind="window",
        key="|".join(group.values()),
        rules=[rule_id],
        group=group,
        ts_ms=start + M,
        window_start_ms=start,
        values={**{k: float(v) for k, v in values.items()}, "count": 1.0 if values else 0.0},
    )


@dataclass
class Run:
    rulebook: CompiledRulebook
    context: DecisionContext = field(default_factory=DecisionContext)
    store: DictStore = field(default_factory=DictStore)
    outcomes: list[Outcome] = field(default_factory=list)

    def signal(self, signal: Signal) -> Outcome:
        outcome = decide(signal, self.rulebook, self.store, self.context)
        self.context.apply(outcome)
        self.outcomes.append(outcome)
        return outcome

    def window(
        self, rule_id: str, group: dict[str, str], minute: int, value: float | None
    ) -> Outcome:
        values = {} if value is None else {"max": value}
        return self.signal(window_signal(rule_id, group, minute, **values))

    def windows(
        self, rule_id: str, group: dict[str, str], values: Iterable[float | None], first: int = 0
    ) -> list[tuple[int, str, str]]:
        """``(minute, type, status)`` of every action sent, one window per minute."""
        sent = []
        for minute, value in enumerate(values, start=first):
            sent += [
                (minute, a.type, a.status)
                for a in self.window(rule_id, group, minute, value).actions
            ]
        return sent

    def result(self, action: Action, status: str, minute: float, message: str = "") -> Outcome:
        """An executor's report, as the tier applies it."""
        report = ActionResult(
            ts_ms=minute_ms(minute),
            action_id=action.id,
            status=status,
            executor="test",
            message=message,
        )  # type: ignore[call-arg]
        self.context.ledger.record_result(report.action_id, report.status, report.ts_ms, message)
        key = self.store.verifying.get(action.id)
        outcome = Outcome()
        if key is not None:
            outcome = decide_result(report, self.rulebook, self.store, key, self.context)
            self.context.apply(outcome)
        self.outcomes.append(outcome)
        return outcome

    @property
    def actions(self) -> list[Action]:
        return [a for o in self.outcomes for a in o.actions]

    def reasons(self) -> list[str | None]:
        return [d.reason for o in self.outcomes for d in o.decisions]


def key_of(rule_id: str, **group: str) -> str:
    return fingerprint(rule_id, group)
