from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest

from processors.windowing import (
    AddOutcome,
    PartitionWindows,
    WindowResult,
    WindowSpec,
    window_starts,
)

ADDED, LATE, REPLAYED = AddOutcome.ADDED, AddOutcome.LATE, AddOutcome.REPLAYED
IDLE_TIMEOUT_MS = 30_000
FAR_MS = 10**9  # an event time that closes every window in these tests


def make_spec(**overrides: object) -> WindowSpec:
    values: dict[str, object] = {
        "spec_id": "w",
        "size_ms": 10_000,
        "hop_ms": 10_000,
        "grace_ms": 0,
        "stats": frozenset({"count", "sum", "mean", "last"}),
    }
    values.update(overrides)
    return WindowSpec(**values)  # type: ignore[arg-type]


def make_windows(*specs: WindowSpec, idle_timeout_ms: int = IDLE_TIMEOUT_MS) -> PartitionWindows:
    return PartitionWindows(specs or [make_spec()], idle_timeout_ms=idle_timeout_ms)


@dataclass
class Feed:
    """Feeds records with consecutive offsets and a processing time that never idles."""

    windows: PartitionWindows
    offset: int = 0
    now_ms: int = 0

    def add(self, ts_ms: int, value: float = 1.0, series: str = "a", spec: str = "w") -> AddOutcome:
        outcome = self.windows.add(spec, series, ts_ms, value, self.offset, self.now_ms)
        self.offset += 1
        return outcome

    def observe(self, ts_ms: int) -> None:
        self.windows.observe(ts_ms, self.offset, self.now_ms)
        self.offset += 1

    def close_all(self) -> list[WindowResult]:
        self.observe(FAR_MS)
        return self.windows.advance(self.now_ms)


def spans(results: list[WindowResult]) -> list[tuple[str, int, int, int]]:
    return [(r.series_key, r.start_ms, r.end_ms, r.count) for r in results]


@pytest.mark.parametrize(
    ("ts_ms", "size_ms", "hop_ms", "starts"),
    [
        (0, 10, 10, [0]),
        (9, 10, 10, [0]),
        (10, 10, 10, [10]),  # a record at a window's end opens the next window
        (-1, 10, 10, [-10]),
        (12, 10, 5, [5, 10]),
        (10, 10, 5, [5, 10]),
        (9, 10, 5, [0, 5]),
        (7, 10, 4, [0, 4]),  # hop does not divide size: 2 or 3 windows per record
        (8, 10, 4, [0, 4, 8]),
        (5, 10, 1, [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5]),
        (1_795_899_297_123, 60_000, 60_000, [1_795_899_240_000]),
    ],
)
def test_window_starts(ts_ms: int, size_ms: int, hop_ms: int, starts: list[int]) -> None:
    assert window_starts(ts_ms, size_ms, hop_ms) == starts


@pytest.mark.parametrize(
    ("hop_ms", "records", "expected"),
    [
        pytest.param(
            10_000,
            [0, 9_999, 10_000, 25_000],
            [("a", 0, 10_000, 2), ("a", 10_000, 20_000, 1), ("a", 20_000, 30_000, 1)],
            id="tumbling",
        ),
        pytest.param(
            5_000,
            [0, 7_000, 10_000],
            [
                ("a", -5_000, 5_000, 1),
                ("a", 0, 10_000, 2),
                ("a", 5_000, 15_000, 2),
                ("a", 10_000, 20_000, 1),
            ],
            id="hopping",
        ),
    ],
)
def test_membership(
    hop_ms: int, records: list[int], expected: list[tuple[str, int, int, int]]
) -> None:
    feed = Feed(make_windows(make_spec(hop_ms=hop_ms, grace_ms=30_000)))
    assert [feed.add(ts) for ts in records] == [ADDED] * len(records)
    assert spans(feed.close_all()) == expected


def test_membership_agrees_with_window_starts() -> None:
    rng = random.Random(3)
    for _ in range(200):
        size_ms = rng.randrange(1, 50)
        hop_ms = rng.randrange(1, size_ms + 1)
        ts_ms = rng.randrange(-100, 100)
        feed = Feed(make_windows(make_spec(size_ms=size_ms, hop_ms=hop_ms)))
        feed.add(ts_ms)
        starts = [r.start_ms for r in feed.close_all()]
        assert starts == window_starts(ts_ms, size_ms, hop_ms), (ts_ms, size_ms, hop_ms)


