"""The rule types of rules/README.md "Rule types" beyond thresholds: frequency, flatline,
change, new_term, cardinality, spike and sequence (``anomaly`` needs a detector).

The interpreter hands a typed rule every record of its sources (``record``; a sequence's
are its steps') and asks for its firings at the end (``finish``). Each type keeps every
record it accepted, per ``group_by`` key, and decides its matches from them at the end
(a sequence: as they arrive, since its events expire by a clock); ``record`` only accepts,
and refuses what the README leaves open. A match fires the alert like a rule on single
records: "matches within keep_firing_for (default 5m) are the same firing, and there is
no resolved notification" (``alerts.MatchAlert``, in the order the matches are made).

Two families:

- decided on a record (frequency, change, new_term, cardinality ``above``): the match is
  at the record's time and made when it arrives, in arrival order (``typed_records``);
- judged when time has passed (flatline, cardinality ``below``, spike): "grace (default
  10s) is how long a type waits for late records before it judges a time that has
  passed", by the partition's clock (its latest record); the match is at the moment
  judged (``typed_judged``). A record arriving after its time may have been judged is
  unsettled: the README does not say what it does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from tests.reference.expressions import Unsettled
from tests.reference.rulefile import Rule
from tests.reference.typed_base import Firing, TypedBase
from tests.reference.typed_judged import Cardinality, Flatline, Spike
from tests.reference.typed_records import Change, Frequency, NewTerm
from tests.reference.typed_sequence import Sequence

KINDS: dict[str, type[TypedBase]] = {
    "frequency": Frequency,
    "flatline": Flatline,
    "change": Change,
    "new_term": NewTerm,
    "cardinality": Cardinality,
    "spike": Spike,
    "sequence": Sequence,
}


class TypedRule(Protocol):
    @property
    def sources(self) -> set[str]: ...

    def record(
        self,
        fields: Mapping[str, Any],
        ts_ms: int,
        partition_ms: int | None,
        *,
        source: str,
        now_ms: int,
    ) -> Iterator[Firing]: ...

    def finish(self, until_ms: int, partition_ms: int | None) -> Iterator[Firing]: ...


def typed_rule(rule: Rule) -> TypedRule:
    if rule.type not in KINDS:
        raise Unsettled(f"type {rule.type} is not modelled")
    return KINDS[rule.type](rule)
