"""Silences: which alerts they mute and when; a silenced firing goes out once the silence
ends while the alert still fires; the trail names the silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from processors.decisions.context import DecisionContext
from processors.decisions.silences import Silence, SilenceBook, silence_from_record
from processors.records import SilenceRecord
from processors.rules.label_matchers import MatcherError
from processors.timestamps import format_ts
from tests.processors.decisions.decision_runs import Run, minute_ms
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: hot
    source: metric
    match: name == "t"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    labels: {team: infra}
    actions:
      - type: alert
      - type: heal
"""


def record(matchers: list[str], start: float, end: float, id: str = "s1") -> SilenceRecord:
    return SilenceRecord(
        id=id,
        matchers=matchers,
        starts_at=format_ts(minute_ms(start)),
        ends_at=format_ts(minute_ms(end)),
        created_by="ops@example.org",
        comment="deploying web-1",
        created_at=format_ts(minute_ms(start)),
    )


LABELS = {"alertname": "hot", "severity": "warning", "team": "infra", "host": "web-1"}


@pytest.mark.parametrize(
    ("matchers", "minute", "mutes"),
    [
        (["host=web-1"], 5, True),
        (["host=web-2"], 5, False),
        (["host=web-1", "alertname=hot"], 5, True),
        (["host=web-1", "alertname=cold"], 5, False),  # every matcher must match
        (['host=~"web-.*"', "team!=sre"], 5, True),
        (["host=web-1"], 0.99, False),  # before it starts
        (["host=web-1"], 1, True),  # starts inclusive
        (["host=web-1"], 10, False),  # ends exclusive: expired
        (["host=web-1"], 11, False),
    ],
)
def test_what_a_silence_mutes(matchers: list[str], minute: float, mutes: bool) -> None:
    silence = silence_from_record(record(matchers, 1, 10))
    assert silence.mutes(LABELS, minute_ms(minute)) is mutes


def test_a_bad_record_is_refused() -> None:
    with pytest.raises(ValidationError, match="ends_at must be after starts_at"):
        record(["host=web-1"], 5, 5)
    with pytest.raises(ValidationError):
        record([], 1, 5)
    with pytest.raises(MatcherError):
        silence_from_record(record(["host"], 1, 5))


def test_the_smallest_id_wins_so_every_worker_names_the_same() -> None:
    book = SilenceBook()
    for id in ("b", "a", "c"):
        book.put(silence_from_record(record(["host=web-1"], 0, 10, id=id)))
    found = book.silencing(LABELS, minute_ms(5))
    assert isinstance(found, Silence) and found.id == "a"
    book.remove("a")
    assert book.silencing(LABELS, minute_ms(5)).id == "b"  # type: ignore[union-attr]


def run_with(tmp_path: Path, *records: SilenceRecord) -> Run:
    context = DecisionContext()
    for item in records:
        context.silences.put(silence_from_record(item))
    return Run(rulebook_from_yaml(tmp_path, RULES), context)


def test_a_silenced_alert_sends_nothing_and_says_which_silence(tmp_path: Path) -> None:
    run = run_with(tmp_path, record(["host=web-1"], 0, 30))
    assert run.windows("hot", {"host": "web-1"}, [2, 2, 0]) == []
    decisions = [d for o in run.outcomes for d in o.decisions]
    assert [(d.action_type, d.status, d.reason) for d in decisions] == [
        ("alert", "firing", "silenced"),
        ("heal", "firing", "silenced"),
        # the firing alert never went out: no resolved either
    ]
    assert decisions[0].suppressed_by["silence_id"] == "s1"
    assert decisions[0].suppressed_by["comment"] == "deploying web-1"
    assert decisions[0].values == {"max": 2.0, "count": 1.0}
    # another host is not silenced
    assert [a.type for a in run.window("hot", {"host": "web-2"}, 5, 2).actions] == ["alert", "heal"]


def test_when_the_silence_ends_a_still_firing_alert_goes_out(tmp_path: Path) -> None:
    run = run_with(tmp_path, record(["host=web-1"], 0, 3))  # ends at minute 3
    sent = run.windows("hot", {"host": "web-1"}, [2, 2, 2, 2, 0])
    # windows end at minute+1: minutes 0 and 1 are silenced, minute 2 ends at 3 (ended)
    assert sent == [(2, "alert", "firing"), (2, "heal", "firing"), (4, "alert", "resolved")]
    unmuted = run.outcomes[2].actions[0]
    assert unmuted.decision is not None and unmuted.decision.because == "unmuted"
    assert unmuted.starts_at == format_ts(minute_ms(0))  # the firing began at minute 0
