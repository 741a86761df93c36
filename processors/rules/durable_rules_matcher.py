"""Which rules' conditions hold for a context, decided by durable_rules.

This is the only module that imports ``durable``. :class:`DurableRulesMatcher` compiles
each condition (an :mod:`~processors.rules.expressions` tree) into one rule of a
durable_rules ruleset, from the formula :mod:`~processors.rules.durable_translation`
makes of it. It answers ``matching`` exactly as
:class:`~processors.rules.matcher.CompiledMatcher` (our closures, the reference
semantics) on every context, which the tests check over tables and random contexts.

durable_rules cannot see a context as it is: it compares mixed types by coercion
(``"a" > 0``, ``1 == true``), a missing field never satisfies ``!=``, its JSON reader
refuses exponents (``1e-05``), strings compare with ``strncmp`` over the raw JSON text,
and values of 64 KiB or more overflow a 16-bit length. So we post an **encoding**: each
field a condition reads is resolved by our own getter (dotted keys and all) and posted
as one ASCII string whose order and equality are exactly ours
(:mod:`~processors.rules.durable_encoding` describes it).

Every referenced field is always posted, so every test is a comparison of two present
strings and ``not`` is exact by flipping operators (De Morgan for ``and``/``or``).
What the encoding cannot carry exactly falls back to our closures, per rule, with the
reason in :attr:`DurableRulesMatcher.fallback_reasons`: arithmetic, ``matches``, ``==``
between two fields, and ``not`` over ``contains``; and per context, a list compared
with anything (an array field: any element decides), which no windowed condition sees
in practice (its fields are stats and group values).

What we rely on in durable_rules 2.0.28 (measured when this module was written): an
event is consumed by the first rule it matches, so we post one event per candidate rule,
with the rule's index in ``r``; an event without ``id`` gets a hash of its text as id,
and ``1`` and ``"1"`` hash alike (``MessageObservedException``), so every event carries
a fresh ``id``; an event no rule matches raises ``MessageNotHandledException`` and is
not kept, and a matched one is released when its action returns (:meth:`retained`).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import durable.engine  # type: ignore[import-untyped]
from durable.lang import item, m, when_all  # type: ignore[import-untyped]

from processors.errors import OpsrulesError
from processors.rules.durable_encoding import ABSENT, encode_as
from processors.rules.durable_translation import (
    MAX_KEYS,
    AllOf,
    Formula,
    Test,
    Translator,
    Untranslatable,
    all_of,
    keys_of,
)
from processors.rules.expressions import Evaluator, Field, Node, compile_expr
from processors.rules.matcher import Context

__all__ = ["DurableRulesError", "DurableRulesMatcher"]


class DurableRulesError(OpsrulesError, RuntimeError):
    """durable_rules refused a ruleset or an event we built: a bug in the translation."""

    def __init__(self, ruleset: str, detail: str, rule_id: str | None = None) -> None:
        self.ruleset = ruleset
        self.rule_id = rule_id
        self.detail = detail
        where = f"ruleset {ruleset!r}" + (f", rule {rule_id!r}" if rule_id else "")
        super().__init__(
            f"durable_rules failed on {where}: {detail}\n"
            "This is a bug in processors/rules/durable_rules_matcher.py; "
            "report it with the rule's condition."
        )


class _Host(durable.engine.Host):  # type: ignore[misc]
    """durable_rules' host without its two timer threads. They poll every ruleset for
    pending actions and run one on their own thread when they poll between our assert
    and our action: ``post`` then returns before the action ran (measured with the stock
    host: 3 matches in 1.5 million posts). We use no timers; actions run inside ``post``."""

    def _run(self) -> None:
        pass


_ENGINE_ERROR: type[Exception] = durable.engine.durable_rules_engine.error  # the C engine's


@functools.cache
def _host() -> Any:
    return _Host()


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _durable(formula: Formula) -> Any:
    """A durable.lang expression. and/or become flat lists: durable.lang flattens a chain
    ``a | b | c``, and durable_rules refuses a ruleset with an ``$or`` of ``$or`` nested
    a few levels deep (error 113, measured with 30 alternatives as a balanced tree)."""
    assert not isinstance(formula, bool)
    if isinstance(formula, Test):
        prop = getattr(m, formula.key)
        if formula.op == "matches":
            return prop.matches(formula.operand)
        if formula.op == "has":
            return prop.anyItem(item == formula.operand)
        other = getattr(m, formula.operand) if formula.other else formula.operand
        return _COMPARE[formula.op](prop, other)
    combine = operator.and_ if isinstance(formula, AllOf) else operator.or_
    return functools.reduce(combine, (_durable(part) for part in formula.parts))


@dataclass(frozen=True, slots=True)
class _Compiled:
    index: str  # the event's ``r``
    keys: tuple[str, ...]  # the properties its event carries
    reference: Evaluator  # for values the encoding cannot carry


class DurableRulesMatcher:
    """Compiles each rule's condition (an expressions tree) into a durable_rules rule.

    ``name`` must be unique in the process: durable_rules registers rulesets globally and
    never forgets one (measured: ~260 KiB each, the matcher included, as the ruleset's
    action is a method of it); a reload builds a new matcher under a new name. Not
    thread-safe: one matcher serves one thread.

    ``translatable``: the rules durable_rules decides. ``fallback``: the rules it cannot
    decide exactly on every input, evaluated with our closures; ``fallback_reasons``
    says why. ``direct_evaluations`` counts (rule, context) pairs of translatable rules
    evaluated with our closures because a value could not be posted (a string over
    ``MAX_ENCODED`` bytes once encoded, a value of no JSON type).
    """

    def __init__(self, conditions: Mapping[str, Node], *, name: str) -> None:
        self.name = name
        self.fallback_reasons: dict[str, str] = {}
        self.direct_evaluations = 0
        self._references = {rule_id: compile_expr(node) for rule_id, node in conditions.items()}
        translator = Translator()
        self._rules: dict[str, _Compiled] = {}
        definition: dict[str, Any] = {}
        for rule_id, node in conditions.items():
            try:
                formula = translator.truth(node)
                keys = sorted(keys_of(formula))
                if len(keys) > MAX_KEYS:
                    raise Untranslatable(f"{len(keys)} properties: durable_rules takes {MAX_KEYS}")
            except Untranslatable as exc:
                self.fallback_reasons[rule_id] = exc.args[0]
                continue
            index = str(len(self._rules))
            selector = Test("r", "==", index)
            if formula is False:  # a rule that never holds still gets its durable rule
                formula = Test("r", "!=", index)
            formula = all_of((selector, formula))
            self._rules[rule_id] = _Compiled(index, tuple(keys), self._references[rule_id])
            definition[f"r_{index}"] = when_all(_durable(formula))(self._record).define()
        self.translatable = frozenset(self._rules)
        self.fallback = frozenset(self.fallback_reasons)
        # Our getters resolve the paths: dotted keys, nested maps, exactly as compile_expr.
        self._getters = {path: compile_expr(Field(path)) for path in translator.paths}
        self._keys = translator.keys
        self._ids = itertools.count()
        self._matched: list[str] = []
        try:
            _host().register_rulesets({name: definition})
        except _ENGINE_ERROR as exc:
            raise DurableRulesError(name, str(exc)) from None
        except Exception as exc:  # durable_rules raises a bare Exception for a taken name
            if "already registered" in str(exc):
                raise ValueError(f"a durable_rules ruleset named {name!r} exists") from None
            raise

    def retained(self) -> int:
        """Events and facts durable_rules holds for this ruleset: 0 between calls, as
        every event either matches (and is consumed) or is refused."""
        host = _host()
        return len(host.get_pending_events(self.name)) + len(host.get_facts(self.name))

    def _record(self, closure: Any) -> None:
        self._matched.append(closure.m.r)

    def matching(self, rule_ids: Sequence[str], context: Context) -> set[str]:
        matched: set[str] = set()
        values: dict[str, Any] = {}  # by path and by key: shared by the candidates
        encoded: dict[str, Any] = {}
        for rule_id in rule_ids:
            rule = self._rules.get(rule_id)
            if rule is None:  # a fallback rule, or none at all
                reference = self._references.get(rule_id)
                holds = reference is not None and bool(reference(context))
            elif (event := self._event(rule, context, values, encoded)) is not None:
                holds = self._post(rule_id, event)
            else:
                self.direct_evaluations += 1
                holds = bool(rule.reference(context))
            if holds:
                matched.add(rule_id)
        return matched

    def _event(
        self, rule: _Compiled, context: Context, values: dict[str, Any], encoded: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The event for ``rule``, or None if a value cannot be posted."""
        event: dict[str, Any] = {"id": next(self._ids), "r": rule.index}
        for key in rule.keys:
            if key not in encoded:
                kind, path = self._keys[key]
                if path not in values:
                    values[path] = self._getters[path](context)
                encoded[key] = encode_as(kind, values[path])
            value = encoded[key]
            if value is None:
                return None
            if value is not ABSENT:
                event[key] = value
        return event

    def _post(self, rule_id: str, event: dict[str, Any]) -> bool:
        matched = self._matched
        matched.clear()
        try:
            _host().post(self.name, event)
        except durable.engine.MessageNotHandledException:
            return False
        except (durable.engine.MessageObservedException, _ENGINE_ERROR) as exc:
            detail = getattr(exc, "message", None) or str(exc)
            raise DurableRulesError(self.name, detail, rule_id) from None
        if matched != [event["r"]]:
            raise DurableRulesError(self.name, f"actions ran for {matched}", rule_id)
        return True
