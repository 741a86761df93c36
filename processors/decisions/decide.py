"""The decision core: one signal (or one action result) in, the actions it causes out.

Pure apart from the :class:`StateStore` (alert state by fingerprint, a partition's
store in production, a dict in tests) and the :class:`DecisionContext` (live views of
silences, of every firing alert and of the actions sent and their results, which the
shell keeps current). The clock is the signal's event time, so a replay of the same
signals against the same views makes the same decisions and the same action ids.

Per rule the signal feeds: evaluate the condition (window rules) or take the match
(record rules), step the alert state machine of the alert's fingerprint, then:

- **flapping** (``flapping``): a firing or resolved change that makes the alert flap is
  swallowed (the alert is held firing); when it calms down one notification catches up.
- on FIRING each action is due once; on RESOLVED a resolved ``alert`` for each alert
  action that went out; a verified heal whose condition still holds ``verify.after``
  later (or whose executor reports failure, :func:`decide_result`) makes an escalation.
- every due action passes the gates in order — **maintenance** (the rule's windows and
  label windows), **silenced**, **inhibited** (alert-wide mutes: a muted firing action
  is tried again at each later evaluation while the alert fires), then, for firing
  actions, **cooldown** (``cooldown`` or exponential ``realert``), **circuit_open**,
  **budget** — and is sent, or recorded as a **dry_run** (``dry_run`` on the rule or
  the context). Each outcome is a :class:`~processors.records.Decision` (the trail).
- an ``incident`` action sent opens an incident for the alert: later actions of the
  alert carry its id (``incident_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from processors.decisions.alert_state import INACTIVE, AlertState, Event, Phase, transition
from processors.decisions.breaker import open_breaker
from processors.decisions.budgets import over_budget
from processors.decisions.flapping import is_flapping, recent_changes
from processors.decisions.inhibition import FiringAlert, FiringAlerts, inhibiting
from processors.decisions.ledger import Ledger
from processors.decisions.realert import next_realert, realert_wait
from processors.decisions.silences import SilenceBook
from processors.ids import fingerprint, stable_id
from processors.records import Action, ActionResult, Decision, Signal, SuppressReason, format_ts
from processors.rules.compiler import CompiledRule, CompiledRulebook, condition_context
from processors.rules.durations import format_duration
from processors.rules.label_matchers import alert_labels, matches_all
from processors.rules.maintenance import open_window
from processors.rules.model import ActionConfig, EscalationConfig, VerifyConfig
from processors.rules.policies import Policies, rule_windows
from processors.rules.templates import render_template


class StateStore(Protocol):
    """Alert state by fingerprint; values are JSON-able dicts. ``verifying`` maps each
    verified action's id to the fingerprint of the alert that waits for it."""

    verifying: dict[str, str]

    def get(self, key: str) -> dict[str, Any] | None: ...
    def set(self, key: str, value: dict[str, Any]) -> None: ...


