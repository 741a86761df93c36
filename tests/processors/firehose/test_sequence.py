"""The sequence join: one event of every step per join key, in order or not, within T."""

from __future__ import annotations

import pytest

from processors.firehose.sequence import MAX_PER_STEP, SequenceJoin

S = 1000
M = 60 * S

Events = list[tuple[str, int, int]]  # (key, step, second)


def join(events: Events, *, steps: int = 2, ordered: bool = True, timeframe_s: int = 600):
    core = SequenceJoin(
        steps, timeframe_ms=timeframe_s * S, grace_ms=M, ordered=ordered, max_keys=1000
    )
    matches = [
        m for key, step, t in events if (m := core.add(key, step, t * S, now_ms=0)) is not None
    ]
    return core, [(m.key, tuple(t // S for t in m.times_ms)) for m in matches]


@pytest.mark.parametrize(
    ("events", "ordered", "expected"),
    [
        ([("h", 0, 0), ("h", 1, 60)], True, [("h", (0, 60))]),
        ([("h", 1, 0), ("h", 0, 60)], True, []),  # near miss: wrong order
        ([("h", 1, 0), ("h", 0, 60)], False, [("h", (60, 0))]),  # any order
        ([("h", 0, 0), ("h", 1, 601)], True, []),  # near miss: 601s apart
        ([("h", 0, 0), ("h", 1, 600)], True, [("h", (0, 600))]),  # exactly T
        ([("a", 0, 0), ("b", 1, 60)], True, []),  # different join keys
        ([("h", 0, 30), ("h", 0, 0), ("h", 1, 45)], True, [("h", (30, 45))]),  # latest start
        # arrival order does not matter, event time does: the step 1 arrives first
        ([("h", 1, 60), ("h", 0, 0)], True, [("h", (0, 60))]),
        ([("h", 0, 10), ("h", 0, 10)], True, []),  # a replayed step is not a second one
        ([("h", 0, 10), ("h", 1, 10)], True, [("h", (10, 10))]),  # the same second: in order
    ],
)
def test_two_steps(
    events: Events, ordered: bool, expected: list[tuple[str, tuple[int, ...]]]
) -> None:
    assert join(events, ordered=ordered)[1] == expected


@pytest.mark.parametrize(
    ("events", "ordered", "expected"),
    [
        ([("h", 0, 0), ("h", 1, 10), ("h", 2, 20)], True, [("h", (0, 10, 20))]),
        ([("h", 0, 0), ("h", 2, 10), ("h", 1, 20)], True, []),  # near miss: 2 before 1
        ([("h", 0, 0), ("h", 2, 10), ("h", 1, 20)], False, [("h", (0, 20, 10))]),
        # a later step 2 completes it
        ([("h", 0, 0), ("h", 2, 10), ("h", 1, 20), ("h", 2, 30)], True, [("h", (0, 20, 30))]),
        # the earliest-ending chain is reported, its events used up; the rest stays pending
        (
            [("h", 0, 0), ("h", 0, 5), ("h", 1, 10), ("h", 2, 20), ("h", 1, 25), ("h", 2, 30)],
            True,
            [("h", (5, 10, 20)), ("h", (0, 25, 30))],
        ),
    ],
)
def test_three_steps(
    events: Events, ordered: bool, expected: list[tuple[str, tuple[int, ...]]]
) -> None:
    assert join(events, steps=3, ordered=ordered)[1] == expected


def test_completed_events_are_used_up() -> None:
    core, matches = join([("h", 0, 0), ("h", 1, 10), ("h", 1, 20)])
    assert matches == [("h", (0, 10))]
    assert core.pending_events() == 1  # the second step 1 waits for a step 0


def test_pending_events_expire_after_timeframe_plus_grace() -> None:
    core, _ = join([("a", 0, 0), ("b", 0, 100), ("b", 1, 50)])
    late = core._timers.resolution_ms  # timers are coarse: up to one bucket late

    def expire_at(clock_ms: int) -> None:  # idle: the clock moves on with processing time
        core.expire(now_ms=clock_ms - core.clock_ms, idle_ms=0)

    expire_at(660 * S - 1)  # T + grace = 660s
    assert len(core) == 2
    expire_at(660 * S + late)
    assert len(core) == 1  # a's event is gone
    expire_at((50 + 660) * S + late)  # b's step 1 (50s) is gone, its step 0 (100s) kept
    assert core.pending_events() == 1
    expire_at((100 + 660) * S + late)
    assert len(core) == 0
    assert core.add("b", 1, 120 * S, now_ms=0) is None  # its step 0 is gone


def test_an_event_past_timeframe_plus_grace_completes_nothing_before_its_timer() -> None:
    """Timers are a bucket coarse (1875 ms here); expiry is exact all the same."""
    core = SequenceJoin(2, timeframe_ms=M, grace_ms=M, ordered=True, max_keys=10)
    core.add("a", 0, 10 * S, now_ms=0)
    core.add("b", 0, 130 * S, now_ms=0)  # the clock: a's event is due at 130s
    core.expire(now_ms=0, idle_ms=30 * S)  # its timer's bucket ends at 131.25s
    assert core.add("a", 1, 70 * S, now_ms=0) is None  # within T, but a's step 0 is gone
    core.add("c", 0, 10 * S, now_ms=0)  # arrives already past its expiry
    assert core.add("c", 1, 50 * S, now_ms=0) is None
    assert core.pending_events() == 3  # b's step 0, a's and c's step 1


def test_the_joins_clock_is_its_own_steps_and_moves_on_when_idle() -> None:
    core = SequenceJoin(2, timeframe_ms=10 * M, grace_ms=M, ordered=True, max_keys=10)
    assert core.clock_at(now_ms=0, idle_ms=30 * S) is None
    core.add("h", 0, 5 * M, now_ms=1000)
    assert core.clock_at(now_ms=1000 + 29 * S, idle_ms=30 * S) == 5 * M  # not idle yet
    assert core.clock_at(now_ms=1000 + 30 * S, idle_ms=30 * S) == 5 * M + 30 * S
    core.expire(now_ms=1000 + 12 * M, idle_ms=30 * S)  # idle 12m: past 5m + T + grace
    assert len(core) == 0


def test_at_most_max_per_step_events_per_step_and_key() -> None:
    core, matches = join([("h", 0, t) for t in range(100)])
    assert matches == [] and core.pending_events() == MAX_PER_STEP
    assert core.add("h", 1, 100 * S, now_ms=0) is not None  # the latest starts were kept


def test_at_most_max_keys_keys_the_oldest_go_first() -> None:
    core = SequenceJoin(2, timeframe_ms=10 * M, grace_ms=M, ordered=True, max_keys=100)
    for i in range(250):
        core.add(f"k{i}", 0, i * S, now_ms=0)
    assert len(core) <= 100 and core.evicted >= 150
    assert core.add("k249", 1, 300 * S, now_ms=0) is not None  # the newest survive
    assert core.add("k0", 1, 300 * S, now_ms=0) is None


@pytest.mark.parametrize(("steps", "step"), [(2, 2), (2, -1)])
def test_a_step_outside_the_sequence_is_a_bug(steps: int, step: int) -> None:
    core = SequenceJoin(steps, timeframe_ms=M, grace_ms=0, ordered=True, max_keys=10)
    with pytest.raises(ValueError):
        core.add("h", step, 0, now_ms=0)
