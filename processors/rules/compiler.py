"""Loaded rules → what each tier runs.

The firehose gets, per source, the **window feeds** (one per distinct match / value /
window / group_by: rules that share them share one set of windows, and the stats to
compute are the union of what those rules need) and the **record rules** (no window:
every matching record is a signal), and the **rule types** beyond thresholds: the
typed rules of the source, the sequence steps matched on its records and, on the
source ``signal``, the sequence joins (run by :mod:`processors.firehose.typed_rules`), and
the SLOs whose events it counts, and (on ``signal``) every SLO, whose counts it adds up
(:class:`SloPlan`, run by :mod:`processors.firehose.slos`).
The decision tier gets each rule's condition, timing and actions. Nothing here needs
code when a rule is added.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from processors.aggregate import STATS
from processors.ids import stable_id
from processors.rules.durable_rules_matcher import DurableRulesMatcher
from processors.rules.expressions import compile_expr, fields, parse, render
from processors.rules.loader import LoadedRule
from processors.rules.matcher import CompiledMatcher, ConditionMatcher
from processors.rules.model import Rule
from processors.rules.policies import NO_POLICIES, Policies
from processors.rules.rule_types import (
    AutoscaleRuleConfig,
    CanaryCheckConfig,
    CanaryRuleConfig,
)
from processors.rules.templates import rule_templates, template_fields
from processors.windowing import WindowSpec

Record = Mapping[str, Any]
Getter = Callable[[Record], Any]

# How many empty windows a series keeps emitting after its last record: enough for a
# firing alert to see false windows for its keep_firing_for and resolve.
MIN_EMPTY_WINDOWS = 2


@dataclass(frozen=True, slots=True)
class Timing:
    """What the alert state machine (processors/decisions/alert_state.py) needs of a rule."""

    for_ms: int
    keep_firing_for_ms: int
    resolves: bool  # False for rules on single records


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    version: str
    match: Getter
    condition: Getter
    group_getters: tuple[tuple[str, Getter], ...]
    timing: Timing
    spec_id: str | None  # the window feed of a windowed rule; "slo:<id>" for an SLO's
    # rule types: the fields change / cardinality / new_term read (firehose/typed_rules.py)
    values: tuple[Getter, ...] = ()

    @property
    def id(self) -> str:
        return self.rule.id

    def group_of(self, record: Record) -> dict[str, str]:
        return {name: group_text(get(record)) for name, get in self.group_getters}


@dataclass(frozen=True, slots=True)
class WindowFeed:
    """Records of one source that ``match`` go into one window per series."""

    spec: WindowSpec
    source: str
    match: Getter
    value: Getter
    group_by: tuple[str, ...]
    group_getters: tuple[tuple[str, Getter], ...]
    rule_ids: tuple[str, ...]

    def number(self, record: Record) -> float | None:
        """The record's value for the window; None skips it (missing or not a number)."""
        value = self.value(record)
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        return None


@dataclass(frozen=True, slots=True)
class SequenceStepPlan:
    """One step of a sequence rule, run on the records of its source: ``join`` gets
    each ``group_by`` value (the join key) from them."""

    rule_id: str
    index: int
    match: Getter
    group_by: tuple[str, ...]
    join: tuple[Getter, ...]


@dataclass(frozen=True, slots=True)
class SloPlan:
    """One SLO (the two rules of ``type: slo`` made from its entry): which records are
    its events (``total``), which of them are bad, and the rules its signals feed."""

    slo_id: str
    source: str
    total: Getter
    bad: Getter
    events: Getter  # how many events a record counts as
    objective: float
    window_ms: int
    grace_ms: int
    group_by: tuple[str, ...]
    group_getters: tuple[tuple[str, Getter], ...]
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AutoscalePlan:
    """One autoscaler (its rule of ``type: autoscale``): which records are its metric,
    the replica each names, and HPA's settings."""

    rule_id: str
    source: str
    match: Getter
    per: Getter
    value: Getter
    config: AutoscaleRuleConfig


@dataclass(frozen=True, slots=True)
class CanaryCheckPlan:
    """One check of a canary analysis: its samples (of its own source) and numbers."""

    name: str
    source: str
    match: Getter
    value: Getter
    track: Getter
    config: CanaryCheckConfig


