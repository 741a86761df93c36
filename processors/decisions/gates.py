"""The gates a due action passes, in order, Alertmanager's notify pipeline in spirit.

Alert-wide mutes first, the same for every action of one evaluation — **maintenance**
(the rule's windows and label windows), **silenced**, **inhibited** — then, for firing
actions, **cooldown** (``cooldown`` or exponential ``realert``), **circuit_open** and
**budget**; what passes them all is sent, or recorded as a **dry_run** (``dry_run`` on
the rule or OPSRULES_DRY_RUN). Each gate that holds an action back says why, for the
decision trail (``Gate.by`` becomes ``Decision.suppressed_by``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.decisions.alert_record import AlertRecord, Mute
from processors.decisions.breaker import open_breaker
from processors.decisions.budgets import over_budget
from processors.decisions.context import DecisionContext
from processors.decisions.inhibition import inhibiting
from processors.decisions.realert import realert_wait
from processors.records import SuppressReason
from processors.rules.actions import ActionConfig
from processors.rules.compiler import CompiledRule
from processors.rules.durations import format_duration
from processors.rules.label_matchers import matches_all
from processors.rules.maintenance import open_window
from processors.rules.policies import Policies, rule_windows
from processors.timestamps import format_ts


@dataclass(frozen=True, slots=True)
class Due:
    """An action that is due, before its gates."""

    index: int
    config: ActionConfig
    status: str  # firing | resolved
    because: str
    starts_ms: int


@dataclass(frozen=True, slots=True)
class Gate:
    """Why a due action is held back (reason None: it goes; ``dry_run``: recorded)."""

    reason: SuppressReason | None
    by: dict[str, Any] = field(default_factory=dict)

    @property
    def mute(self) -> bool:
        """An alert-wide mute, lifted later without a new firing."""
        return self.reason in ("maintenance", "silenced", "inhibited")

    def as_mute(self) -> Mute:
        return Mute(str(self.reason), self.by)


GO = Gate(None)


def alert_mute(
    rule: CompiledRule,
    policies: Policies,
    ctx: DecisionContext,
    key: str,
    labels: Mapping[str, str],
    t_ms: int,
) -> Gate:
    """Maintenance, silence, inhibition of the alert ``key`` at ``t_ms`` (or ``GO``)."""
    windows = rule_windows(rule.rule.maintenance) + tuple(
        w for w in policies.maintenance_windows if matches_all(w.matchers, labels)
    )
    for window in windows:
        opened = open_window(window.name, window.cron, window.time_zone, window.duration_ms, t_ms)
        if opened is not None:
            return Gate(
                "maintenance",
                {
                    "maintenance_window": opened.name,
                    "from": format_ts(opened.start_ms),
                    "until": format_ts(opened.end_ms),
                },
            )
    silence = ctx.silences.silencing(labels, t_ms)
    if silence is not None:
        return Gate("silenced", silence.trail())
    if policies.inhibit_rules:
        found = inhibiting(
            policies.inhibit_rules, ctx.firing.by_fingerprint.values(), key, labels, t_ms
        )
        if found is not None:
            inhibit_rule, source = found
            return Gate(
                "inhibited",
                {
                    "inhibit_rule": inhibit_rule.name,
                    "inhibited_by": source.fingerprint,
                    "source_rule": source.rule_id,
                },
            )
    return GO


def dry_run(rule: CompiledRule, ctx: DecisionContext) -> Gate | None:
    """Recorded, not sent: ``dry_run`` on the rule, or OPSRULES_DRY_RUN."""
    if rule.rule.dry_run or ctx.dry_run:
        source = "rule" if rule.rule.dry_run else "OPSRULES_DRY_RUN"
        return Gate("dry_run", {"dry_run": source})
    return None


def held_back(
    due: Due,
    record: AlertRecord,
    ctx: DecisionContext,
    *,
    rule_id: str,
    target: str,
    action_id: str,
    t_ms: int,
) -> Gate | None:
    """Cooldown or realert, an open circuit breaker, an exhausted budget: the gates of a
    firing action after the alert-wide mutes."""
    config, index = due.config, due.index
    last = record.cooldowns.get(index)
    if last is not None and t_ms - last < config.cooldown_ms:
        until = format_ts(last + config.cooldown_ms)
        return Gate("cooldown", {"cooldown": format_duration(config.cooldown_ms), "until": until})
    if config.realert is not None:
        until_ms = realert_wait(record.realert.get(index), t_ms)
        if until_ms is not None:
            return Gate("cooldown", {"realert_until": format_ts(until_ms)})
    if config.circuit_breaker is not None:
        opened = open_breaker(
            ctx.ledger,
            config.circuit_breaker,
            rule_id=rule_id,
            action_index=index,
            target=target,
            t_ms=t_ms,
        )
        if opened is not None:
            return Gate("circuit_open", opened.trail())
    if config.budgets:
        over = over_budget(
            ctx.ledger,
            config.budgets,
            rule_id=rule_id,
            target=target,
            action_type=config.type,
            action_id=action_id,
            t_ms=t_ms,
        )
        if over is not None:
            subject = rule_id if over.budget.by == "rule" else target or ""
            return Gate("budget", over.trail(subject))
    return None
