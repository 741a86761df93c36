"""Action budgets: at most ``max`` actions per ``per`` (a sliding window of event
time), counted per rule or per target (see :mod:`processors.decisions.ledger` for how
every worker sees the others' actions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from processors.decisions.ledger import Ledger, budget_key
from processors.rules.actions import BudgetConfig
from processors.rules.durations import format_duration


@dataclass(frozen=True, slots=True)
class OverBudget:
    budget: BudgetConfig
    used: int

    def trail(self, subject: str) -> dict[str, object]:
        return {
            "budget": f"{self.budget.max} per {format_duration(self.budget.per_ms)}",
            "by": self.budget.by,
            "subject": subject,
            "used": self.used,
        }


def over_budget(
    ledger: Ledger,
    budgets: Iterable[BudgetConfig],
    *,
    rule_id: str,
    target: str | None,
    action_type: str,
    action_id: str,
    t_ms: int,
) -> OverBudget | None:
    """The first budget that sending ``action_id`` at ``t_ms`` would exceed."""
    for budget in budgets:
        key = budget_key(budget.by, rule_id, target, action_type)
        used = ledger.count(key, t_ms - budget.per_ms, t_ms, action_id)
        if used >= budget.max:
            return OverBudget(budget, used)
    return None