@dataclass(frozen=True, slots=True)
class CanaryPlan:
    """One canary analysis (its rules of ``type: canary``): the deploy events that open
    it, the samples of its checks, and its verdicts' rules."""

    canary_id: str
    deploys: Getter
    config: CanaryRuleConfig
    checks: tuple[CanaryCheckPlan, ...]
    rule_ids: tuple[tuple[str, str], ...]  # (verdict, rule id) of the enabled ones


@dataclass(frozen=True, slots=True)
class SourcePlan:
    feeds: tuple[WindowFeed, ...]
    record_rules: tuple[CompiledRule, ...]
    # rule types (processors/firehose/typed_rules.py): the rules of a type beyond thresholds on
    # this source (not sequence), the sequence steps on it, and (source "signal") the
    # sequence rules whose joins run on the signals topic
    typed: tuple[CompiledRule, ...] = ()
    steps: tuple[SequenceStepPlan, ...] = ()
    sequences: tuple[CompiledRule, ...] = ()
    slos: tuple[SloPlan, ...] = ()  # SLOs whose events this source's records are
    slo_merges: tuple[SloPlan, ...] = ()  # (source "signal") every SLO, to add up its counts
    autoscalers: tuple[AutoscalePlan, ...] = ()  # autoscalers whose metric these records are
    autoscale_merges: tuple[AutoscalePlan, ...] = ()  # (source "signal") every autoscaler
    canary_deploys: tuple[CanaryPlan, ...] = ()  # analyses these records' deploys open
    canary_checks: tuple[tuple[CanaryPlan, CanaryCheckPlan], ...] = ()  # checks sampled here
    canary_merges: tuple[CanaryPlan, ...] = ()  # (source "signal") every canary analysis


@dataclass(frozen=True, slots=True)
class CompiledRulebook:
    rules: Mapping[str, CompiledRule]
    feeds: Mapping[str, WindowFeed]  # by spec id
    sources: Mapping[str, SourcePlan]
    matcher: ConditionMatcher  # decides windowed rules' conditions
    policies: Policies = NO_POLICIES  # inhibit_rules and maintenance_windows of every file

    def plan(self, source: str) -> SourcePlan:
        return self.sources.get(source, _EMPTY_PLAN)

    @property
    def reads_signals(self) -> bool:
        """Some rule runs on the signals topic (``source: signal``, or a sequence's join):
        the firehose reads it too."""
        return "signal" in self.sources


_EMPTY_PLAN = SourcePlan((), ())


def group_text(value: Any) -> str:
    """A group_by value as text (``None`` → empty, ``3.0`` → ``3``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def condition_context(
    rule: CompiledRule, values: Mapping[str, Any], group: Mapping[str, Any]
) -> dict[str, Any]:
    """What an evaluated rule's condition and templates see, in both tiers: every stat of
    the window by name (``count`` included), the ``group_by`` values, and ``value``, the
    rule's stat; an SLO's rule sees its signal's values (burn rates, budget) and the
    SLO's id and objective (``slo``, ``objective``)."""
    context = {**values, **group, "value": values.get(rule.rule.stat)}
    slo = rule.rule.slo
    if slo is not None:
        context["slo"], context["objective"] = slo.slo, slo.objective
    return context


def _getter(text: str) -> Getter:
    return compile_expr(parse(text))


def _type_values(rule: Rule) -> tuple[Getter, ...]:
    if rule.change is not None:
        return (_getter(rule.change.field),)
    if rule.cardinality is not None:
        return (_getter(rule.cardinality.field),)
    if rule.new_term is not None:
        return tuple(_getter(path) for path in rule.new_term.fields)
    if rule.unfinished is not None:
        return (_getter(rule.unfinished.start), _getter(rule.unfinished.end))
    if rule.slo is not None:
        return (_getter(rule.slo.bad), _getter(rule.slo.events))
    return ()


def _steps(rule: Rule) -> list[tuple[str, SequenceStepPlan]]:
    """A sequence rule's steps, by the source they run on."""
    if rule.sequence is None:
        return []
    return [
        (
            step.source,
            SequenceStepPlan(
                rule_id=rule.id,
                index=index,
                match=_getter(step.match),
                group_by=tuple(rule.group_by),
                join=tuple(_getter(step.fields.get(name, name)) for name in rule.group_by),
            ),
        )
        for index, step in enumerate(rule.sequence.steps)
    ]