@pytest.mark.parametrize(
    ("clock_ts_ms", "record_ts_ms", "outcome"),
    [
        (14_999, 9_999, ADDED),  # watermark 9_999 < end 10_000: still open
        (15_000, 9_999, LATE),  # watermark 10_000 == end: closed
        (15_000, 10_000, ADDED),
        (40_000, 0, LATE),
        (3_000, 1_000, ADDED),  # out of order, no grace needed
    ],
)
def test_grace(clock_ts_ms: int, record_ts_ms: int, outcome: AddOutcome) -> None:
    feed = Feed(make_windows(make_spec(grace_ms=5_000)))
    feed.add(clock_ts_ms)
    assert feed.add(record_ts_ms, value=7.0) == outcome
    counted = [r for r in feed.close_all() if r.start_ms <= record_ts_ms < r.end_ms]
    assert bool(counted) == (outcome is ADDED)


def test_late_record_is_reported_whether_or_not_advance_ran() -> None:
    lazy, eager = Feed(make_windows()), Feed(make_windows())
    for feed in (lazy, eager):
        feed.add(1_000)
        feed.add(10_000)
    eager.windows.advance(0)
    assert lazy.add(9_000) == eager.add(9_000) == LATE
    assert lazy.windows.advance(0) == [
        WindowResult("w", "a", 0, 10_000, {"count": 1, "sum": 1, "mean": 1, "last": 1}, 1)
    ]


def test_hopping_record_goes_to_its_open_windows_when_the_earliest_closed() -> None:
    feed = Feed(make_windows(make_spec(hop_ms=5_000)))
    feed.add(10_000)  # closes [0, 10_000)
    assert feed.add(7_000) == ADDED  # [0, 10_000) closed, [5_000, 15_000) open
    assert feed.add(4_999) == LATE  # [-5_000, 5_000) and [0, 10_000): both closed
    assert ("a", 5_000, 15_000, 2) in spans(feed.close_all())


def test_out_of_order_records_within_grace() -> None:
    feed = Feed(make_windows(make_spec(grace_ms=10_000)))
    for ts_ms, value in [(5_000, 5.0), (1_000, 1.0), (12_000, 12.0), (9_000, 9.0), (3_000, 3.0)]:
        assert feed.add(ts_ms, value) == ADDED
    first, second = feed.close_all()
    assert first.values == {"count": 4, "sum": 18, "mean": 4.5, "last": 9.0}
    assert second.values == {"count": 1, "sum": 12, "mean": 12, "last": 12.0}


def test_emit_final_exactly_once() -> None:
    feed = Feed(make_windows(make_spec(grace_ms=2_000)))
    feed.add(1_000)
    emitted: list[WindowResult] = []
    for ts_ms in [5_000, 10_000, 11_999, 12_000, 12_500, 30_000]:
        feed.observe(ts_ms)
        emitted += feed.windows.advance(0)
        emitted += feed.windows.advance(0)
        if ts_ms < 12_000:
            assert emitted == []
    assert spans(emitted) == [("a", 0, 10_000, 1)]
    assert feed.close_all() == []


def test_results_are_ordered_by_end_spec_and_series() -> None:
    fast = make_spec(spec_id="b-fast", size_ms=5_000, hop_ms=5_000)
    slow = make_spec(spec_id="a-slow")
    feed = Feed(make_windows(fast, slow))
    for ts_ms in [1_000, 6_000]:
        for series in ["z", "m", "a"]:
            for spec in ["b-fast", "a-slow"]:
                assert feed.add(ts_ms, series=series, spec=spec) == ADDED
    order = [(r.end_ms, r.spec_id, r.series_key) for r in feed.close_all()]
    assert order == sorted(order)
    assert order[:4] == [(5_000, "b-fast", s) for s in "amz"] + [(10_000, "a-slow", "a")]


@pytest.mark.parametrize(
    ("steps", "max_event_ms"),
    [
        ([("advance", 110_000)], 1_000),  # 10 s of silence: not idle yet
        ([("advance", 129_999)], 1_000),
        ([("advance", 130_000)], 31_000),  # idle: the clock moves by the 30 s elapsed
        ([("advance", 130_000), ("advance", 130_000)], 31_000),  # not twice
        ([("advance", 130_000), ("advance", 140_000)], 41_000),
        ([("advance", 140_000), ("advance", 130_000)], 41_000),  # never backwards
        ([("advance", 140_000), ("record", 145_000), ("advance", 170_000)], 41_000),
        ([("advance", 140_000), ("record", 145_000), ("advance", 175_000)], 71_000),
        ([("observe", 110_000), ("advance", 130_000)], 1_000),  # observe resets idleness
    ],
)
def test_idle_partition_advances_with_processing_time(
    steps: list[tuple[str, int]], max_event_ms: int
) -> None:
    windows = make_windows()
    windows.add("w", "a", 1_000, 1.0, 0, 100_000)
    for offset, (step, now_ms) in enumerate(steps, start=1):
        if step == "advance":
            windows.advance(now_ms)
        elif step == "record":  # late by now; still a record
            windows.add("w", "a", 2_000, 1.0, offset, now_ms)
        else:
            windows.observe(500, offset, now_ms)
    assert windows.max_event_ms == max_event_ms


