"""What every rule type of the reference shares (see ``rule_types``): ``match`` (with
the exceptions) chooses records, ``group_by`` keys them, each type reads what it needs
from a record, and each key's matches fire its alert."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.reference.alerts import FIRING, MatchAlert
from tests.reference.expressions import Unsettled, truth
from tests.reference.rulefile import DEFAULT_GRACE_MS, Group, Rule, duration_ms, group_of

Firing = tuple[int, Group]  # (event time in ms, group)
Scalar = str | int | float
IGNORED = object()  # what ``read`` gives for a record the type skips


@dataclass(frozen=True)
class Accepted:
    """A record a typed rule accepted: its event time, arrival order and what the type
    reads from it (a field's value, a term; None when it reads nothing)."""

    ts_ms: int
    arrival: int
    value: Any = None


@dataclass
class TypedBase:
    """A rule of a type: the records it accepted, per key, in arrival order."""

    rule: Rule
    keys: dict[Group, list[Accepted]] = field(default_factory=dict)
    arrivals: int = 0

    @property
    def grace_ms(self) -> int:
        return setting_ms(self.rule, "grace", DEFAULT_GRACE_MS)

    @property
    def sources(self) -> set[str]:
        """The sources whose records the type reads."""
        return {self.rule.source}

    def record(
        self,
        fields: Mapping[str, Any],
        ts_ms: int,
        partition_ms: int | None,
        *,
        source: str = "",
        now_ms: int | None = None,
    ) -> Iterator[Firing]:
        """Accept the record if it matches; every match is decided in ``finish``.
        ``source`` is the record's, ``now_ms`` processing time (for ``sequence``)."""
        self.arrivals += 1
        if truth(self.rule.match, fields):
            group = group_of(self.rule, fields)
            value = self.read(fields)
            if value is not IGNORED and not self.too_late(ts_ms, partition_ms):
                self.check(self.keys.get(group, []), ts_ms, partition_ms)
                self.keys.setdefault(group, []).append(Accepted(ts_ms, self.arrivals, value))
        return iter(())

    def read(self, fields: Mapping[str, Any]) -> Any:
        """What the type reads from a matching record; ``IGNORED`` to skip the record."""
        return None

    def too_late(self, ts_ms: int, partition_ms: int | None) -> bool:
        """Whether the type ignores a record this far behind the partition's clock."""
        return False

    def check(self, before: list[Accepted], ts_ms: int, partition_ms: int | None) -> None:
        """Refuse a record whose handling the README leaves open (late ones, mostly);
        ``before`` are the key's records so far."""

    def matches(self) -> list[Firing]:
        """Every match, in the order it is made."""
        raise NotImplementedError

    def finish(self, until_ms: int, partition_ms: int | None) -> Iterator[Firing]:
        alerts: dict[Group, MatchAlert] = {}
        for ts_ms, group in self.matches():
            alert = alerts.setdefault(group, MatchAlert(self.rule.keep_firing_ms))
            if alert.match(ts_ms) == FIRING:
                yield ts_ms, group


def setting_ms(rule: Rule, name: str, default_ms: int | None = None) -> int:
    """A duration of the type's block, in ms."""
    value = rule.settings.get(name)
    if value is None:
        if default_ms is None:
            raise KeyError(name)
        return default_ms
    return duration_ms(str(value))


def scalar(value: Any, what: str) -> Scalar:
    """A value that types compare for equality: a string or a number. The README does not
    say how arrays, objects or booleans compare."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unsettled(f"{what} holds {type(value).__name__} {value!r}")
    return value


def same(left: Scalar, right: Scalar) -> bool:
    """Equality of two field values; a string and a number is left open ("1" and 1)."""
    if isinstance(left, str) != isinstance(right, str):
        raise Unsettled(f"comparing {left!r} with {right!r}")
    return left == right


def distinct(values: list[Scalar]) -> list[Scalar]:
    """The distinct values of a list, in first-seen order (by ``same``)."""
    out: list[Scalar] = []
    for value in values:
        if not any(same(value, seen) for seen in out):
            out.append(value)
    return out


def late_for_judging(ts_ms: int, partition_ms: int | None, grace_ms: int) -> None:
    """A type that judges time waits ``grace`` for late records; one that comes at or past
    it (the partition's clock at least ``grace`` past its time) may find its time judged,
    and the README does not say what it does then."""
    if partition_ms is not None and partition_ms - ts_ms >= grace_ms:
        raise Unsettled("a record at or past grace for a type that judges time")
