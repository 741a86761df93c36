"""frequency and flatline: at least / fewer than n records per key in a sliding timeframe."""

from __future__ import annotations

import pytest

from processors.firehose.counting import Flatline, FlatlineMatch, Frequency

S = 1000
M = 60 * S


@pytest.mark.parametrize(
    ("times_s", "at_least", "fires_at_s"),
    [
        ([0, 10, 20], 3, 20),  # three within a minute
        ([0, 30, 60], 3, 60),  # span exactly the timeframe: within it
        ([0, 30, 61], 3, None),  # near miss: spans 61s
        ([0, 61, 70, 80], 3, 80),  # the first is too old, the next three count
        ([20, 10, 0], 3, 20),  # out of order: the same three
        ([0, 50, 59, 100, 111], 4, None),  # never four within 60s
        ([5], 1, 5),  # at_least 1: every record
    ],
)
def test_frequency_fires_on_the_record_that_makes_the_count(
    times_s: list[int], at_least: int, fires_at_s: int | None
) -> None:
    core = Frequency(at_least, M, grace_ms=0)
    fired = [m for t in times_s if (m := core.add("k", t * S)) is not None]
    assert [m.ts_ms // S for m in fired] == ([] if fires_at_s is None else [fires_at_s])


def test_frequency_starts_over_after_a_match_and_counts_keys_apart() -> None:
    core = Frequency(2, M, grace_ms=0)
    assert core.add("a", 0) is None
    assert core.add("b", 1 * S) is None  # another key
    match = core.add("a", 2 * S)
    assert match is not None and (match.count, match.first_ts_ms, match.ts_ms) == (2, 0, 2 * S)
    assert core.add("a", 3 * S) is None  # the count starts over
    assert core.add("a", 4 * S) is not None


def test_frequency_keeps_at_most_n_times_per_key_and_forgets_idle_keys() -> None:
    core = Frequency(3, M, grace_ms=10 * S)
    for t in range(0, 1000 * M, 2 * M):  # one record every 2 minutes: never 3 in 1m
        assert core.add("slow", t) is None
    assert len(core._times["slow"]) == 3
    core.add("other", 0)
    core.expire(M + 10 * S - 1)
    assert "other" in core._times  # still within timeframe + grace of its last record
    core.expire(M + 10 * S + 1000)
    assert "other" not in core._times and len(core) == 1


def flatline_run(
    core: Flatline, records: list[tuple[str, int]], clocks_s: list[int]
) -> list[FlatlineMatch]:
    """Add records (key, second), then advance the clock through ``clocks_s``."""
    for key, t in records:
        core.add(key, t * S)
    return [m for clock in clocks_s for m in core.due(clock * S)]


@pytest.mark.parametrize(
    ("records", "fewer_than", "clocks_s", "expected"),
    [
        # a heartbeat every 30s, then silence: fires 2m after the last one, + grace
        ([("h", 0), ("h", 30), ("h", 60)], 1, [179, 189, 190], [("h", 180, 0)]),
        # near miss: still beating
        ([("h", t) for t in range(0, 300, 30)], 1, [290], []),
        # fewer than 3 in 2m: the third most recent record leaves the timeframe
        ([("h", 0), ("h", 10), ("h", 20), ("h", 100)], 3, [150, 160], [("h", 130, 2)]),
        # a key seen once, fewer than 3: judged a timeframe after it was first seen
        ([("n", 50)], 3, [179, 180], [("n", 170, 0)]),
        # two keys, ordered by time then key
        ([("b", 0), ("a", 0)], 1, [200], [("a", 120, 0), ("b", 120, 0)]),
    ],
)
def test_flatline(
    records: list[tuple[str, int]],
    fewer_than: int,
    clocks_s: list[int],
    expected: list[tuple[str, int, int]],
) -> None:
    core = Flatline(fewer_than, 2 * M, grace_ms=10 * S)
    got = flatline_run(core, records, clocks_s)
    assert [(m.key, m.ts_ms // S, m.count) for m in got] == expected


def test_flatline_fires_once_per_silence_and_watches_a_key_again_when_it_returns() -> None:
    core = Flatline(1, M, grace_ms=0)
    core.add("h", 0)
    assert [m.ts_ms for m in core.due(M)] == [M]
    assert core.due(10 * M) == []  # forgotten: no repeat
    assert len(core) == 0
    core.add("h", 10 * M)  # back again
    assert [m.ts_ms for m in core.due(12 * M)] == [11 * M]


def test_flatline_ignores_records_too_late_to_matter() -> None:
    core = Flatline(1, M, grace_ms=0)
    core.add("h", 0)
    assert len(core.due(M)) == 1
    assert core.due(5 * M) == []
    core.add("h", 30 * S)  # its deadline (1m30s) is long behind the clock (5m)
    assert len(core) == 0 and core.due(10 * M) == []


def test_flatline_holds_at_most_n_times_per_key() -> None:
    core = Flatline(2, M, grace_ms=0)
    for t in range(1000):
        core.add("busy", t * S)
    assert len(core._keys["busy"]) == 1 + 2  # first seen + the two most recent


def test_a_remembered_silence_reports_the_key_sending_again() -> None:
    flat = Flatline(fewer_than=1, timeframe_ms=60_000, grace_ms=0, remember_ms=300_000)
    flat.add("a", 0)
    assert [m.ts_ms for m in flat.due(60_000)] == [60_000]  # silent from 60s
    recovered = flat.add("a", 200_000)
    assert recovered is not None and (recovered.ts_ms, recovered.silent_since_ms) == (
        200_000,
        60_000,
    )
    assert flat.add("a", 210_000) is None  # watched again, no second recovery


def test_a_silence_is_remembered_only_remember_ms() -> None:
    flat = Flatline(fewer_than=1, timeframe_ms=60_000, grace_ms=0, remember_ms=300_000)
    flat.add("a", 0)
    flat.due(60_000)
    flat.due(360_000)  # 60s + 5m: forgotten
    assert len(flat) == 0
    assert flat.add("a", 400_000) is None
    plain = Flatline(fewer_than=1, timeframe_ms=60_000, grace_ms=0)
    plain.add("a", 0)
    plain.due(60_000)
    assert plain.add("a", 100_000) is None and len(plain) == 1  # nothing remembered


def test_a_silence_stands_when_the_key_sends_again_before_it_is_judged() -> None:
    core = Flatline(1, 5 * S, grace_ms=10 * S)
    core.add("h", 0)
    core.add("h", 10 * S)  # silent from 5s: its judgement waits for the clock at 15s
    assert [m.ts_ms for m in core.due(14 * S)] == []
    assert [(m.ts_ms, m.last_ts_ms) for m in core.due(16 * S)] == [(5 * S, 0)]
    assert [m.ts_ms for m in core.due(26 * S)] == [15 * S]  # and the next silence


def test_a_late_record_within_grace_fills_a_silence() -> None:
    core = Flatline(1, 5 * S, grace_ms=10 * S)
    core.add("h", 0)
    core.add("h", 10 * S)
    core.add("h", 5 * S)  # late, within grace: no gap longer than 5s any more
    assert [m.ts_ms for m in core.due(25 * S)] == [15 * S]
    core.add("h", 30 * S)
    core.add("h", 40 * S)
    core.add("h", 33 * S)  # late, but 33s to 40s is a gap of 7s: the silence at 38s stands
    assert [m.ts_ms for m in core.due(60 * S)] == [38 * S, 45 * S]


def test_a_late_record_before_a_silence_starts_a_watch_of_its_own() -> None:
    core = Flatline(1, 5 * S, grace_ms=30 * S)
    core.add("h", 10 * S)
    core.add("h", 0)  # late, within grace: silent from 5s to 10s
    assert [m.ts_ms for m in core.due(60 * S)] == [5 * S, 15 * S]