def test_idle_advance_emits_the_open_window() -> None:
    windows = make_windows()
    windows.add("w", "a", 1_000, 1.0, 0, 100_000)
    assert windows.advance(129_999) == []
    assert spans(windows.advance(130_000)) == [("a", 0, 10_000, 1)]
    assert windows.committable_offset() == 1


def test_committable_offset_progression() -> None:
    feed = Feed(make_windows(make_spec(grace_ms=1_000)))
    windows = feed.windows
    assert windows.committable_offset() is None
    feed.offset = 5
    steps: list[tuple[str, int, int | None]] = [
        ("add", 1_000, 5),  # offset 5 opens [0, 10 s)
        ("add", 2_000, 5),
        ("observe", 3_000, 5),
        ("add", 10_500, 5),  # offset 8 opens [10 s, 20 s); watermark 9_500 keeps [0, 10 s)
        ("observe", 11_000, 8),  # watermark 10_000 closes [0, 10 s)
        ("add", 25_000, 10),  # offset 10 opens [20 s, 30 s), closes [10 s, 20 s)
        ("add", 1_000, 10),  # late; offset 11 counts as seen
        ("observe", 40_000, 13),  # nothing open: highest seen + 1
    ]
    for step, ts_ms, committable in steps:
        if step == "add":
            feed.add(ts_ms)
        else:
            feed.observe(ts_ms)
        windows.advance(0)
        assert windows.committable_offset() == committable, (step, ts_ms)


def test_committable_offset_is_held_until_advance_emits() -> None:
    feed = Feed(make_windows())
    feed.add(1_000)
    feed.observe(20_000)
    assert feed.windows.committable_offset() == 0
    feed.windows.advance(0)
    assert feed.windows.committable_offset() == 2


def test_restore_skips_replayed_records_into_closed_windows() -> None:
    # Before the crash: offset 0 at 1 s, offset 1 at 15 s (emits [0, 10 s)), offset 2 at
    # 3 s was late and dead-lettered. Committed offset 1 with clock 15 s, next offset 3.
    windows = make_windows()
    windows.restore(max_event_ms=15_000, replay_until_offset=3)
    assert windows.committable_offset() is None
    assert windows.advance(0) == []
    assert windows.add("w", "a", 15_000, 1.0, 1, 0) == ADDED  # its window was still open
    assert windows.add("w", "a", 3_000, 1.0, 2, 0) == REPLAYED
    assert windows.add("w", "a", 4_000, 1.0, 3, 0) == LATE  # new since the crash
    assert windows.committable_offset() == 1
    windows.observe(FAR_MS, 4, 0)
    assert spans(windows.advance(0)) == [("a", 10_000, 20_000, 1)]  # [0, 10 s) not reopened


EMPTY_VALUES = {"count": 0, "sum": 0, "mean": None, "last": None}


@pytest.mark.parametrize(
    ("spec", "records", "expected"),
    [
        pytest.param(
            make_spec(empty_windows=2),
            [("a", 1_000), ("b", 1_000), ("b", 21_000)],
            [
                ("a", 0, 10_000, 1),
                ("b", 0, 10_000, 1),
                ("a", 10_000, 20_000, 0),
                ("b", 10_000, 20_000, 0),
                ("a", 20_000, 30_000, 0),
                ("b", 20_000, 30_000, 1),
                ("b", 30_000, 40_000, 0),
                ("b", 40_000, 50_000, 0),
            ],
            id="tumbling-two",
        ),
        pytest.param(
            make_spec(empty_windows=0),
            [("a", 1_000), ("a", 21_000)],
            [("a", 0, 10_000, 1), ("a", 20_000, 30_000, 1)],
            id="none-by-default",
        ),
        pytest.param(
            make_spec(empty_windows=2, hop_ms=5_000),
            [("a", 7_000)],
            [
                ("a", 0, 10_000, 1),
                ("a", 5_000, 15_000, 1),
                ("a", 10_000, 20_000, 0),
                ("a", 15_000, 25_000, 0),
            ],
            id="hopping-on-the-hop-grid",
        ),
        pytest.param(
            make_spec(empty_windows=1),
            [("a", 1_000), ("a", 11_000), ("a", 31_000)],
            [
                ("a", 0, 10_000, 1),
                ("a", 10_000, 20_000, 1),
                ("a", 20_000, 30_000, 0),
                ("a", 30_000, 40_000, 1),
                ("a", 40_000, 50_000, 0),
            ],
            id="a-record-restarts-the-count",
        ),
    ],
)
def test_empty_windows(
    spec: WindowSpec, records: list[tuple[str, int]], expected: list[tuple[str, int, int, int]]
) -> None:
    feed = Feed(make_windows(spec))
    for series, ts_ms in records:
        feed.add(ts_ms, series=series)
    results = feed.close_all()
    assert spans(results) == expected
    assert all(r.values == EMPTY_VALUES for r in results if r.count == 0)
    assert feed.close_all() == []  # forgotten