class DictStore:
    """A :class:`StateStore` in memory, for tests and `opsrules test`. ``verifying``
    indexes the alerts waiting for a verified action's result: action id → fingerprint
    (see :func:`decide_result`)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.verifying: dict[str, str] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        for action_id in self.data.get(key, {}).get("verify", {}):
            self.verifying.pop(action_id, None)
        self.data[key] = value
        for action_id in value.get("verify", {}):
            self.verifying[action_id] = key

    def load(self, states: Mapping[str, dict[str, Any]]) -> None:
        """Restore saved states (a changelog read back)."""
        for key, value in states.items():
            self.set(key, value)


@dataclass(slots=True)
class DecisionContext:
    """What decisions read besides one alert's state. The shell feeds the views from
    Kafka (``ops.silences``, ``<app_id>.alerts.firing``, ``ops.decisions``,
    ``ops.actions.results``) and :meth:`apply` adds the core's own outcomes at once."""

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
            # An empty window's condition is false, whatever it reads (rules/README.md).
            holds = bool(signal.values.get("count")) and rule_id in rulebook.matcher.matching(
                (rule_id,), values
            )
            since_ms = (
                signal.window_start_ms if signal.window_start_ms is not None else signal.ts_ms
            )
        else:
            values = {**(signal.record or {}), **signal.group}
            holds, since_ms = True, signal.ts_ms
        key = fingerprint(rule.id, signal.group)
        alert = _Alert(rule, key, dict(signal.group), store, ctx, rulebook.policies, outcome)
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
    escalates if the condition still holds (:meth:`_Alert.still_holds`), else the action
    worked. Windowed rules excepted: their windows settle their checks (:meth:`decide`).
    The shell calls it with every batch, and the offline runner as time passes."""
    outcome = Outcome()
    ctx = context if context is not None else DecisionContext()
    for key in sorted(set(store.verifying.values())):
        saved = store.get(key)
        rule = rulebook.rules.get(str(saved.get("rule_id"))) if saved else None
        if saved is None or rule is None or rule.spec_id is not None:
            # A windowed alert's own windows settle its checks, in its event time: they
            # keep coming until it resolves, while this clock, the newest signal of
            # any rule and series, may be ahead of them (a longer grace, another input
            # partition) and would judge the alert by a state it has left.
            continue
        pending = saved.get("verify") or {}
        if not any(entry["due_ms"] <= clock_ms for entry in pending.values()):
            continue
        group = dict(saved.get("group") or {})
        alert = _Alert(rule, key, group, store, ctx, rulebook.policies, outcome)
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
    ``DictStore.verifying``): a failure escalates at once; any result is kept for the
    circuit breaker by the shell (``Ledger.record_result``)."""
    outcome = Outcome()
    saved = store.get(alert_key)
    rule_id = saved.get("rule_id") if saved else None
    rule = rulebook.rules.get(rule_id) if isinstance(rule_id, str) else None
    if saved is None or rule is None:
        return outcome
    pending = saved.get("verify", {}).get(result.action_id)
    if pending is None or result.status != "failed":
        return outcome
    ctx = context if context is not None else DecisionContext()
    alert = _Alert(rule, alert_key, dict(pending["group"]), store, ctx, rulebook.policies, outcome)
    why = f"the executor {result.executor} reported failure: {result.message}".rstrip(": ")
    alert.escalate_result(result.action_id, pending, why, result.ts_ms)
    return outcome


# --- one alert ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Due:
    """An action that is due, before its gates."""

    index: int
    config: ActionConfig
    status: str  # firing | resolved
    because: str
    starts_ms: int


@dataclass(frozen=True, slots=True)
class _Gate:
    """Why a due action is held back (reason None: it goes; ``dry_run``: recorded)."""

    reason: SuppressReason | None
    by: dict[str, Any] = field(default_factory=dict)

    @property
    def mute(self) -> bool:
        """An alert-wide mute, lifted later without a new firing."""
        return self.reason in ("maintenance", "silenced", "inhibited")


_GO = _Gate(None)


