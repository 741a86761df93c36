"""Run rule test cases through the production cores (:func:`streams.offline.run_offline`)
and compare the actions decided with the expected ones.

Each case is one run on a fresh state, virtual time starting at
:data:`~streams.ruletest.load.START_MS`. An eval at ``T`` checks the actions decided
(the action's event time, ``ts``: a window's end, a record's time) after the previous
eval of the case and up to ``T``: order does not matter; every expected action must
match one action, and — unless ``partial`` — every action must be expected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from processors.records import Action
from processors.rules.compiler import CompiledRulebook, MatcherKind, compile_rulebook
from processors.rules.loader import LoadResult, load_rules
from processors.rules.rule_errors import RuleError
from processors.timestamps import parse_ts_ms
from streams.ingest import SOURCES
from streams.offline import run_offline
from streams.ruletest.load import START_MS, Case, Eval, RuleTest, load_test_file
from streams.ruletest.spec import ExpectedAction

IDLE_TIMEOUT_MS = 30_000  # the worker's default (OPSRULES_IDLE_TIMEOUT_S)


@dataclass(frozen=True, slots=True)
class EvalResult:
    eval: Eval
    since_ms: int | None  # the previous eval's time; None for the first
    matched: list[tuple[ExpectedAction, Action]]
    missing: list[ExpectedAction]
    unexpected: list[Action]  # actions nobody expected (allowed when partial)

    @property
    def ok(self) -> bool:
        return not self.missing and (self.eval.partial or not self.unexpected)


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    evals: list[EvalResult]
    problems: list[str]  # input the engine refused (a bug: load checks every record)
    duration_s: float
    fired: frozenset[str]  # rules that fired up to the last eval
    # rules that saw a window of matching records (window rules), or were fed records of
    # their source (any other rule)
    evaluated: frozenset[str]

    @property
    def ok(self) -> bool:
        return not self.problems and all(e.ok for e in self.evals)


@dataclass(slots=True)
class FileResult:
    path: str
    cases: list[CaseResult] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)  # a broken file runs nothing


class Rulebooks:
    """Loads and compiles each distinct set of rule files once."""

    def __init__(self, matcher: MatcherKind) -> None:
        self.matcher = matcher
        self.loaded: dict[tuple[Path, ...], LoadResult] = {}
        self.compiled: dict[tuple[Path, ...], CompiledRulebook] = {}

    def load(self, paths: tuple[Path, ...]) -> LoadResult:
        if paths not in self.loaded:
            self.loaded[paths] = load_rules(list(paths))
        return self.loaded[paths]

    def rulebook(self, paths: tuple[Path, ...]) -> CompiledRulebook:
        if paths not in self.compiled:
            loaded = self.load(paths)
            self.compiled[paths] = compile_rulebook(
                loaded.rules, matcher=self.matcher, policies=loaded.policies
            )
        return self.compiled[paths]


def run_test_files(
    paths: Sequence[Path], rules_dir: Path, matcher: MatcherKind = "durable_rules"
) -> list[FileResult]:
    rulebooks = Rulebooks(matcher)
    results = []
    for path in paths:
        test = load_test_file(path, rules_dir, rulebooks.load)
        if not isinstance(test, RuleTest):
            results.append(FileResult(str(path), errors=test))
            continue
        rulebook = rulebooks.rulebook(test.rule_paths)
        results.append(FileResult(test.path, [run_case(case, rulebook) for case in test.cases]))
    return results


def run_case(case: Case, rulebook: CompiledRulebook) -> CaseResult:
    started = time.perf_counter()
    last_eval_ms = case.evals[-1].eval_at_ms
    graces = [feed.spec.grace_ms for feed in rulebook.feeds.values()]
    graces += [slo.grace_ms for plan in rulebook.sources.values() for slo in plan.slos]
    grace_ms = max(graces, default=0)
    # Long enough for every window ending at the last eval to close, also on a
    # partition whose records stopped earlier (it moves on by idleness).
    flush_ms = max(last_eval_ms - case.last_record_ms, 0) + grace_ms + 2 * IDLE_TIMEOUT_MS
    run = run_offline(rulebook, case.records, idle_timeout_ms=IDLE_TIMEOUT_MS, flush_ms=flush_ms)
    problems = [f"{role} record refused: {why.reason}: {why.message}" for role, why in run.rejected]
    if run.late:
        problems.append(f"{run.late} input record(s) arrived after their windows closed")
    evals = []
    since_ms: int | None = None
    for spec in case.evals:
        got = [a for a in run.actions if _in_span(offset_ms(a), since_ms, spec.eval_at_ms)]
        evals.append(_compare(spec, since_ms, got))
        since_ms = spec.eval_at_ms
    checked = [a for a in run.actions if offset_ms(a) <= last_eval_ms]
    in_signals = {rule_id for signal in run.signals for rule_id in signal.rules}
    fed = {SOURCES[role] for role, _ in case.records if role in SOURCES}
    if run.signals:
        fed.add("signal")  # rules on signals saw the signals the case made

    evaluated = {
        rule_id
        for rule_id, rule in rulebook.rules.items()
        if (rule_id in in_signals if rule.spec_id is not None else rule.rule.source in fed)
    }
    return CaseResult(
        case,
        evals,
        problems,
        time.perf_counter() - started,
        fired=frozenset(a.rule_id for a in checked if a.status == "firing"),
        evaluated=frozenset(evaluated),
    )


def offset_ms(action: Action) -> int:
    """When the action was decided, from the case start."""
    return parse_ts_ms(action.ts) - START_MS


def _in_span(at_ms: int, since_ms: int | None, until_ms: int) -> bool:
    return (since_ms is None or at_ms > since_ms) and at_ms <= until_ms


def matches(expected: ExpectedAction, action: Action) -> bool:
    return (
        action.rule_id == expected.rule
        and action.type == expected.type
        and action.status == expected.status
        and (expected.group is None or action.group == expected.group)
        and (expected.summary is None or expected.summary in action.summary)
        and (expected.at_ms is None or offset_ms(action) == expected.at_ms)
        and (
            expected.params is None
            or all(
                name in action.params and action.params[name] == value
                for name, value in expected.params.items()
            )
        )
    )


def _compare(spec: Eval, since_ms: int | None, got: list[Action]) -> EvalResult:
    """A maximum matching of expected to actual actions (augmenting paths: an expected
    action that fits several actions must not take the only fit of another)."""
    owner: dict[int, int] = {}  # action index -> expected index

    def assign(e: int, seen: set[int]) -> bool:
        for a, action in enumerate(got):
            if a in seen or not matches(spec.expect[e], action):
                continue
            seen.add(a)
            if a not in owner or assign(owner[a], seen):
                owner[a] = e
                return True
        return False

    unmatched = [e for e in range(len(spec.expect)) if not assign(e, set())]
    taken = {e: a for a, e in owner.items()}
    return EvalResult(
        eval=spec,
        since_ms=since_ms,
        matched=[(spec.expect[e], got[a]) for e, a in sorted(taken.items())],
        missing=[spec.expect[e] for e in unmatched],
        unexpected=[action for a, action in enumerate(got) if a not in owner],
    )
