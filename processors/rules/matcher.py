"""Which rules' conditions hold for a context: the :class:`ConditionMatcher` protocol and
:class:`CompiledMatcher`, our own closures.

Two matchers decide windowed rules' conditions. :class:`CompiledMatcher` runs the
closures of :mod:`~processors.rules.expressions`, which are the reference semantics;
:class:`~processors.rules.durable_rules_matcher.DurableRulesMatcher` (in
:mod:`~processors.rules.durable_rules_matcher`, the only module that imports ``durable``)
compiles each condition into one rule of a durable_rules ruleset. Both answer
:meth:`ConditionMatcher.matching` identically on every context, which the tests check
over tables and random contexts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from processors.rules.expressions import Node, compile_expr

__all__ = ["CompiledMatcher", "ConditionMatcher", "Context"]

Context = Mapping[str, Any]


class ConditionMatcher(Protocol):
    def matching(self, rule_ids: Sequence[str], context: Context) -> set[str]:
        """The ids among ``rule_ids`` whose condition holds for ``context``; ids of no
        known rule are ignored (a signal of a rule removed since)."""
        ...


class CompiledMatcher:
    """Our own compiled closures: the reference semantics."""

    def __init__(self, conditions: Mapping[str, Node]) -> None:
        self._conditions = {rule_id: compile_expr(node) for rule_id, node in conditions.items()}

    def matching(self, rule_ids: Sequence[str], context: Context) -> set[str]:
        conditions = self._conditions
        return {
            rule_id
            for rule_id in rule_ids
            if (holds := conditions.get(rule_id)) is not None and holds(context)
        }