class _Alert:
    """One alert's evaluation: its saved state (copied, written back once), its labels,
    and what it decides into ``outcome``."""

    def __init__(
        self,
        rule: CompiledRule,
        key: str,
        group: dict[str, str],
        store: StateStore,
        ctx: DecisionContext,
        policies: Policies,
        outcome: Outcome,
    ) -> None:
        self.rule, self.key, self.group = rule, key, group
        self.store, self.ctx, self.policies, self.outcome = store, ctx, policies, outcome
        self.saved: dict[str, Any] = store.get(key) or {}
        self.new: dict[str, Any] = {k: v for k, v in self.saved.items()}
        spec = rule.rule
        self.labels = alert_labels(rule.id, spec.severity, spec.labels, group)
        self.values: Mapping[str, Any] = {}
        self.template: Mapping[str, Any] = group
        self.evidence: list[dict[str, Any]] = []  # of the signal, made when an action is
        self.signal: Signal | None = None
        self.t_ms = 0
        self._mute: _Gate | None = None

    # -- evaluating a signal ----------------------------------------------------------

    def evaluate(self, signal: Signal, context: dict[str, Any], holds: bool, since_ms: int) -> None:
        saved = self.saved
        state = AlertState.from_json(saved["alert"]) if "alert" in saved else INACTIVE
        if state.last_eval_ms is not None and signal.ts_ms <= state.last_eval_ms:
            return  # a replayed evaluation changes nothing
        # Verifications due before this signal are settled by the state before it, as
        # verify_due would have settled them on time.
        self.verify_until(signal.ts_ms - 1, state)
        self.t_ms = signal.ts_ms
        self.values = signal.values
        self.template = context
        self.signal = signal
        was_firing = self._effectively_firing(state)
        episode = state.active_since_ms
        state, event = transition(
            state, condition=holds, eval_ms=signal.ts_ms, since_ms=since_ms, timing=self.rule.timing
        )
        self.new["alert"] = state.to_json()
        swallowed = self._flapping(state, event, episode)
        if not swallowed:
            if event is Event.FIRING:
                assert state.active_since_ms is not None
                self._fire(state.active_since_ms, "firing")
            elif event is Event.RESOLVED and episode is not None:
                self._resolve(episode, "resolved")
            elif state.phase is Phase.FIRING and self.new.get("muted"):
                assert state.active_since_ms is not None
                self._unmute(state.active_since_ms)
        self._verify(state, holds, event)
        if event is Event.RESOLVED:
            self.new["verify"] = {}
        self._publish(was_firing, state)
        self._save(state, event)

    def _flapping(self, state: AlertState, event: Event, episode: int | None) -> bool:
        """Count the change; True when this evaluation's notifications are handled here
        (swallowed while flapping, or caught up when flapping ends)."""
        config = self.rule.rule.flapping
        if config is None:
            return False
        flap = dict(self.new.get("flap") or {"changes": [], "flapping": False, "held": False})
        changes = list(flap["changes"])
        if event in (Event.FIRING, Event.RESOLVED):
            changes.append(self.t_ms)
        changes = recent_changes(changes, config, self.t_ms)
        flapping = is_flapping(changes, config)
        handled = False
        if flapping and event in (Event.FIRING, Event.RESOLVED):
            if event is Event.RESOLVED and not flap["held"]:
                flap["held_since"] = episode  # held firing: the episode receivers know
            status = "firing" if event is Event.FIRING else "resolved"
            starts = state.active_since_ms if event is Event.FIRING else episode
            detail = {"changes": len(changes), "within": format_duration(config.within_ms)}
            for due in self._due(status, "firing" if status == "firing" else "resolved", starts):
                self._record(due, _Gate("flapping", detail))
            flap["held"], handled = True, True
        elif flap["flapping"] and not flapping and flap.get("held"):
            fires = state.phase is Phase.FIRING
            heard = self.new.get("announced")
            if fires and heard != "firing":
                assert state.active_since_ms is not None
                self._fire(state.active_since_ms, "flapping_ended")
            elif not fires and heard == "firing":
                self._resolve(int(flap.get("held_since") or episode or self.t_ms), "flapping_ended")
                self.new["verify"] = {}
            flap["held"], handled = False, True
            flap.pop("held_since", None)
        flap["changes"], flap["flapping"] = changes, flapping
        quiet = not changes and not flapping and not flap["held"]
        self.new["flap"] = None if quiet else flap
        return handled

    def _due(self, status: str, because: str, starts_ms: int | None) -> list[_Due]:
        starts = starts_ms if starts_ms is not None else self.t_ms
        actions = self.rule.rule.actions
        if status == "firing":
            return [_Due(i, c, "firing", because, starts) for i, c in enumerate(actions)]
        sent = self.new.get("sent", [])
        legacy = "rule_id" not in self.saved  # a state saved before "sent" was kept
        return [
            _Due(i, c, "resolved", because, starts)
            for i, c in enumerate(actions)
            if c.type == "alert" and (legacy or i in sent)
        ]

    def _fire(self, starts_ms: int, because: str) -> None:
        self.new["announced"] = "firing"
        self.new["sent"], self.new["muted"], self.new["mute"] = [], [], None
        self._send_all(self._due("firing", because, starts_ms))

    def _resolve(self, starts_ms: int, because: str) -> None:
        self.new["announced"] = "resolved"
        self._send_all(self._due("resolved", because, starts_ms))
        self.new["sent"], self.new["muted"], self.new["mute"] = [], [], None

    def _unmute(self, starts_ms: int) -> None:
        """Try muted firing actions again; while the same mute holds, quietly (the trail
        has it already)."""
        mute = self._alert_mute()
        if mute.mute and self.new.get("mute") == {"reason": mute.reason, **mute.by}:
            return
        muted = set(self.new.get("muted", []))
        due = [d for d in self._due("firing", "unmuted", starts_ms) if d.index in muted]
        self.new["muted"], self.new["mute"] = [], None
        self._send_all(due)

    def _send_all(self, dues: list[_Due]) -> None:
        """Gate every due action; the incident one (if it goes) first, so that the others
        carry its id."""
        gates = [(due, self._gate(due)) for due in dues]
        for due, gate in gates:
            if due.config.type == "incident" and gate.reason is None and due.status == "firing":
                self.new["incident_id"] = self._action_id(due)
                break
        for due, gate in gates:
            self._record(due, gate)

    # -- gates ------------------------------------------------------------------------

    def _alert_mute(self) -> _Gate:
        """Maintenance, silence, inhibition: the same for every action of one
        evaluation."""
        if self._mute is not None:
            return self._mute
        t_ms, labels = self.t_ms, self.labels
        windows = rule_windows(self.rule.rule.maintenance) + tuple(
            w for w in self.policies.maintenance_windows if matches_all(w.matchers, labels)
        )
        gate = _GO
        for window in windows:
            opened = open_window(
                window.name, window.cron, window.time_zone, window.duration_ms, t_ms
            )
            if opened is not None:
                gate = _Gate(
                    "maintenance",
                    {
                        "maintenance_window": opened.name,
                        "from": format_ts(opened.start_ms),
                        "until": format_ts(opened.end_ms),
                    },
                )
                break
        if gate is _GO:
            silence = self.ctx.silences.silencing(labels, t_ms)
            if silence is not None:
                gate = _Gate("silenced", silence.trail())
        if gate is _GO and self.policies.inhibit_rules:
            found = inhibiting(
                self.policies.inhibit_rules,
                self.ctx.firing.by_fingerprint.values(),
                self.key,
                labels,
                t_ms,
            )
            if found is not None:
                rule, source = found
                gate = _Gate(
                    "inhibited",
                    {
                        "inhibit_rule": rule.name,
                        "inhibited_by": source.fingerprint,
                        "source_rule": source.rule_id,
                    },
                )
        self._mute = gate
        return gate

    def _gate(self, due: _Due) -> _Gate:
        mute = self._alert_mute()
        if mute.reason is not None:
            return mute
        if due.status == "firing":
            held = self._held_back(due)
            if held is not None:
                return held
        return self._dry_run() or _GO

    def _dry_run(self) -> _Gate | None:
        """Recorded, not sent: ``dry_run`` on the rule, or OPSRULES_DRY_RUN."""
        if self.rule.rule.dry_run or self.ctx.dry_run:
            source = "rule" if self.rule.rule.dry_run else "OPSRULES_DRY_RUN"
            return _Gate("dry_run", {"dry_run": source})
        return None

    def _held_back(self, due: _Due) -> _Gate | None:
        config, index, t_ms = due.config, str(due.index), self.t_ms
        last = self.new.get("cooldowns", {}).get(index)
        if last is not None and t_ms - last < config.cooldown_ms:
            until = format_ts(last + config.cooldown_ms)
            return _Gate(
                "cooldown", {"cooldown": format_duration(config.cooldown_ms), "until": until}
            )
        if config.realert is not None:
            until_ms = realert_wait(self.new.get("realert", {}).get(index), t_ms)
            if until_ms is not None:
                return _Gate("cooldown", {"realert_until": format_ts(until_ms)})
        target = self._target(config)
        if config.circuit_breaker is not None:
            opened = open_breaker(
                self.ctx.ledger,
                config.circuit_breaker,
                rule_id=self.rule.id,
                action_index=due.index,
                target=target,
                t_ms=t_ms,
            )
            if opened is not None:
                return _Gate("circuit_open", opened.trail())
        if config.budgets:
            over = over_budget(
                self.ctx.ledger,
                config.budgets,
                rule_id=self.rule.id,
                target=target,
                action_type=config.type,
                action_id=self._action_id(due),
                t_ms=t_ms,
            )
            if over is not None:
                subject = self.rule.id if over.budget.by == "rule" else target or ""
                return _Gate("budget", over.trail(subject))
        return None

    # -- outcomes ---------------------------------------------------------------------

    def _record(self, due: _Due, gate: _Gate) -> None:
        """The decision for ``due``; the action when it goes; state for what went."""
        config = due.config
        action_id = self._action_id(due)
        decision = self._decision(due, action_id, config.type, gate)
        outcome = self.outcome
        outcome.decisions.append(decision)
        if gate.reason is not None:
            outcome.suppressed.append(
                Suppressed(self.rule.id, self.key, config.type, gate.reason, self.t_ms, decision)
            )
            if gate.mute and due.status == "firing":
                self.new["muted"] = sorted({*self.new.get("muted", []), due.index})
                self.new["mute"] = {"reason": gate.reason, **gate.by}
            if gate.reason != "dry_run":
                return
        if due.status == "firing":
            self._went(due)
        if gate.reason is None:
            action = self._action(due, action_id, decision)
            outcome.actions.append(action)
            if config.verify is not None and due.status == "firing":
                verify = dict(self.new.get("verify", {}))
                verify[action_id] = {
                    "index": due.index,
                    "sent_ms": self.t_ms,
                    "due_ms": self.t_ms + config.verify.after_ms,
                    "group": self.group,
                    "values": dict(self.values),
                }
                self.new["verify"] = verify

    def _went(self, due: _Due) -> None:
        """State after a firing action went (or would have, in a dry run)."""
        index = str(due.index)
        self.new["sent"] = sorted({*self.new.get("sent", []), due.index})
        if due.config.cooldown_ms:
            self.new["cooldowns"] = {**self.new.get("cooldowns", {}), index: self.t_ms}
        if due.config.realert is not None:
            realert = dict(self.new.get("realert", {}))
            realert[index] = next_realert(due.config.realert, realert.get(index), self.t_ms)
            self.new["realert"] = realert

    def _action_id(self, due: _Due) -> str:
        return stable_id(self.rule.id, self.key, due.starts_ms, due.index, due.status)

    def _target(self, config: ActionConfig | EscalationConfig) -> str:
        """What the action acts on: its ``target`` param, else the group (k=v,…)."""
        target = config.params.get("target")
        if isinstance(target, str):
            return render_template(target, self.template)
        return ",".join(f"{k}={v}" for k, v in sorted(self.group.items())) or self.rule.id

    def _decision(self, due: _Due, action_id: str, action_type: Any, gate: _Gate) -> Decision:
        if gate.reason is None:
            outcome = "sent"
        else:
            outcome = "dry_run" if gate.reason == "dry_run" else "suppressed"
        return Decision(
            action_id=action_id,
            action_type=action_type,
            action_index=due.index,
            status="resolved" if due.status == "resolved" else "firing",
            outcome=outcome,
            reason=gate.reason,
            because=due.because,
            rule_id=self.rule.id,
            rule_version=self.rule.version,
            fingerprint=self.key,
            target=self._target(due.config),
            group=self.group,
            values=dict(self.values),
            suppressed_by=gate.by,
            ts=format_ts(self.t_ms),
        )

    def _action(self, due: _Due, action_id: str, decision: Decision) -> Action:
        rule = self.rule.rule
        config = due.config
        context = {**self.template, "rule_id": self.rule.id, "severity": rule.severity}
        context["status"] = due.status
        annotations = {k: render_template(v, context) for k, v in rule.annotations.items()}
        summary = annotations.get("summary") or rule.description or self.rule.id
        params = {
            k: render_template(v, context) if isinstance(v, str) else v
            for k, v in config.params.items()
        }
        return Action(
            id=action_id,
            type=config.type,
            status="resolved" if due.status == "resolved" else "firing",
            rule_id=self.rule.id,
            rule_version=self.rule.version,
            severity=rule.severity,
            group=dict(self.group),
            fingerprint=self.key,
            labels={**rule.labels, **self.group},
            summary=summary,
            annotations=annotations,
            params=params,
            evidence=[_evidence(self.signal)] if self.signal is not None else self.evidence,
            starts_at=format_ts(due.starts_ms),
            ts=format_ts(self.t_ms),
            target=decision.target,
            incident_id=self.new.get("incident_id"),
            decision=decision,
        )

    # -- the closed loop ----------------------------------------------------------------

    def _verify(self, state: AlertState, holds: bool, event: Event) -> None:
        """Verified actions whose time has come: escalate if the condition still holds,
        else they worked."""
        pending = self.new.get("verify")
        if not pending:
            return
        still = holds and state.phase is Phase.FIRING and event is not Event.RESOLVED
        for action_id, entry in sorted(pending.items()):
            if self.t_ms < entry["due_ms"]:
                continue
            if still:
                why = f"the condition still holds {format_duration(self._after(entry))} after"
                self.escalate_result(action_id, entry, why, self.t_ms)
            else:
                self._drop_verification(action_id)

    def verify_until(self, clock_ms: int, state: AlertState | None = None) -> None:
        """Settle the verifications due at or before ``clock_ms`` by the saved state
        (or ``state``): escalate those whose condition still holds, drop the others."""
        pending = self.new.get("verify")
        if not pending:
            return
        if state is None:
            saved = self.new.get("alert")
            state = AlertState.from_json(saved) if saved else INACTIVE
        for action_id, entry in sorted(pending.items(), key=lambda item: item[1]["due_ms"]):
            if entry["due_ms"] > clock_ms:
                continue
            if self.still_holds(state, entry):
                why = f"the condition still holds {format_duration(self._after(entry))} after"
                self.escalate_result(action_id, entry, why, entry["due_ms"])
            else:
                self._drop_verification(action_id)

    def still_holds(self, state: AlertState, entry: Mapping[str, Any]) -> bool:
        """Whether the condition a verified action was for still holds, without a new
        evaluation: a windowed alert still fires on a true last window; a flatline's
        key is still silent (its recovery would have dropped the entry); any other
        rule matched again since the action went."""
        if self.rule.spec_id is not None:
            return state.phase is Phase.FIRING and state.last_true_ms == state.last_eval_ms
        if self.rule.rule.type == "flatline":
            return True
        sent_ms = entry.get("sent_ms", entry["due_ms"] - self._after(entry))
        return state.last_true_ms is not None and state.last_true_ms > sent_ms

    def recovered(self, ts_ms: int) -> None:
        """A flatline rule's key sent again at ``ts_ms``: the verified actions taken for
        its silence worked (those due before were settled by then)."""
        self.verify_until(ts_ms - 1)
        for action_id in list(self.new.get("verify") or {}):
            self._drop_verification(action_id)
        self.save()

    def save(self) -> None:
        """Write the state back if anything changed (an alert never saved stays so)."""
        if self.saved:
            self._save_raw()

    def _verify_config(self, entry: Mapping[str, Any]) -> VerifyConfig | None:
        """The verify block of the entry's action (None if a reload took it away)."""
        actions = self.rule.rule.actions
        index = entry["index"]
        return actions[index].verify if 0 <= index < len(actions) else None

    def _after(self, entry: Mapping[str, Any]) -> int:
        verify = self._verify_config(entry)
        return verify.after_ms if verify is not None else 0

    def _drop_verification(self, action_id: str) -> None:
        self.new["verify"] = {k: v for k, v in self.new.get("verify", {}).items() if k != action_id}

    def escalate_result(
        self, action_id: str, entry: Mapping[str, Any], why: str, t_ms: int
    ) -> None:
        """Send the escalation of the verified action ``action_id`` (once)."""
        verify = self._verify_config(entry)
        self._drop_verification(action_id)
        if verify is None:
            self._save_raw()
            return
        self.t_ms = max(self.t_ms, t_ms)
        if self.signal is None:  # from an action result
            self.values = entry.get("values", {})
            self.template = {**self.values, **self.group}
            self.evidence = [{"escalates": action_id, "why": why, "ts": format_ts(t_ms)}]
        escalate = verify.escalate
        esc_config = ActionConfig(type=escalate.type, params=escalate.params)
        due = _Due(entry["index"], esc_config, "firing", "escalation", self.t_ms)
        escalation_id = stable_id(self.rule.id, self.key, action_id, "escalation")
        gate = self._alert_mute()
        if gate.reason is None:
            gate = self._dry_run() or gate
        decision = self._decision(due, escalation_id, escalate.type, gate).model_copy(
            update={"detail": {"escalates": action_id, "why": why}}
        )
        self.outcome.decisions.append(decision)
        if gate.reason is not None:
            self.outcome.suppressed.append(
                Suppressed(self.rule.id, self.key, escalate.type, gate.reason, self.t_ms, decision)
            )
        else:
            if escalate.type == "incident":
                self.new["incident_id"] = escalation_id
            action = self._action(due, escalation_id, decision)
            severity = escalate.severity or self.rule.rule.severity
            context = {**self.template, "rule_id": self.rule.id, "severity": severity, "why": why}
            # The default is made of rendered text: never rendered again (a record's
            # "{{" would be read as a template).
            summary = (
                render_template(escalate.summary, context)
                if escalate.summary is not None
                else f"Escalation: {action.summary} ({why})"
            )
            self.outcome.actions.append(
                action.model_copy(update={"severity": severity, "summary": summary})
            )
        self._save_raw()

    # -- state ------------------------------------------------------------------------

    def _effectively_firing(self, state: AlertState) -> bool:
        """Firing, or held firing while it flaps."""
        flap = self.new.get("flap") or {}
        return state.phase is Phase.FIRING or bool(flap.get("flapping") and flap.get("held"))

    def _publish(self, was_firing: bool, state: AlertState) -> None:
        """Tell the other workers (inhibition) when the alert starts or stops firing, or
        starts or stops flapping. An alert of a rule on single records fires until
        ``keep_firing_for`` after its last match: each match moves that on."""
        now_firing = self._effectively_firing(state)
        flap = self.new.get("flap") or {}
        flapping = bool(flap.get("flapping"))
        was_flapping = bool((self.saved.get("flap") or {}).get("flapping"))
        timing = self.rule.timing
        if now_firing and (not was_firing or flapping != was_flapping or not timing.resolves):
            self.outcome.firing_changes[self.key] = _as_firing(
                self.rule, self.key, self.labels, state, flap, self.t_ms
            )
        elif was_firing and not now_firing:
            self.outcome.firing_changes[self.key] = None

    def _save(self, state: AlertState, event: Event) -> None:
        # An inactive alert that stays inactive is not written again: most evaluations are
        # of that kind, and every write is a changelog record. Replays stay harmless: a
        # replayed signal that was false is false again, and one that was true had caused
        # a transition, which was written with its time.
        was_inactive = (
            self.saved.get("alert", {}).get("phase", Phase.INACTIVE.value) == Phase.INACTIVE
        )
        stays_inactive = was_inactive and state.phase is Phase.INACTIVE and event is Event.NONE
        if stays_inactive and not self.saved.get("verify") and not self.saved.get("flap"):
            return
        self._save_raw()

    def _save_raw(self) -> None:
        new = {k: v for k, v in self.new.items() if v not in ({}, [], None) or k == "alert"}
        new["rule_id"], new["group"] = self.rule.id, self.group
        if new != self.saved:
            self.store.set(self.key, new)


