"""The reference interpreter: rule files and records in, the actions rules/README.md says
must follow out.

Deliberately simple and slow. Records are read in the order given (the order they
arrive on their topics; one partition per topic). Each windowed rule keeps every record
it accepted, and each window's stats are recomputed from the records in it when it is
evaluated; alerts, matches and noise control are plain state machines. Whatever the
README leaves open raises :class:`Unsettled` (see ``expressions``), and a differential
test sets that case aside.

Time: a window closes when its partition's event time (the latest record of the topic
minus the window's ``grace``) passes its end; a record arriving for a closed window is
late and counts nowhere. Windows are evaluated up to ``until_ms`` (their end at most
``until_ms``): the caller picks a time by which the production run surely closed them.
Idle partitions moving on with processing time are not modelled: callers send streams in
which that cannot change an outcome.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.reference.alerts import FIRING, RESOLVED, MatchAlert, WindowedAlert
from tests.reference.expressions import Unsettled, evaluate, truth
from tests.reference.noise import ActionGate
from tests.reference.rule_types import TypedRule, typed_rule
from tests.reference.rulefile import SOURCE_OF_ROLE, Action, Group, Rule, group_of, read_rules
from tests.reference.windows import Between, Entry, stats, window_starts


@dataclass(frozen=True, order=True)
class ExpectedAction:
    """An action as the README says it must be sent: its event time is a window's end, a
    matching record's time, or the moment a rule type judged."""

    rule_id: str
    group: Group
    type: str
    status: str
    ts_ms: int


@dataclass
class _Series:
    """One ``group_by`` series of a windowed rule: the records it accepted."""

    entries: list[Entry] = field(default_factory=list)
    starts: set[int] = field(default_factory=set)  # windows holding an accepted record


@dataclass
class _Due:
    """An alert firing or resolving, before noise control."""

    rule: Rule
    group: Group
    status: str
    ts_ms: int


@dataclass(frozen=True)
class _Evaluation:
    """One evaluation of an alert, for the closed loop: a window's end (or a match's
    time), whether the condition held, whether the alert fires afterwards."""

    ts_ms: int
    holds: bool
    firing: bool


Timeline = dict[tuple[str, Group], list[_Evaluation]]


def interpret(
    files: list[Mapping[str, Any]],
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    until_ms: int,
) -> list[ExpectedAction]:
    """Every action sent with an event time up to ``until_ms``, sorted."""
    rules = read_rules(files)
    latest: dict[str, int] = {}  # topic role -> its latest event time so far
    series: dict[str, dict[Group, _Series]] = {rule.id: {} for rule in rules}
    matched: dict[tuple[str, Group], MatchAlert] = {}
    typed: dict[str, TypedRule] = {
        rule.id: typed_rule(rule) for rule in rules if rule.type != "threshold"
    }
    due: list[_Due] = []
    timeline: Timeline = {}
    for arrival, (role, record) in enumerate(records):
        source = SOURCE_OF_ROLE[role]
        ts_ms = int(record["ts"])
        fields = {key: value for key, value in record.items() if key != "ts"} | {"ts_ms": ts_ms}
        before = latest.get(role)
        now_ms = max([ts_ms, *latest.values()])  # processing time, as the offline run's
        for rule in rules:
            if rule.id in typed:
                if source in typed[rule.id].sources:
                    firings = typed[rule.id].record(
                        fields, ts_ms, before, source=source, now_ms=now_ms
                    )
                    due.extend(_Due(rule, group, FIRING, ts) for ts, group in firings)
                continue
            if rule.source != source:
                continue
            if not truth(rule.match, fields):
                continue
            group = group_of(rule, fields)
            if rule.window is None:
                if truth(rule.condition, fields):
                    alert = matched.setdefault((rule.id, group), MatchAlert(rule.keep_firing_ms))
                    timeline.setdefault((rule.id, group), []).append(
                        _Evaluation(ts_ms, holds=True, firing=True)
                    )
                    if alert.match(ts_ms) == FIRING:
                        due.append(_Due(rule, group, FIRING, ts_ms))
                continue
            starts = _open_windows(rule, ts_ms, before)
            if starts:
                each = series[rule.id].setdefault(group, _Series())
                each.starts.update(starts)
                number = _number(rule, fields)
                each.entries.append(Entry(ts_ms, arrival, number, frozenset(starts)))
        latest[role] = ts_ms if before is None else max(before, ts_ms)
    for rule in rules:
        if rule.window is not None:
            for group, each in series[rule.id].items():
                due.extend(_evaluate(rule, group, each, until_ms, timeline))
        if rule.id in typed:
            partition_ms = latest.get(_role(rule.source) or "")  # none for source: signal
            for ts, group in typed[rule.id].finish(until_ms, partition_ms):
                due.append(_Due(rule, group, FIRING, ts))
    return sorted(a for a in _send(due, timeline) if a.ts_ms <= until_ms)


def _role(source: str) -> str | None:
    return next((role for role, each in SOURCE_OF_ROLE.items() if each == source), None)


