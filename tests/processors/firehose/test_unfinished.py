"""unfinished: a run started and not ended within its time, per key, judged once the event
clock passes start + within + grace."""

from __future__ import annotations

import pytest

from processors.firehose.unfinished import Unfinished, UnfinishedMatch

S = 1000
WITHIN = 600 * S  # 10m

Event = tuple[str, str, int]  # ("start" | "end", key, second)
Found = tuple[str, int, int, int | None]  # key, ts, started, ended (seconds)


def judged(core: Unfinished, events: list[Event], clocks_s: list[int]) -> list[Found]:
    """Feed ``events`` in arrival order, then move the clock through ``clocks_s``."""
    for what, key, second in events:
        if what == "start":
            core.start(key, second * S)
        else:
            core.end(key, second * S)
    return [
        (m.key, m.ts_ms // S, m.started_ms // S, None if m.ended_ms is None else m.ended_ms // S)
        for clock in clocks_s
        for m in core.due(clock * S)
    ]


@pytest.mark.parametrize(
    ("events", "clocks_s", "expected"),
    [
        # never ended: a match at the deadline, start + within
        ([("start", "k", 0)], [700], [("k", 600, 0, None)]),
        # near miss: ended within its time
        ([("start", "k", 0), ("end", "k", 540)], [700], []),
        # ended exactly at the deadline: within its time
        ([("start", "k", 0), ("end", "k", 600)], [700], []),
        # ended after the deadline: still a match, which says when it ended
        ([("start", "k", 0), ("end", "k", 630)], [700], [("k", 600, 0, 630)]),
        # of two ends, the earlier one ended the run, whichever came first
        ([("start", "k", 0), ("end", "k", 540), ("end", "k", 630)], [700], []),
        ([("start", "k", 0), ("end", "k", 630), ("end", "k", 540)], [700], []),
        # an end arriving before any start is of an earlier run: ignored
        ([("end", "k", 60), ("start", "k", 120)], [800], [("k", 720, 120, None)]),
        # an end timed before the open run's start, arriving after it: ignored too
        ([("start", "k", 300), ("end", "k", 240)], [1000], [("k", 900, 300, None)]),
        # a second start while the first runs: the earliest stands, one run, one match
        ([("start", "k", 0), ("start", "k", 300)], [600, 900, 2000], [("k", 600, 0, None)]),
        # ... and an end after both ends the run of the earliest, in its time
        ([("start", "k", 0), ("start", "k", 300), ("end", "k", 480)], [2000], []),
        # an earlier start arriving late: the run, and its deadline, move earlier
        ([("start", "k", 300), ("start", "k", 0)], [600], [("k", 600, 0, None)]),
        # ... but once an end in its time closed the later start's run, an earlier start
        # arriving late is a run of its own, with no end
        (
            [("start", "k", 300), ("end", "k", 720), ("start", "k", 0)],
            [2000],
            [("k", 600, 0, None)],
        ),
        # a start after a run ended opens the next run, before the first is judged
        (
            [("start", "k", 0), ("end", "k", 60), ("start", "k", 120)],
            [600, 720],
            [("k", 720, 120, None)],
        ),
        # ... and after a run that ended too late, still waiting for its judgement: both
        # runs are judged, each at its own deadline
        (
            [("start", "k", 0), ("end", "k", 630), ("start", "k", 640)],
            [700, 1300],
            [("k", 600, 0, 630), ("k", 1240, 640, None)],
        ),
        # keys are judged apart
        (
            [("start", "a", 0), ("start", "b", 60), ("end", "a", 180)],
            [2000],
            [("b", 660, 60, None)],
        ),
    ],
)
def test_a_run_is_a_match_when_not_ended_within_its_time(
    events: list[Event], clocks_s: list[int], expected: list[Found]
) -> None:
    assert judged(Unfinished(WITHIN, grace_ms=0), events, clocks_s) == expected


def test_a_match_carries_its_deadline_start_and_end() -> None:
    core = Unfinished(WITHIN, grace_ms=0)
    core.start("k", 1_000)
    core.end("k", 700_000)
    assert core.due(700_000) == [UnfinishedMatch("k", 601_000, 1_000, 700_000)]


def test_a_run_is_judged_only_once_the_clock_passes_its_deadline_plus_grace() -> None:
    core = Unfinished(WITHIN, grace_ms=60 * S)
    core.start("late", 0)
    core.start("slow", 0)
    core.end("late", 590 * S)  # ended in time, but heard of late: within the grace
    assert core.due(659 * S) == [] and len(core) == 1  # a run ended in time is done
    core.end("slow", 630 * S)  # after the deadline, heard of within the grace
    assert core.due(660 * S) == [UnfinishedMatch("slow", 600 * S, 0, 630 * S)]
    assert len(core) == 0


def test_a_run_matches_once_and_its_key_is_forgotten() -> None:
    core = Unfinished(WITHIN, grace_ms=0)
    core.start("k", 0)
    assert [m.ts_ms for m in core.due(700 * S)] == [600 * S]
    assert len(core) == 0
    core.end("k", 650 * S)  # the end of a run already judged: nothing to end
    assert len(core) == 0
    assert core.due(5_000 * S) == []


def test_a_start_after_a_match_opens_a_new_run() -> None:
    core = Unfinished(WITHIN, grace_ms=0)
    assert judged(core, [("start", "k", 0)], [700]) == [("k", 600, 0, None)]
    assert judged(core, [("start", "k", 1000)], [1599, 1600]) == [("k", 1600, 1000, None)]


def test_a_run_ended_in_time_and_judged_is_forgotten_too() -> None:
    core = Unfinished(WITHIN, grace_ms=0)
    assert judged(core, [("start", "k", 0), ("end", "k", 60)], [600]) == []
    assert len(core) == 0
    assert judged(core, [("start", "k", 700)], [1300]) == [("k", 1300, 700, None)]


def test_matches_come_in_time_order_then_by_key() -> None:
    core = Unfinished(WITHIN, grace_ms=0)
    for key, second in [("c", 120), ("b", 0), ("a", 120), ("d", 60)]:
        core.start(key, second * S)
    assert [(m.key, m.ts_ms // S) for m in core.due(2_000 * S)] == [
        ("b", 600),
        ("d", 660),
        ("a", 720),
        ("c", 720),
    ]


def test_past_max_keys_the_run_that_started_first_goes_unjudged_and_is_counted() -> None:
    core = Unfinished(WITHIN, grace_ms=0, max_keys=2)
    core.start("a", 300 * S)
    core.start("b", 60 * S)
    core.start("a", 400 * S)  # a key already open: nothing to make room for
    assert core.evicted == 0
    core.start("c", 180 * S)  # b started first: it goes
    assert (core.evicted, len(core)) == (1, 2)
    core.end("b", 90 * S)  # b is forgotten: its end ends nothing
    assert [(m.key, m.ts_ms // S) for m in core.due(2_000 * S)] == [("c", 780), ("a", 900)]


def test_an_evicted_key_started_again_is_not_judged_by_its_old_deadline() -> None:
    core = Unfinished(WITHIN, grace_ms=0, max_keys=1)
    core.start("a", 0)
    core.start("b", 60 * S)  # a goes
    core.start("a", 300 * S)  # b goes; a's new run is due at 900s, its old timer at 600s
    assert core.evicted == 2
    assert core.due(600 * S) == [] and len(core) == 1
    assert core.due(900 * S) == [UnfinishedMatch("a", 900 * S, 300 * S, None)]


@pytest.mark.parametrize(
    ("within_ms", "grace_ms", "max_keys"),
    [(0, 0, 1), (-1, 0, 1), (1, -1, 1), (1, 0, 0)],
)
def test_settings_out_of_range_are_refused(within_ms: int, grace_ms: int, max_keys: int) -> None:
    with pytest.raises(ValueError, match="within_ms > 0"):
        Unfinished(within_ms, grace_ms, max_keys)
