"""What was sent, and how it went: the view budgets and circuit breakers count on.

Fed with the decision records of ``ops.decisions`` (every action sent, and every
would-be action of a dry run) and the executors' reports of ``ops.actions.results``.
Budgets count actions of one rule (``by: rule``) or on one target from any rule
(``by: target``) across every partition of the signals topic, so every decision worker
reads both topics fully from one horizon back and keeps following them; its own
decisions are added at once, before they make that trip (:meth:`record` is idempotent
by action id). Actions of other workers are seen after about a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.records import Decision
from processors.timestamps import parse_ts_ms


@dataclass(frozen=True, slots=True)
class Sent:
    action_id: str
    ts_ms: int
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Result:
    status: str  # succeeded | failed | skipped
    ts_ms: int
    message: str


def budget_key(by: str, decision_rule: str, target: str | None, action_type: str) -> str:
    subject = decision_rule if by == "rule" else (target or "")
    return f"{by}\x1f{subject}\x1f{action_type}"


def breaker_key(rule_id: str, action_index: int, target: str | None) -> str:
    return f"{rule_id}\x1f{action_index}\x1f{target or ''}"


@dataclass(slots=True)
class Ledger:
    """Actions sent (or decided in a dry run) and action results, by key."""

    max_age_ms: int = 7 * 86_400_000
    by_budget: dict[str, dict[str, Sent]] = field(default_factory=dict)
    by_breaker: dict[str, dict[str, Sent]] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    latest_ms: int = 0

    def record(self, decision: Decision) -> None:
        """Count a decision if it sent (or would have sent) its action."""
        if decision.outcome == "suppressed" or decision.status != "firing":
            return
        ts_ms = parse_ts_ms(decision.ts)
        sent = Sent(decision.action_id, ts_ms, decision.outcome == "dry_run")
        for by in ("rule", "target"):
            key = budget_key(by, decision.rule_id, decision.target, decision.action_type)
            self.by_budget.setdefault(key, {})[sent.action_id] = sent
        if not sent.dry_run:
            key = breaker_key(decision.rule_id, decision.action_index, decision.target)
            self.by_breaker.setdefault(key, {})[sent.action_id] = sent
        if ts_ms > self.latest_ms + 3_600_000:
            self._forget_before(ts_ms - self.max_age_ms)
        self.latest_ms = max(self.latest_ms, ts_ms)

    def record_result(self, action_id: str, status: str, ts_ms: int, message: str = "") -> None:
        """An executor's report. An action delivered to several receivers has a report
        from each: it failed when any of them failed, so a later success does not undo
        a failure (the breaker counts the action as failed)."""
        known = self.results.get(action_id)
        if known is not None and known.status == "failed" and status != "failed":
            return
        self.results[action_id] = Result(status, ts_ms, message)

    def count(self, key: str, since_ms: int, until_ms: int, exclude_id: str) -> int:
        """Actions under ``key`` decided in ``(since_ms, until_ms]``, other than
        ``exclude_id`` (a replayed decision does not count against itself)."""
        return sum(
            1
            for sent in self.by_budget.get(key, {}).values()
            if since_ms < sent.ts_ms <= until_ms and sent.action_id != exclude_id
        )

    def history(self, key: str) -> list[tuple[Sent, Result | None]]:
        """The actions sent under a breaker key, oldest first, with their results."""
        sent = sorted(self.by_breaker.get(key, {}).values(), key=lambda s: (s.ts_ms, s.action_id))
        return [(s, self.results.get(s.action_id)) for s in sent]

    def _forget_before(self, cutoff_ms: int) -> None:
        for table in (self.by_budget, self.by_breaker):
            for key in list(table):
                kept = {i: s for i, s in table[key].items() if s.ts_ms >= cutoff_ms}
                if kept:
                    table[key] = kept
                else:
                    del table[key]
        self.results = {i: r for i, r in self.results.items() if r.ts_ms >= cutoff_ms}