def _open_windows(rule: Rule, ts_ms: int, partition_ms: int | None) -> list[int]:
    """Starts of the windows of ``rule`` holding ``ts_ms`` that are still open, given the
    partition's latest event time before this record; the record is late for the rest."""
    assert rule.window is not None
    window = rule.window
    starts = []
    for start in window_starts(ts_ms, window.size_ms, window.hop_ms):
        end = start + window.size_ms
        if partition_ms is None or partition_ms - window.grace_ms < end:
            starts.append(start)
    return starts


def _number(rule: Rule, fields: Mapping[str, Any]) -> float:
    """The record's number for the window's stats; booleans count as 1/0."""
    assert rule.window is not None
    value = evaluate(rule.window.value, fields)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    raise Unsettled(f"a window value of {value!r}")


def _evaluate(
    rule: Rule, group: Group, series: _Series, until_ms: int, timeline: Timeline
) -> list[_Due]:
    """Every window of the series from its first to the last ending by ``until_ms``,
    empty ones included ("a series that stops sending produces empty windows")."""
    assert rule.window is not None
    window = rule.window
    alert = WindowedAlert(rule.for_ms, rule.keep_firing_ms)
    out = []
    start = min(series.starts)
    while start + window.size_ms <= until_ms:
        end = start + window.size_ms
        # A record counts in the windows still open when it came, not in those it was late for.
        inside = [e for e in series.entries if start in e.starts]
        values = stats(inside, window.size_ms)
        # "empty windows (count 0, other stats missing: the condition is false)", even a
        # condition that would hold on count 0 (count < 5).
        active = bool(inside) and _condition(rule, group, values)
        status = alert.evaluate(start, end, active)
        timeline.setdefault((rule.id, group), []).append(_Evaluation(end, active, alert.firing))
        if status is not None:
            out.append(_Due(rule, group, status, end))
        start += window.hop_ms
    return out


def _condition(rule: Rule, group: Group, values: Mapping[str, Any]) -> bool:
    """The condition over ``value``, every stat by name and the group_by fields; a
    quantile known only to a range must give one answer over the whole range."""
    assert rule.window is not None
    context: dict[str, Any] = {}
    for path, value in group:
        _set(context, path, value)
    named = {**values, "value": values[rule.window.stat]}
    ranged = [name for name, value in named.items() if isinstance(value, Between)]
    answers = set()
    for ends in itertools.product((0, 1), repeat=len(ranged)):
        chosen = dict(named)
        for name, end in zip(ranged, ends, strict=True):
            bounds = named[name]
            chosen[name] = bounds.high if end else bounds.low
        answers.add(truth(rule.condition, {**context, **chosen}))
    if len(answers) > 1:
        raise Unsettled(f"a quantile's definition decides the condition ({ranged})")
    return answers.pop()


def _set(context: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = context
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _send(due: list[_Due], timeline: Timeline) -> list[ExpectedAction]:
    """Noise control per alert, in event time: firing actions pass their cooldown or
    realert; a resolved notification goes only for alert actions whose firing went out;
    a verified action that went out may escalate (:func:`_escalation`)."""
    out: list[ExpectedAction] = []
    gates: dict[tuple[str, Group, int], ActionGate] = {}
    went_out: dict[tuple[str, Group], list[int]] = {}
    for item in sorted(due, key=lambda d: d.ts_ms):
        rule, group = item.rule, item.group
        if item.status == FIRING:
            sent = []
            for index, action in enumerate(rule.actions):
                gate = gates.setdefault((rule.id, group, index), ActionGate(action))
                if gate.passes(item.ts_ms):
                    sent.append(index)
                    out.append(ExpectedAction(rule.id, group, action.type, FIRING, item.ts_ms))
                    history = timeline.get((rule.id, group), [])
                    escalation = _escalation(rule, group, action, item.ts_ms, history)
                    if escalation is not None:
                        out.append(escalation)
            went_out[(rule.id, group)] = sent
        else:
            for index in went_out.pop((rule.id, group), []):
                if rule.actions[index].type == "alert":
                    out.append(ExpectedAction(rule.id, group, "alert", RESOLVED, item.ts_ms))
    return out


def _escalation(
    rule: Rule, group: Group, action: Action, sent_ms: int, history: list[_Evaluation]
) -> ExpectedAction | None:
    """rules/README.md "Closed loop": a verified action "escalates once: if the condition
    still holds `after` the action", checked on time. Still holds: for a windowed rule,
    "the alert still fires and its last window ending by then was true" ("a verification
    ends with its alert": a resolution in between settles it); for a rule on single
    records, "the rule matched again after the heal". The escalation's time is the
    check's."""
    if action.verify_after_ms is None or action.escalate_type is None:
        return None
    due_ms = sent_ms + action.verify_after_ms
    since = [e for e in history if sent_ms < e.ts_ms <= due_ms]
    if rule.window is not None:
        upto = [e for e in history if e.ts_ms <= due_ms]
        if not upto or not all(e.firing for e in since):
            return None
        still = upto[-1].holds and upto[-1].firing
    else:
        still = bool(since)
    if not still:
        return None
    return ExpectedAction(rule.id, group, action.escalate_type, FIRING, due_ms)