def _slo_plan(rules: Sequence[CompiledRule]) -> SloPlan:
    """The SLO of its enabled rules (one or both of ``_page``, ``_ticket``)."""
    first = rules[0]
    slo = first.rule.slo
    assert slo is not None
    return SloPlan(
        slo_id=slo.slo,
        source=first.rule.source,
        total=first.match,
        bad=first.values[0],
        events=first.values[1],
        objective=slo.objective,
        window_ms=slo.window_ms,
        grace_ms=slo.grace_ms,
        group_by=tuple(first.rule.group_by),
        group_getters=first.group_getters,
        rule_ids=tuple(rule.id for rule in rules),
    )


def _canary_plan(rules: Sequence[CompiledRule]) -> CanaryPlan:
    """The analysis of its enabled rules (one or both of ``_rollback``, ``_promote``)."""
    first = rules[0]
    config = first.rule.canary
    assert config is not None
    return CanaryPlan(
        canary_id=config.canary,
        deploys=first.match,
        config=config,
        checks=tuple(
            CanaryCheckPlan(
                check.name,
                check.source,
                _getter(check.match),
                _getter(check.value or "1"),
                _getter(check.track or config.track),
                check,
            )
            for check in config.checks
        ),
        rule_ids=tuple(
            (rule.rule.canary.verdict, rule.id) for rule in rules if rule.rule.canary is not None
        ),
    )


MatcherKind = Literal["durable_rules", "compiled"]
_MATCHERS: dict[tuple[str, tuple[tuple[str, str], ...]], ConditionMatcher] = {}


def condition_matcher(rules: Iterable[Rule], kind: MatcherKind) -> ConditionMatcher:
    """The matcher for the windowed rules' conditions; one per distinct set of conditions
    in the process (durable_rules rulesets are process-global and never freed, so an
    unchanged rulebook reuses its ruleset)."""
    conditions = tuple(sorted((r.id, r.condition) for r in rules if r.evaluated))
    key = (kind, conditions)
    matcher = _MATCHERS.get(key)
    if matcher is None:
        trees = {rule_id: parse(text) for rule_id, text in conditions}
        if kind == "compiled":
            matcher = CompiledMatcher(trees)
        else:
            matcher = DurableRulesMatcher(trees, name=f"opsrules_{len(_MATCHERS)}")
        _MATCHERS[key] = matcher
    return matcher


def stats_named(rule: Rule) -> set[str]:
    """The window stats a windowed rule reads: its ``stat`` (``value``), and every stat
    its condition or its templates name (``max - min > 0.4`` with ``stat: max`` needs
    ``min`` too), whatever ``stat`` says."""
    assert rule.window is not None
    named = fields(parse(rule.condition))
    for _, text in rule_templates(rule):
        named |= template_fields(text)
    return {rule.window.stat} | (named & set(STATS))


