"""Inhibition, Alertmanager's: a firing alert matching an inhibit rule's
``source_matchers`` mutes alerts matching its ``target_matchers`` that have the same
values of its ``equal`` labels (a label missing on both sides counts as equal).

An alert cannot inhibit itself; and, as in Alertmanager, when the target also matches
the source side, only sources that do **not** match the target side inhibit it (so
alerts matching both sides cannot mute each other).

Which alerts fire is per partition of the signals topic, and a source and a target that
share ``equal`` labels may be decided on different partitions (grouped by different
labels, so keyed differently). So every decision worker keeps a view of **every** firing
alert: each worker writes its alerts' changes (firing, held firing while flapping,
resolved as a tombstone) to the compacted ``<app_id>.alerts.firing`` topic, key =
fingerprint, and reads that topic fully and keeps following it. A source on another
partition is seen after one trip through the topic (about a batch); a source must
have fired at or before the target's event time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.rules.label_matchers import matches_all
from processors.rules.policies import InhibitPolicy


@dataclass(frozen=True, slots=True)
class FiringAlert:
    fingerprint: str
    rule_id: str
    labels: dict[str, str]
    since_ms: int  # when it started firing (event time)
    flapping: bool = False
    partition: int | None = None  # the signals partition whose worker owns it
    until_ms: int | None = None  # rules on single records: firing until then

    def fires_at(self, t_ms: int) -> bool:
        return self.since_ms <= t_ms and (self.until_ms is None or t_ms <= self.until_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "labels": self.labels,
            "since_ms": self.since_ms,
            "flapping": self.flapping,
            "partition": self.partition,
            "until_ms": self.until_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FiringAlert:
        return cls(
            fingerprint=str(data["fingerprint"]),
            rule_id=str(data["rule_id"]),
            labels={str(k): str(v) for k, v in data["labels"].items()},
            since_ms=int(data["since_ms"]),
            flapping=bool(data.get("flapping", False)),
            partition=data.get("partition"),
            until_ms=data.get("until_ms"),
        )


@dataclass(slots=True)
class FiringAlerts:
    """Every firing alert a worker knows of, by fingerprint."""

    by_fingerprint: dict[str, FiringAlert] = field(default_factory=dict)

    def put(self, alert: FiringAlert) -> None:
        self.by_fingerprint[alert.fingerprint] = alert

    def remove(self, fingerprint: str) -> None:
        self.by_fingerprint.pop(fingerprint, None)


def _equal(equal: Iterable[str], a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    return all(a.get(name, "") == b.get(name, "") for name in equal)


def inhibiting(
    rules: Iterable[InhibitPolicy],
    firing: Iterable[FiringAlert],
    fingerprint: str,
    labels: Mapping[str, str],
    t_ms: int,
) -> tuple[InhibitPolicy, FiringAlert] | None:
    """The inhibit rule and the firing alert that mute the alert ``fingerprint`` with
    ``labels`` at ``t_ms``, or None (the source with the smallest fingerprint when
    several do, so that every worker names the same one)."""
    alerts = list(firing)
    for rule in rules:
        if not matches_all(rule.target, labels):
            continue
        two_sided = matches_all(rule.source, labels)
        sources = [
            alert
            for alert in alerts
            if alert.fingerprint != fingerprint
            and alert.fires_at(t_ms)
            and matches_all(rule.source, alert.labels)
            and _equal(rule.equal, alert.labels, labels)
            and not (two_sided and matches_all(rule.target, alert.labels))
        ]
        if sources:
            return rule, min(sources, key=lambda a: a.fingerprint)
    return None
