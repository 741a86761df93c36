"""The decision core: one signal (or one action result) in, the actions it causes out.

Pure apart from the :class:`~processors.decisions.alert_record.StateStore` (alert
records by fingerprint, a partition's store in production, a dict in tests) and the
:class:`~processors.decisions.context.DecisionContext` (live views of silences, of every
firing alert and of the actions sent and their results, which the shell keeps
current). The clock is the signal's event time, so a replay of the same signals against
the same views makes the same decisions and the same action ids.

Three entry points, each working through :class:`~processors.decisions.alert.Alert`
(the state machine, flapping, gates, the closed loop):

- :func:`decide`: per rule a signal feeds, evaluate the condition (windowed rules and
  SLOs' rules, with the rulebook's matcher) or take the match (record and typed rules),
  and step the alert of the signal's group;
- :func:`verify_due`: verifications of non-windowed rules whose time came by the
  partition's event clock;
- :func:`decide_result`: an executor reported on a verified action.
"""

from __future__ import annotations

from processors.decisions.alert import Alert
from processors.decisions.alert_record import StateStore
from processors.decisions.context import DecisionContext, Outcome
from processors.ids import fingerprint
from processors.records import ActionResult, Signal
from processors.rules.compiler import CompiledRulebook, condition_context


def decide(
    signal: Signal,
    rulebook: CompiledRulebook,
    store: StateStore,
    context: DecisionContext | None = None,
) -> Outcome:
    """The actions one signal causes. Without a ``context``: no silences, no other
    alerts, no earlier actions (a fresh one per call)."""
    outcome = Outcome()
    ctx = context if context is not None else DecisionContext()
    for rule_id in signal.rules:
        rule = rulebook.rules.get(rule_id)
        if rule is None:
            continue  # a signal of a rule that has since been removed
        if rule.spec_id is not None:
            values = condition_context(rule, signal.values, signal.group)
            # An empty window's condition is false, whatever it reads (rules/README.md);
            # an SLO's minute without events is not empty: its windows are longer.
            filled = rule.rule.slo is not None or bool(signal.values.get("count"))
            holds = filled and rule_id in rulebook.matcher.matching((rule_id,), values)
            since_ms = (
                signal.window_start_ms if signal.window_start_ms is not None else signal.ts_ms
            )
        else:
            values = {**(signal.record or {}), **signal.group}
            holds, since_ms = True, signal.ts_ms
        key = fingerprint(rule.id, signal.group)
        alert = Alert(rule, key, dict(signal.group), store, ctx, rulebook.policies, outcome)
        if signal.kind == "recovery":
            alert.recovered(signal.ts_ms)
        else:
            alert.evaluate(signal, values, holds, since_ms)
    return outcome


def verify_due(
    rulebook: CompiledRulebook,
    store: StateStore,
    clock_ms: int,
    context: DecisionContext | None = None,
) -> Outcome:
    """Verifications whose time came by the partition's event clock ``clock_ms``,
    without waiting for a signal of their alert (a lost heartbeat sends none): each
    escalates if the condition still holds (:meth:`Alert.still_holds`), else the action
    worked. Windowed rules excepted: their windows settle their checks (:func:`decide`).
    The shell calls it with every batch, and the offline runner as time passes."""
    outcome = Outcome()
    ctx = context if context is not None else DecisionContext()
    for key in sorted(set(store.verifying.values())):
        saved = store.get(key)
        rule = rulebook.rules.get(saved.rule_id) if saved and saved.rule_id else None
        if saved is None or rule is None or rule.spec_id is not None:
            # A windowed alert's own windows settle its checks, in its event time: they
            # keep coming until it resolves, while this clock, the newest signal of
            # any rule and series, may be ahead of them (a longer grace, another input
            # partition) and would judge the alert by a state it has left.
            continue
        if not any(entry.due_ms <= clock_ms for entry in saved.verify.values()):
            continue
        alert = Alert(rule, key, dict(saved.group), store, ctx, rulebook.policies, outcome)
        alert.verify_until(clock_ms)
        alert.save()
    return outcome


def decide_result(
    result: ActionResult,
    rulebook: CompiledRulebook,
    store: StateStore,
    alert_key: str,
    context: DecisionContext | None = None,
) -> Outcome:
    """An executor's report on a verified action of the alert ``alert_key`` (found with
    ``StateStore.verifying``): a failure escalates at once; any result is kept for the
    circuit breaker by the shell (``Ledger.record_result``)."""
    outcome = Outcome()
    saved = store.get(alert_key)
    rule = rulebook.rules.get(saved.rule_id) if saved and saved.rule_id else None
    if saved is None or rule is None:
        return outcome
    pending = saved.verify.get(result.action_id)
    if pending is None or result.status != "failed":
        return outcome
    ctx = context if context is not None else DecisionContext()
    alert = Alert(rule, alert_key, dict(pending.group), store, ctx, rulebook.policies, outcome)
    why = f"the executor {result.executor} reported failure: {result.message}".rstrip(": ")
    alert.escalate_result(result.action_id, pending, why, result.ts_ms)
    return outcome
