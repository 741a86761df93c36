"""cardinality: distinct values per key in a sliding timeframe, exact with a cap."""

from __future__ import annotations

import pytest

from processors.firehose.cardinality import Cardinality

S = 1000
M = 60 * S


@pytest.mark.parametrize(
    ("sightings", "above", "expected"),
    [
        ([(0, "a"), (1, "b"), (2, "c"), (3, "d")], 3, [(3, 4)]),
        ([(0, "a"), (1, "b"), (2, "c"), (3, "a")], 3, []),  # near miss: a again
        ([(0, "a"), (1, "b"), (2, "c"), (61, "d")], 3, []),  # a left the timeframe
        ([(0, "a"), (10, "b"), (20, "c"), (60, "d")], 3, [(60, 4)]),  # exactly 1m: within
        # after a match the values start over
        ([(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")], 1, [(1, 2), (3, 2)]),
    ],
)
def test_above_fires_on_the_sighting_that_passes_it(
    sightings: list[tuple[int, str]], above: int, expected: list[tuple[int, int]]
) -> None:
    core = Cardinality(M, above=above, below=None, grace_ms=0)
    got = [m for t, v in sightings if (m := core.add("k", t * S, v)) is not None]
    assert [(m.ts_ms // S, m.distinct) for m in got] == expected
    assert all(m.bound == "above" for m in got)


def test_above_holds_at_most_above_plus_one_values_per_key() -> None:
    core = Cardinality(M, above=5, below=None, grace_ms=0)
    for i in range(10_000):  # 10,000 distinct values, but each only after 1m: never 6 at once
        assert core.add("k", i * 13 * S, f"port-{i}") is None
    assert core.values_held() <= 6


@pytest.mark.parametrize(
    ("sightings", "below", "clock_s", "expected"),
    [
        # two users per minute, then only one: fewer than 2 once the other is 1m old
        ([(0, "a"), (0, "b"), (30, "a"), (40, "b"), (70, "a")], 2, 200, [(100, 1)]),
        # near miss: both keep coming
        ([(t, v) for t in range(0, 200, 20) for v in ("a", "b")], 2, 200, []),
        # a key seen once is judged a timeframe after it was first seen (the last T is
        # (t - T, t]: the value seen exactly 1m before has just left it)
        ([(10, "a")], 2, 70, [(70, 0)]),
        ([(10, "a")], 2, 69, []),
    ],
)
def test_below_fires_when_the_count_falls_below_it(
    sightings: list[tuple[int, str]], below: int, clock_s: int, expected: list[tuple[int, int]]
) -> None:
    core = Cardinality(M, above=None, below=below, grace_ms=0)
    for t, v in sightings:
        assert core.add("k", t * S, v) is None
    got = core.due(clock_s * S)
    assert [(m.ts_ms // S, m.distinct) for m in got] == expected
    assert all(m.bound == "below" for m in got)


def test_below_fires_once_then_forgets_the_key() -> None:
    core = Cardinality(M, above=None, below=1, grace_ms=10 * S)
    core.add("k", 0, "a")
    assert core.due(M + 10 * S - 1) == []  # waits for grace
    assert len(core.due(M + 10 * S)) == 1
    assert len(core) == 0 and core.due(100 * M) == []


def test_above_only_forgets_a_key_a_timeframe_after_its_last_value() -> None:
    core = Cardinality(M, above=3, below=None, grace_ms=0)
    core.add("k", 0, "a")
    assert core.due(M - 1) == [] and len(core) == 1
    assert core.due(M) == [] and len(core) == 0


def test_a_drop_below_stands_when_the_key_sends_again_before_it_is_judged() -> None:
    core = Cardinality(M, above=None, below=1, grace_ms=30 * S)
    core.add("k", 0, "a")
    core.add("k", 80 * S, "a")  # nothing from 0 to 80s: the drop at 1m stands
    assert [(m.ts_ms // S, m.distinct) for m in core.due(95 * S)] == [(60, 0)]
    assert [m.ts_ms // S for m in core.due(200 * S)] == [140]


def test_a_late_value_within_grace_fills_a_drop() -> None:
    core = Cardinality(M, above=None, below=1, grace_ms=30 * S)
    core.add("k", 0, "a")
    core.add("k", 80 * S, "a")
    core.add("k", 50 * S, "b")  # late, within grace: 50s to 80s, no drop before 80s
    assert [m.ts_ms // S for m in core.due(200 * S)] == [140]


def test_a_late_value_before_a_drop_starts_a_watch_of_its_own() -> None:
    core = Cardinality(5 * S, above=None, below=1, grace_ms=30 * S)
    core.add("k", 10 * S, "a")
    core.add("k", 0, "a")  # late, within grace: no value from 5s to 10s
    assert [m.ts_ms // S for m in core.due(60 * S)] == [5, 15]


def test_the_values_kept_are_the_most_recently_seen_in_event_time() -> None:
    core = Cardinality(5 * S, above=None, below=2, grace_ms=30 * S)
    core.add("k", 0, "ana")
    core.add("k", 1 * S, "ana")
    core.add("k", 0, "root")  # late: seen before ana's last sighting
    core.add("k", 1 * S, "svc")  # ana and svc are the two most recent, until 6s
    assert [(m.ts_ms // S, m.distinct) for m in core.due(60 * S)] == [(6, 0)]
