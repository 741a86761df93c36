"""The rule types beyond thresholds: not modelled yet, so every case with one is set
aside (Unsettled)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from tests.reference.expressions import Unsettled
from tests.reference.rulefile import Rule


class TypedRule(Protocol):
    def record(
        self, fields: Mapping[str, Any], ts_ms: int, partition_ms: int | None
    ) -> Iterator[tuple[int, tuple[tuple[str, str], ...]]]: ...

    def finish(
        self, until_ms: int, partition_ms: int | None
    ) -> Iterator[tuple[int, tuple[tuple[str, str], ...]]]: ...


def typed_rule(rule: Rule) -> TypedRule:
    raise Unsettled(f"type {rule.type} is not modelled yet")
