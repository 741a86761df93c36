"""The decision core: one signal in, the actions it causes out.

Pure apart from the :class:`StateStore` passed in (a faust table in production, a dict
in tests). The clock is the signal's event time, so a replay of the same signals makes
the same decisions and the same action ids.

Per rule the signal feeds: evaluate the condition (window rules) or take the match
(record rules), step the alert state machine of the alert's fingerprint, and on
FIRING emit each of the rule's actions once (unless its ``cooldown`` since the same
action of the same alert has not passed); on RESOLVED emit a resolved ``alert``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from processors.engine.alert_state import INACTIVE, AlertState, Event, Phase, transition
from processors.engine.compiler import CompiledRule, CompiledRulebook
from processors.engine.templates import render_template
from processors.ids import fingerprint, stable_id
from streams.schemas import Action, Signal, format_ts


class StateStore(Protocol):
    """Alert state by fingerprint; values are JSON-able dicts."""

    def get(self, key: str) -> dict[str, Any] | None: ...
    def set(self, key: str, value: dict[str, Any]) -> None: ...


class DictStore:
    """A :class:`StateStore` in memory, for tests and `opsrules test`."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value


@dataclass(frozen=True, slots=True)
class Suppressed:
    """An action the engine decided not to send, and why (the decision trail)."""

    rule_id: str
    fingerprint: str
    action_type: str
    reason: str
    ts_ms: int


@dataclass(slots=True)
class Outcome:
    actions: list[Action]
    suppressed: list[Suppressed]


def condition_context(rule: CompiledRule, signal: Signal) -> dict[str, Any]:
    """What a windowed rule's condition and templates see: ``value`` (the rule's stat),
    every stat, and the group_by values."""
    window = rule.rule.window
    assert window is not None
    return {**signal.values, **signal.group, "value": signal.values.get(window.stat)}


def decide(signal: Signal, rulebook: CompiledRulebook, store: StateStore) -> Outcome:
    outcome = Outcome([], [])
    for rule_id in signal.rules:
        rule = rulebook.rules.get(rule_id)
        if rule is None:
            continue  # a signal of a rule that has since been removed
        if rule.spec_id is not None:
            context = condition_context(rule, signal)
            holds = rule_id in rulebook.matcher.matching((rule_id,), context)
            since_ms = (
                signal.window_start_ms if signal.window_start_ms is not None else signal.ts_ms
            )
        else:
            context = {**(signal.record or {}), **signal.group}
            holds, since_ms = True, signal.ts_ms
        _step(rule, signal, context, holds, since_ms, store, outcome)
    return outcome


def _step(
    rule: CompiledRule,
    signal: Signal,
    context: dict[str, Any],
    holds: bool,
    since_ms: int,
    store: StateStore,
    outcome: Outcome,
) -> None:
    key = fingerprint(rule.id, signal.group)
    saved = store.get(key) or {}
    state = AlertState.from_json(saved["alert"]) if "alert" in saved else INACTIVE
    episode = state.active_since_ms
    state, event = transition(
        state, condition=holds, eval_ms=signal.ts_ms, since_ms=since_ms, timing=rule.timing
    )
    cooldowns: dict[str, int] = dict(saved.get("cooldowns", {}))
    if event is Event.FIRING:
        assert state.active_since_ms is not None
        for index, config in enumerate(rule.rule.actions):
            last = cooldowns.get(str(index))
            if last is not None and signal.ts_ms - last < config.cooldown_ms:
                outcome.suppressed.append(
                    Suppressed(rule.id, key, config.type, "cooldown", signal.ts_ms)
                )
                continue
            cooldowns[str(index)] = signal.ts_ms
            outcome.actions.append(
                _action(rule, signal, context, key, index, "firing", state.active_since_ms)
            )
    elif event is Event.RESOLVED and episode is not None:
        for index, config in enumerate(rule.rule.actions):
            if config.type == "alert":
                outcome.actions.append(
                    _action(rule, signal, context, key, index, "resolved", episode)
                )
    # An inactive alert that stays inactive is not written again: most evaluations are
    # of that kind, and every write is a changelog record. Replays stay harmless: a
    # replayed signal that was false is false again, and one that was true had caused a
    # transition, which was written with its time.
    was_inactive = saved.get("alert", {}).get("phase", Phase.INACTIVE.value) == Phase.INACTIVE
    stays_inactive = was_inactive and state.phase is Phase.INACTIVE and event is Event.NONE
    if not stays_inactive and saved.get("alert") != state.to_json():
        store.set(key, {"alert": state.to_json(), "cooldowns": cooldowns})


def _evidence(signal: Signal) -> dict[str, Any]:
    evidence: dict[str, Any] = {"signal_id": signal.id, "ts": format_ts(signal.ts_ms)}
    if signal.window_start_ms is not None:
        evidence["window_start"] = format_ts(signal.window_start_ms)
        evidence["values"] = dict(signal.values)
    if signal.record is not None:
        evidence["record"] = signal.record
    return evidence


def _action(
    rule: CompiledRule,
    signal: Signal,
    context: Mapping[str, Any],
    key: str,
    index: int,
    status: str,
    starts_ms: int,
) -> Action:
    config = rule.rule.actions[index]
    template_context = {
        **context,
        "rule_id": rule.id,
        "severity": rule.rule.severity,
        "status": status,
    }
    annotations = {
        name: render_template(text, template_context)
        for name, text in rule.rule.annotations.items()
    }
    summary = annotations.get("summary") or rule.rule.description or rule.id
    return Action(
        id=stable_id(rule.id, key, starts_ms, index, status),
        type=config.type,
        status="resolved" if status == "resolved" else "firing",
        rule_id=rule.id,
        rule_version=rule.version,
        severity=rule.rule.severity,
        group=dict(signal.group),
        fingerprint=key,
        labels={**rule.rule.labels, **signal.group},
        summary=summary,
        annotations=annotations,
        params={
            name: render_template(value, template_context) if isinstance(value, str) else value
            for name, value in config.params.items()
        },
        evidence=[_evidence(signal)],
        starts_at=format_ts(starts_ms),
        ts=format_ts(signal.ts_ms),
    )
