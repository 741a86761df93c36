"""Silences, Alertmanager's: label matchers, a start, an end, who and why.

An operator creates one with ``opsrules silence add`` (``streams/silences.py`` writes it
to the compacted ``ops.silences`` topic, which every decision worker reads fully and
keeps following). An alert whose labels match every matcher of a silence that is active
at the decision's event time sends nothing; the decision trail names the silence.
Silences always end and never recur (recurring quiet time is a maintenance window).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.records import SilenceRecord
from processors.rules.label_matchers import LabelMatcher, matches_all, parse_matchers


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_ms: int
    ends_ms: int
    created_by: str
    comment: str

    def active(self, t_ms: int) -> bool:
        return self.starts_ms <= t_ms < self.ends_ms

    def mutes(self, labels: Mapping[str, str], t_ms: int) -> bool:
        return self.active(t_ms) and matches_all(self.matchers, labels)

    def trail(self) -> dict[str, str]:
        """What the decision trail says of it."""
        return {
            "silence_id": self.id,
            "created_by": self.created_by,
            "comment": self.comment,
            "matchers": ", ".join(str(m) for m in self.matchers),
        }


def silence_from_record(record: SilenceRecord) -> Silence:
    """The silence of a record read from the topic; MatcherError for a bad matcher."""
    return Silence(
        id=record.id,
        matchers=parse_matchers(record.matchers),
        starts_ms=record.starts_ms,
        ends_ms=record.ends_ms,
        created_by=record.created_by,
        comment=record.comment,
    )


class SilenceBook:
    """The silences a worker knows, by id (the latest version of each)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Silence] = {}

    def put(self, silence: Silence) -> None:
        self.by_id[silence.id] = silence

    def remove(self, silence_id: str) -> None:
        self.by_id.pop(silence_id, None)

    def silencing(self, labels: Mapping[str, str], t_ms: int) -> Silence | None:
        """The silence muting an alert with ``labels`` at ``t_ms`` (the one with the
        smallest id when several do, so that the trail is the same on every worker)."""
        found = [s for s in self.by_id.values() if s.mutes(labels, t_ms)]
        return min(found, key=lambda s: s.id) if found else None
