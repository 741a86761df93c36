"""One alert's evaluation: its record, the state machine step, and what it decides.

:class:`Alert` reads the alert's :class:`AlertRecord` from the store, works on a copy,
and writes it back once if it changed. Per evaluation (processors/decisions/decide.py
says which signal evaluates which alert):

- **the state machine** (processors/decisions/alert_state.py) steps; on FIRING each
  action is due once; on RESOLVED a resolved ``alert`` for each alert action that went;
- **flapping** (``flapping``): a firing or resolved change that makes the alert flap is
  swallowed (the alert is held firing); when it calms down one notification catches up;
- every due action passes the gates (processors/decisions/gates.py) and is sent,
  suppressed or recorded as a dry run; each outcome is a ``Decision`` (the trail); a
  firing action held back by an alert-wide mute is tried again at each later evaluation
  while the alert fires;
- an ``incident`` action sent opens an incident whose id later actions carry;
- **the closed loop**: a verified heal or scale whose condition still holds
  ``verify.after`` later, or whose executor reports failure, makes an escalation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.decisions.alert_record import AlertRecord, Flap, StateStore, Verification
from processors.decisions.alert_state import AlertState, Event, Phase, transition
from processors.decisions.context import DecisionContext, Outcome, Suppressed
from processors.decisions.firing import as_firing
from processors.decisions.flapping import is_flapping, recent_changes
from processors.decisions.gates import GO, Due, Gate, alert_mute, dry_run, held_back
from processors.decisions.realert import next_realert
from processors.decisions.render import action_record, decision_record, evidence_of, target_of
from processors.ids import stable_id
from processors.records import Action, Decision, Signal
from processors.rules.actions import ActionConfig, EscalationConfig, VerifyConfig
from processors.rules.compiler import CompiledRule
from processors.rules.durations import format_duration
from processors.rules.label_matchers import alert_labels
from processors.rules.policies import Policies
from processors.rules.templates import render_template
from processors.timestamps import format_ts


class Alert:
    """One alert's evaluation: its saved record (copied, written back once), its labels,
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
        self.saved = store.get(key)
        self.new = self.saved.copy() if self.saved is not None else AlertRecord(rule.id, group)
        spec = rule.rule
        self.labels = alert_labels(rule.id, spec.severity, spec.labels, group)
        self.values: Mapping[str, Any] = {}
        self.template: Mapping[str, Any] = group
        self.evidence: list[dict[str, Any]] = []  # of the signal, made when an action is
        self.signal: Signal | None = None
        self.t_ms = 0
        self._mute: Gate | None = None

    # -- evaluating a signal ----------------------------------------------------------

    def evaluate(self, signal: Signal, context: dict[str, Any], holds: bool, since_ms: int) -> None:
        state = self.new.alert
        if state.last_eval_ms is not None and signal.ts_ms <= state.last_eval_ms:
            return  # a replayed evaluation changes nothing
        # Verifications due before this signal are settled by the state before it, as
        # verify_due would have settled them on time.
        self.verify_until(signal.ts_ms - 1)
        self.t_ms = signal.ts_ms
        self.values = signal.values
        self.template = context
        self.signal = signal
        was_firing = self.new.fires
        episode = state.active_since_ms
        state, event = transition(
            state, condition=holds, eval_ms=signal.ts_ms, since_ms=since_ms, timing=self.rule.timing
        )
        self.new.alert = state
        swallowed = self._flapping(state, event, episode)
        if not swallowed:
            if event is Event.FIRING:
                assert state.active_since_ms is not None
                self._fire(state.active_since_ms, "firing")
            elif event is Event.RESOLVED and episode is not None:
                self._resolve(episode, "resolved")
            elif state.phase is Phase.FIRING and self.new.muted:
                assert state.active_since_ms is not None
                self._unmute(state.active_since_ms)
        self._verify(state, holds, event)
        if event is Event.RESOLVED:
            self.new.verify = {}
        self._publish(was_firing, state)
        self._save(state, event)

    def _flapping(self, state: AlertState, event: Event, episode: int | None) -> bool:
        """Count the change; True when this evaluation's notifications are handled here
        (swallowed while flapping, or caught up when flapping ends)."""
        config = self.rule.rule.flapping
        if config is None:
            return False
        flap = self.new.flap or Flap()
        held, held_since = flap.held, flap.held_since_ms
        changes = list(flap.changes)
        if event in (Event.FIRING, Event.RESOLVED):
            changes.append(self.t_ms)
        changes = recent_changes(changes, config, self.t_ms)
        flapping = is_flapping(changes, config)
        handled = False
        if flapping and event in (Event.FIRING, Event.RESOLVED):
            if event is Event.RESOLVED and not held:
                held_since = episode  # held firing: the episode receivers know
            status = "firing" if event is Event.FIRING else "resolved"
            starts = state.active_since_ms if event is Event.FIRING else episode
            detail = {"changes": len(changes), "within": format_duration(config.within_ms)}
            for due in self._due(status, "firing" if status == "firing" else "resolved", starts):
                self._record(due, Gate("flapping", detail))
            held, handled = True, True
        elif flap.flapping and not flapping and held:
            fires = state.phase is Phase.FIRING
            heard = self.new.announced
            if fires and heard != "firing":
                assert state.active_since_ms is not None
                self._fire(state.active_since_ms, "flapping_ended")
            elif not fires and heard == "firing":
                self._resolve(int(held_since or episode or self.t_ms), "flapping_ended")
                self.new.verify = {}
            held, held_since, handled = False, None, True
        new = Flap(tuple(changes), flapping, held, held_since)
        self.new.flap = None if new.quiet else new
        return handled

    def _due(self, status: str, because: str, starts_ms: int | None) -> list[Due]:
        starts = starts_ms if starts_ms is not None else self.t_ms
        actions = self.rule.rule.actions
        if status == "firing":
            return [Due(i, c, "firing", because, starts) for i, c in enumerate(actions)]
        sent = self.new.sent
        # a record saved before "sent" was kept: every alert action went
        legacy = self.saved is None or self.saved.rule_id is None
        return [
            Due(i, c, "resolved", because, starts)
            for i, c in enumerate(actions)
            if c.type == "alert" and (legacy or i in sent)
        ]

    def _fire(self, starts_ms: int, because: str) -> None:
        self.new.announced = "firing"
        self.new.sent, self.new.muted, self.new.mute = frozenset(), frozenset(), None
        self._send_all(self._due("firing", because, starts_ms))

    def _resolve(self, starts_ms: int, because: str) -> None:
        self.new.announced = "resolved"
        self._send_all(self._due("resolved", because, starts_ms))
        self.new.sent, self.new.muted, self.new.mute = frozenset(), frozenset(), None

    def _unmute(self, starts_ms: int) -> None:
        """Try muted firing actions again; while the same mute holds, quietly (the trail
        has it already)."""
        mute = self._alert_mute()
        if mute.mute and self.new.mute == mute.as_mute():
            return
        muted = self.new.muted
        due = [d for d in self._due("firing", "unmuted", starts_ms) if d.index in muted]
        self.new.muted, self.new.mute = frozenset(), None
        self._send_all(due)

    def _send_all(self, dues: list[Due]) -> None:
        """Gate every due action; the incident one (if it goes) first, so that the others
        carry its id."""
        gates = [(due, self._gate(due)) for due in dues]
        for due, gate in gates:
            if due.config.type == "incident" and gate.reason is None and due.status == "firing":
                self.new.incident_id = self._action_id(due)
                break
        for due, gate in gates:
            self._record(due, gate)

    # -- gates ------------------------------------------------------------------------

    def _alert_mute(self) -> Gate:
        """Maintenance, silence, inhibition: the same for every action of one
        evaluation."""
        if self._mute is None:
            self._mute = alert_mute(
                self.rule, self.policies, self.ctx, self.key, self.labels, self.t_ms
            )
        return self._mute

    def _gate(self, due: Due) -> Gate:
        mute = self._alert_mute()
        if mute.reason is not None:
            return mute
        if due.status == "firing":
            held = held_back(
                due,
                self.new,
                self.ctx,
                rule_id=self.rule.id,
                target=self._target(due.config),
                action_id=self._action_id(due),
                t_ms=self.t_ms,
            )
            if held is not None:
                return held
        return dry_run(self.rule, self.ctx) or GO

    # -- outcomes ---------------------------------------------------------------------

    def _record(self, due: Due, gate: Gate) -> None:
        """The decision for ``due``; the action when it goes; state for what went."""
        config = due.config
        action_id = self._action_id(due)
        decision = self._decision(due, action_id, gate)
        outcome = self.outcome
        outcome.decisions.append(decision)
        if gate.reason is not None:
            outcome.suppressed.append(
                Suppressed(self.rule.id, self.key, config.type, gate.reason, self.t_ms, decision)
            )
            if gate.mute and due.status == "firing":
                self.new.muted = self.new.muted | {due.index}
                self.new.mute = gate.as_mute()
            if gate.reason != "dry_run":
                return
        if due.status == "firing":
            self._went(due)
        if gate.reason is None:
            outcome.actions.append(self._action(due, decision))
            if config.verify is not None and due.status == "firing":
                self.new.verify[action_id] = Verification(
                    index=due.index,
                    sent_ms=self.t_ms,
                    due_ms=self.t_ms + config.verify.after_ms,
                    group=self.group,
                    values=dict(self.values),
                )

    def _went(self, due: Due) -> None:
        """State after a firing action went (or would have, in a dry run)."""
        index, new = due.index, self.new
        new.sent = new.sent | {index}
        if due.config.cooldown_ms:
            new.cooldowns[index] = self.t_ms
        if due.config.realert is not None:
            new.realert[index] = next_realert(due.config.realert, new.realert.get(index), self.t_ms)

    def _action_id(self, due: Due) -> str:
        return stable_id(self.rule.id, self.key, due.starts_ms, due.index, due.status)

    def _target(self, config: ActionConfig | EscalationConfig) -> str:
        return target_of(config, self.rule.id, self.group, self.template)

    def _decision(self, due: Due, action_id: str, gate: Gate, action_type: Any = None) -> Decision:
        target = self._target(due.config)
        return decision_record(
            self.rule,
            self.key,
            self.group,
            self.values,
            due,
            action_id,
            gate,
            target,
            self.t_ms,
            action_type,
        )

    def _action(self, due: Due, decision: Decision) -> Action:
        evidence = [evidence_of(self.signal)] if self.signal is not None else self.evidence
        return action_record(
            self.rule,
            self.key,
            self.group,
            self.template,
            due,
            decision,
            evidence,
            self.new.incident_id,
            self.t_ms,
        )

    # -- the closed loop ----------------------------------------------------------------

    def _verify(self, state: AlertState, holds: bool, event: Event) -> None:
        """Verified actions whose time has come: escalate if the condition still holds,
        else they worked."""
        if not self.new.verify:
            return
        still = holds and state.phase is Phase.FIRING and event is not Event.RESOLVED
        for action_id, entry in sorted(self.new.verify.items()):
            if self.t_ms < entry.due_ms:
                continue
            if still:
                why = f"the condition still holds {format_duration(self._after(entry))} after"
                self.escalate_result(action_id, entry, why, self.t_ms)
            else:
                self._drop_verification(action_id)

    def verify_until(self, clock_ms: int) -> None:
        """Settle the verifications due at or before ``clock_ms`` by the record's state:
        escalate those whose condition still holds, drop the others."""
        if not self.new.verify:
            return
        state = self.new.alert
        for action_id, entry in sorted(self.new.verify.items(), key=lambda item: item[1].due_ms):
            if entry.due_ms > clock_ms:
                continue
            if self.still_holds(state, entry):
                why = f"the condition still holds {format_duration(self._after(entry))} after"
                self.escalate_result(action_id, entry, why, entry.due_ms)
            else:
                self._drop_verification(action_id)

    def still_holds(self, state: AlertState, entry: Verification) -> bool:
        """Whether the condition a verified action was for still holds, without a new
        evaluation: a windowed alert still fires on a true last window; a flatline's
        key is still silent (its recovery would have dropped the entry); any other
        rule matched again since the action went."""
        if self.rule.spec_id is not None:
            return state.phase is Phase.FIRING and state.last_true_ms == state.last_eval_ms
        if self.rule.rule.type == "flatline":
            return True
        sent_ms = entry.sent_ms if entry.sent_ms is not None else entry.due_ms - self._after(entry)
        return state.last_true_ms is not None and state.last_true_ms > sent_ms

    def recovered(self, ts_ms: int) -> None:
        """A flatline rule's key sent again at ``ts_ms``: the verified actions taken for
        its silence worked (those due before were settled by then)."""
        self.verify_until(ts_ms - 1)
        self.new.verify = {}
        self.save()

    def save(self) -> None:
        """Write the record back if anything changed (an alert never saved stays so)."""
        if self.saved is not None:
            self._save_raw()

    def _verify_config(self, entry: Verification) -> VerifyConfig | None:
        """The verify block of the entry's action (None if a reload took it away)."""
        actions = self.rule.rule.actions
        return actions[entry.index].verify if 0 <= entry.index < len(actions) else None

    def _after(self, entry: Verification) -> int:
        verify = self._verify_config(entry)
        return verify.after_ms if verify is not None else 0

    def _drop_verification(self, action_id: str) -> None:
        self.new.verify.pop(action_id, None)

    def escalate_result(self, action_id: str, entry: Verification, why: str, t_ms: int) -> None:
        """Send the escalation of the verified action ``action_id`` (once)."""
        verify = self._verify_config(entry)
        self._drop_verification(action_id)
        if verify is None:
            self._save_raw()
            return
        self.t_ms = max(self.t_ms, t_ms)
        if self.signal is None:  # from an action result
            self.values = entry.values
            self.template = {**self.values, **self.group}
            self.evidence = [{"escalates": action_id, "why": why, "ts": format_ts(t_ms)}]
        escalate = verify.escalate
        due = Due(
            entry.index,
            ActionConfig(type=escalate.type, params=escalate.params),
            "firing",
            "escalation",
            self.t_ms,
        )
        escalation_id = stable_id(self.rule.id, self.key, action_id, "escalation")
        # Only the alert-wide mutes and the dry run: an escalation is not held back by
        # the cooldown, breaker or budget of the action it escalates.
        gate = self._alert_mute()
        if gate.reason is None:
            gate = dry_run(self.rule, self.ctx) or gate
        decision = self._decision(due, escalation_id, gate, escalate.type).model_copy(
            update={"detail": {"escalates": action_id, "why": why}}
        )
        self.outcome.decisions.append(decision)
        if gate.reason is not None:
            self.outcome.suppressed.append(
                Suppressed(self.rule.id, self.key, escalate.type, gate.reason, self.t_ms, decision)
            )
        else:
            if escalate.type == "incident":
                self.new.incident_id = escalation_id
            action = self._action(due, decision)
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

    # -- the record ---------------------------------------------------------------------

    def _publish(self, was_firing: bool, state: AlertState) -> None:
        """Tell the other workers (inhibition) when the alert starts or stops firing, or
        starts or stops flapping. An alert of a rule on single records fires until
        ``keep_firing_for`` after its last match: each match moves that on."""
        now_firing = self.new.fires
        flap = self.new.flap
        flapping = flap is not None and flap.flapping
        before = self.saved.flap if self.saved is not None else None
        was_flapping = before is not None and before.flapping
        timing = self.rule.timing
        if now_firing and (not was_firing or flapping != was_flapping or not timing.resolves):
            self.outcome.firing_changes[self.key] = as_firing(
                self.rule, self.key, self.labels, state, flap, self.t_ms
            )
        elif was_firing and not now_firing:
            self.outcome.firing_changes[self.key] = None

    def _save(self, state: AlertState, event: Event) -> None:
        # An inactive alert that stays inactive is not written again: most evaluations are
        # of that kind, and every write is a changelog record. Replays stay harmless: a
        # replayed signal that was false is false again, and one that was true had caused
        # a transition, which was written with its time.
        saved = self.saved
        was_inactive = saved is None or saved.alert.phase is Phase.INACTIVE
        stays_inactive = was_inactive and state.phase is Phase.INACTIVE and event is Event.NONE
        if stays_inactive and (saved is None or (not saved.verify and saved.flap is None)):
            return
        self._save_raw()

    def _save_raw(self) -> None:
        new = self.new
        new.rule_id, new.group = self.rule.id, self.group
        if new != self.saved:
            self.store.set(self.key, new.copy())
