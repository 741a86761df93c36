"""spike: the current tumbling window's count against the previous one's, per key."""

from __future__ import annotations

import pytest

from processors.firehose.spike import Direction, Spike

M = 60_000


def run(counts: list[int], **settings: object) -> list[tuple[int, str, int, int]]:
    """``counts[i]`` records of key ``k`` in minute ``i`` (spread over it, none at its
    start); the windows of those minutes judged. Matches as (minute, direction, count,
    previous)."""
    config: dict[str, object] = {
        "ratio": 3.0,
        "direction": "up",
        "min_previous": 1,
        "min_current": 0,
        "grace_ms": 0,
    }
    config.update(settings)
    core = Spike(M, **config)  # type: ignore[arg-type]
    out = []
    for minute, count in enumerate(counts):
        for i in range(count):
            assert core.add("k", minute * M + (2 * i + 1) * (M // (2 * count)))
        out += core.due(minute * M)  # the previous window has ended
    out += core.due(len(counts) * M)
    return [(m.start_ms // M, m.direction, m.count, m.previous_count) for m in out]


@pytest.mark.parametrize(
    ("counts", "settings", "expected"),
    [
        ([10, 10, 10, 30, 10], {}, [(3, "up", 30, 10)]),
        ([10, 10, 10, 29, 10], {}, []),  # near miss: 2.9x
        ([0, 10, 10, 30], {}, [(3, "up", 30, 10)]),
        # inactive until two whole windows: minute 1 is the key's first, 2 vs 1 not judged
        ([0, 5, 30, 90], {}, [(3, "up", 90, 30)]),
        ([10, 10, 3, 10], {"direction": "down"}, [(2, "down", 3, 10)]),
        ([10, 10, 4, 10], {"direction": "down"}, []),  # near miss: 10 / 4 < 3
        ([10, 10, 3, 9], {"direction": "both"}, [(2, "down", 3, 10), (3, "up", 9, 3)]),
        # a drop to nothing is judged once, and then the key is forgotten
        ([10, 10, 0, 0, 0], {"direction": "down"}, [(2, "down", 0, 10)]),
        ([10, 10], {"direction": "down"}, []),  # the window after the last is not judged yet
        ([2, 2, 6], {"min_previous": 3}, []),  # too few in the previous window
        ([10, 10, 30], {"min_current": 31}, []),
        ([1, 0, 0, 5], {"min_previous": 0}, []),  # forgotten after the empty window
    ],
)
def test_spike(
    counts: list[int], settings: dict[str, object], expected: list[tuple[int, str, int, int]]
) -> None:
    assert run(counts, **settings) == expected


@pytest.mark.parametrize("direction", ["up", "down", "both"])
def test_a_record_for_a_judged_window_is_late_and_not_counted(direction: Direction) -> None:
    core = Spike(M, 3.0, direction, min_previous=1, min_current=0, grace_ms=10_000)
    core.add("k", 0)
    assert core.due(M + 9_999) == []
    assert core.add("k", 30_000)  # within grace: counted
    core.due(M + 10_000)
    assert not core.add("k", 59_000) and core.late == 1


def test_a_key_holds_its_open_windows_only_and_is_forgotten_after_an_empty_one() -> None:
    core = Spike(M, 2.0, "up", min_previous=1, min_current=0, grace_ms=0)
    for i in range(10_000):
        core.add(f"k{i}", 0)
    assert len(core) == 10_000
    core.due(2 * M)  # minute 0 judged, minute 1 empty: forgotten
    assert len(core) == 0


def test_a_key_is_forgotten_after_an_empty_window_even_with_a_later_one_open() -> None:
    core = Spike(M, 1.5, "up", min_previous=0, min_current=0, grace_ms=M)
    core.add("k", 0)  # minute 0
    core.add("k", 2 * M)  # minute 2, before minute 1 (empty) is judged
    # Minute 1 had no record: the key starts afresh at minute 2 and is inactive there,
    # so minute 2 (1 record) does not spike against minute 1 (0).
    assert core.due(10 * M) == []
    assert len(core) == 0