def compile_rulebook(
    loaded: Sequence[LoadedRule],
    *,
    matcher: MatcherKind = "durable_rules",
    policies: Policies | None = None,
) -> CompiledRulebook:
    """``matcher``: durable_rules decides windowed conditions (docs/architecture.md, "The
    rule engine"); ``compiled`` uses our closures alone (same results, ~25x less time per
    evaluation; see tests/processors/rules/test_matcher.py). ``policies``: the loaded
    files' inhibit_rules and maintenance_windows (``LoadResult.policies``)."""
    rules: dict[str, CompiledRule] = {}
    feed_parts: dict[str, dict[str, Any]] = {}
    record_rules: dict[str, list[CompiledRule]] = {}
    typed: dict[str, list[CompiledRule]] = {}  # rule types, by source
    steps: dict[str, list[SequenceStepPlan]] = {}
    slos: dict[str, list[CompiledRule]] = {}  # by SLO id
    scalers: list[AutoscalePlan] = []
    canaries: dict[str, list[CompiledRule]] = {}  # by canary id
    for item in loaded:
        rule = item.rule
        if not rule.enabled:
            continue
        groups = tuple((name, _getter(name)) for name in rule.group_by)
        spec_id = None
        if rule.window is not None:
            window = rule.window
            hop_ms = window.hop_ms or window.size_ms
            match_text, value_text = render(parse(rule.match)), render(parse(rule.window_value))
            spec_id = stable_id(
                rule.source,
                match_text,
                value_text,
                window.size_ms,
                hop_ms,
                window.grace_ms,
                *rule.group_by,
            )[:16]
            part = feed_parts.setdefault(
                spec_id,
                {
                    "rule": rule,
                    "hop_ms": hop_ms,
                    "stats": set(),
                    "rule_ids": [],
                    "empty": 0,
                    "groups": groups,
                },
            )
            part["stats"] |= stats_named(rule)
            part["rule_ids"].append(rule.id)
            keep_windows = math.ceil(rule.keep_firing_ms / hop_ms) + MIN_EMPTY_WINDOWS
            part["empty"] = max(part["empty"], keep_windows)
        elif rule.slo is not None:
            spec_id = f"slo:{rule.slo.slo}"
        compiled = CompiledRule(
            rule=rule,
            version=item.version,
            match=_getter(rule.match),
            condition=_getter(rule.condition),
            group_getters=groups,
            timing=Timing(
                for_ms=rule.for_ms,
                keep_firing_for_ms=rule.keep_firing_ms,
                resolves=rule.evaluated,
            ),
            spec_id=spec_id,
            values=_type_values(rule),
        )
        rules[rule.id] = compiled
        if rule.slo is not None:
            slos.setdefault(rule.slo.slo, []).append(compiled)
        elif rule.canary is not None:
            canaries.setdefault(rule.canary.canary, []).append(compiled)
        elif rule.autoscale is not None:
            a = rule.autoscale
            scalers.append(
                AutoscalePlan(
                    rule.id, rule.source, compiled.match, _getter(a.per), _getter(a.value), a
                )
            )
        elif rule.type != "threshold":
            typed.setdefault(rule.source, []).append(compiled)
            for step in _steps(rule):
                steps.setdefault(step[0], []).append(step[1])
        elif spec_id is None:
            record_rules.setdefault(rule.source, []).append(compiled)
    feeds: dict[str, WindowFeed] = {}
    for spec_id, part in feed_parts.items():
        rule = part["rule"]
        assert rule.window is not None
        feeds[spec_id] = WindowFeed(
            spec=WindowSpec(
                spec_id=spec_id,
                size_ms=rule.window.size_ms,
                hop_ms=part["hop_ms"],
                grace_ms=rule.window.grace_ms,
                stats=frozenset(part["stats"] | {"count"}),
                empty_windows=part["empty"],
            ),
            source=rule.source,
            match=_getter(rule.match),
            value=_getter(rule.window_value),
            group_by=tuple(rule.group_by),
            group_getters=part["groups"],
            rule_ids=tuple(part["rule_ids"]),
        )
    slo_plans = [_slo_plan(of_slo) for of_slo in slos.values()]
    sources: dict[str, SourcePlan] = {}
    used = {f.source for f in feeds.values()} | set(record_rules) | set(typed) | set(steps)
    used |= {plan.source for plan in slo_plans} | {plan.source for plan in scalers}
    canary_plans = [_canary_plan(of_canary) for of_canary in canaries.values()]
    used |= {"event"} if canary_plans else set()
    used |= {check.source for plan in canary_plans for check in plan.checks}
    used |= {"signal"} if slo_plans or scalers or canary_plans else set()
    for source in used:
        of_type = typed.get(source, ())
        sources[source] = SourcePlan(
            feeds=tuple(f for f in feeds.values() if f.source == source),
            record_rules=tuple(record_rules.get(source, ())),
            typed=tuple(r for r in of_type if r.rule.type != "sequence"),
            steps=tuple(steps.get(source, ())),
            sequences=tuple(r for r in of_type if r.rule.type == "sequence"),
            slos=tuple(plan for plan in slo_plans if plan.source == source),
            slo_merges=tuple(slo_plans) if source == "signal" else (),
            autoscalers=tuple(plan for plan in scalers if plan.source == source),
            autoscale_merges=tuple(scalers) if source == "signal" else (),
            canary_deploys=tuple(canary_plans) if source == "event" else (),
            canary_checks=tuple(
                (plan, check)
                for plan in canary_plans
                for check in plan.checks
                if check.source == source
            ),
            canary_merges=tuple(canary_plans) if source == "signal" else (),
        )
    enabled = [item.rule for item in loaded if item.rule.enabled]
    return CompiledRulebook(
        rules=rules,
        feeds=feeds,
        sources=sources,
        matcher=condition_matcher(enabled, matcher),
        policies=policies or NO_POLICIES,
    )