def test_empty_windows_wait_for_the_watermark() -> None:
    feed = Feed(make_windows(make_spec(empty_windows=3, grace_ms=5_000)))
    feed.add(1_000)
    feed.observe(24_999)  # watermark 19_999: [10 s, 20 s) not yet
    assert spans(feed.windows.advance(0)) == [("a", 0, 10_000, 1)]
    feed.observe(25_000)
    assert spans(feed.windows.advance(0)) == [("a", 10_000, 20_000, 0)]
    assert feed.windows.committable_offset() == 0  # pinned for the empty windows to come


def restart_after(
    spec: WindowSpec, records: list[tuple[str, int]], commit_at: int
) -> tuple[list[WindowResult], list[WindowResult]]:
    """Run ``records`` (advancing after each) straight through, and again as a process
    that committed after record ``commit_at``, crashed later and restarted from the
    commit. Returns both runs' results; checks the restarted run's add outcomes."""
    straight = make_windows(spec)
    outcomes: list[AddOutcome] = []
    results: list[WindowResult] = []
    before_commit: list[WindowResult] = []
    commit: tuple[int | None, int | None, int] = (None, None, 0)
    for offset, (series, ts_ms) in enumerate(records):
        outcomes.append(straight.add(spec.spec_id, series, ts_ms, 1.0, offset, 0))
        results += straight.advance(0)
        if offset == commit_at:
            commit = (straight.committable_offset(), straight.max_event_ms, offset + 1)
            before_commit = list(results)
    committed, clock, next_offset = commit
    assert committed is not None and clock is not None
    restarted = make_windows(spec)
    restarted.restore(clock, next_offset)
    after: list[WindowResult] = []
    for offset in range(committed, len(records)):
        series, ts_ms = records[offset]
        outcome = restarted.add(spec.spec_id, series, ts_ms, 1.0, offset, 0)
        after += restarted.advance(0)
        if offset >= next_offset:
            assert outcome == outcomes[offset], offset
        else:  # handled before the crash: rebuilt into a window still open, or skipped
            assert outcome in {ADDED, REPLAYED}, offset
    return results, before_commit + after


def by_window(results: list[WindowResult]) -> dict[tuple[str, str, int], tuple[int, object]]:
    """Each window's count and values, checking a re-emitted window carries the same."""
    seen: dict[tuple[str, str, int], tuple[int, object]] = {}
    for r in results:
        value = (r.count, r.values)
        assert seen.setdefault((r.spec_id, r.series_key, r.start_ms), value) == value, r
    return seen


@pytest.mark.parametrize(
    "spec",
    [
        make_spec(grace_ms=3_000),
        make_spec(grace_ms=3_000, empty_windows=2),
        make_spec(grace_ms=2_000, hop_ms=4_000, empty_windows=3),
    ],
)
@pytest.mark.parametrize("seed", range(5))
def test_a_restart_emits_what_a_straight_run_emits(spec: WindowSpec, seed: int) -> None:
    rng = random.Random(seed)
    ts_ms, records = 0, []
    for _ in range(60):
        ts_ms += rng.randrange(0, 4_000)
        behind_ms = rng.choice([0, 0, 0, 2_000, 12_000])  # some within grace, some late
        records.append((rng.choice("abc"), max(0, ts_ms - behind_ms)))
    records.append(("z", ts_ms + 200_000))  # closes everything
    for commit_at in range(60):
        straight, restarted = restart_after(spec, records, commit_at)
        assert by_window(restarted) == by_window(straight), commit_at


@pytest.mark.parametrize(
    "overrides",
    [
        {"hop_ms": 0},
        {"hop_ms": 20_000},
        {"grace_ms": -1},
        {"empty_windows": -1},
        {"stats": frozenset({"avg"})},
    ],
)
def test_invalid_specs_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_spec(**overrides)


def test_values_follow_the_stats_order_whatever_the_set_order() -> None:
    spec = replace(make_spec(), stats=frozenset({"p99", "count", "last", "min"}))
    feed = Feed(make_windows(spec))
    feed.add(1_000)
    (result,) = feed.close_all()
    assert list(result.values) == ["count", "min", "last", "p99"]