def firing_alert(
    rulebook: CompiledRulebook, key: str, saved: Mapping[str, Any]
) -> FiringAlert | None:
    """The alert of a saved state as the firing view holds it, if it fires (or is held
    firing while it flaps); for a shell reconciling the view with restored states."""
    rule = rulebook.rules.get(str(saved.get("rule_id")))
    if rule is None or "alert" not in saved or "group" not in saved:
        return None
    state = AlertState.from_json(saved["alert"])
    flap = saved.get("flap") or {}
    held = bool(flap.get("flapping") and flap.get("held"))
    if state.phase is not Phase.FIRING and not held:
        return None
    spec = rule.rule
    labels = alert_labels(rule.id, spec.severity, spec.labels, saved["group"])
    return _as_firing(rule, key, labels, state, flap, 0)


def _as_firing(
    rule: CompiledRule,
    key: str,
    labels: dict[str, str],
    state: AlertState,
    flap: Mapping[str, Any],
    default_since_ms: int,
) -> FiringAlert:
    """The firing view's entry of an alert that fires (or is held firing while it
    flaps): since its activation (or the flap's hold); a rule on single records fires
    until ``keep_firing_for`` after its last match."""
    since = state.active_since_ms
    if since is None:
        since = int(flap.get("held_since") or default_since_ms)
    until = None
    if not rule.timing.resolves and state.last_true_ms is not None:
        until = state.last_true_ms + rule.timing.keep_firing_for_ms
    return FiringAlert(key, rule.id, labels, since, bool(flap.get("flapping")), until_ms=until)


def _evidence(signal: Signal) -> dict[str, Any]:
    evidence: dict[str, Any] = {"signal_id": signal.id, "ts": format_ts(signal.ts_ms)}
    if signal.window_start_ms is not None:
        evidence["window_start"] = format_ts(signal.window_start_ms)
        evidence["values"] = dict(signal.values)
    if signal.record is not None:
        evidence["record"] = signal.record
    return evidence
