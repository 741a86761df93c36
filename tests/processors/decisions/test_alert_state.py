"""The alert state machine, as timelines: (window start, window end, condition) → event."""

from __future__ import annotations

import pytest

from processors.decisions.alert_state import INACTIVE, AlertState, Event, Phase, Timing, transition

M = 60_000
F, P, R, N = Event.FIRING, Event.PENDING, Event.RESOLVED, Event.NONE


def run(timing: Timing, steps: list[tuple[int, int, bool]]) -> tuple[list[Event], AlertState]:
    state, events = INACTIVE, []
    for since, end, condition in steps:
        state, event = transition(
            state, condition=condition, eval_ms=end, since_ms=since, timing=timing
        )
        events.append(event)
    return events, state


def windows(*conditions: bool) -> list[tuple[int, int, bool]]:
    """Consecutive 1-minute windows."""
    return [(i * M, (i + 1) * M, c) for i, c in enumerate(conditions)]


@pytest.mark.parametrize(
    ("for_ms", "keep_ms", "conditions", "expected"),
    [
        # for 0: fire on the first true window, resolve on the first false one.
        (0, 0, [True, True, False], [F, N, R]),
        (0, 0, [False, False], [N, N]),
        # for 5m over 1m windows: the fifth consecutive true window fires.
        (5 * M, 0, [True] * 6, [P, N, N, N, F, N]),
        (5 * M, 0, [True] * 4 + [False] + [True] * 5, [P, N, N, N, N, P, N, N, N, F]),
        # keep_firing_for 1m: the first false window starts it, the second resolves.
        (0, M, [True, False, False], [F, N, R]),
        (0, M, [True, False, True, False, False], [F, N, N, N, R]),
        (0, 2 * M, [True, False, False, False], [F, N, N, R]),
        # After resolving, a new true window fires again.
        (0, 0, [True, False, True], [F, R, F]),
    ],
)
def test_windowed_timelines(
    for_ms: int, keep_ms: int, conditions: list[bool], expected: list[Event]
) -> None:
    events, _ = run(Timing(for_ms, keep_ms, resolves=True), windows(*conditions))
    assert events == expected


def test_a_gap_between_true_windows_restarts_pending() -> None:
    timing = Timing(2 * M, 0, resolves=True)
    steps = [(0, M, True), (M, 2 * M, True), (5 * M, 6 * M, True), (6 * M, 7 * M, True)]
    events, state = run(timing, steps)
    assert events == [P, F, N, N]  # fired at 2m: the two windows [0, 2m) were true
    gap = [(0, M, True), (3 * M, 4 * M, True), (4 * M, 5 * M, True)]
    events, state = run(timing, gap)
    assert events == [P, P, F]
    assert state.active_since_ms == 3 * M


def test_replayed_or_old_evaluations_change_nothing() -> None:
    timing = Timing(0, 0, resolves=True)
    state, event = transition(INACTIVE, condition=True, eval_ms=M, since_ms=0, timing=timing)
    assert event is F
    for eval_ms in (M, M - 1):
        again, event = transition(
            state, condition=False, eval_ms=eval_ms, since_ms=0, timing=timing
        )
        assert (again, event) == (state, N)


def test_record_rules_refire_only_after_keep_firing_for() -> None:
    timing = Timing(0, 5 * M, resolves=False)
    steps = [(t, t, True) for t in (0, M, 3 * M, 9 * M, 10 * M)]
    events, state = run(timing, steps)
    assert events == [F, N, N, F, N]
    assert state.active_since_ms == 9 * M
    assert state.phase is Phase.FIRING


def test_state_round_trips_through_json() -> None:
    state = AlertState(Phase.FIRING, 1, 2, 3, 4)
    assert AlertState.from_json(state.to_json()) == state
