"""change: a field's value differs from the key's previous record."""

from __future__ import annotations

import pytest

from processors.firehose.change import MAX_VALUE_CHARS, Change, value_text

M = 60_000


@pytest.mark.parametrize(
    ("records", "timeframe_ms", "expected"),
    [
        ([("k", 0, "1.0"), ("k", 1, "1.1")], None, [(1, "1.1", "1.0")]),
        ([("k", 0, "1.0"), ("k", 1, "1.0")], None, []),  # near miss: the same
        ([("a", 0, "x"), ("b", 1, "y")], None, []),  # different keys: first records
        ([("k", 0, "x"), ("k", 5, "y"), ("k", 3, "z")], None, [(5, "y", "x")]),  # 3 is late
        ([("k", 0, "x"), ("k", M, "y")], M, [(M, "y", "x")]),  # within the timeframe
        ([("k", 0, "x"), ("k", M + 1, "y")], M, []),  # near miss: too long after
        ([("k", 0, "x"), ("k", 1, "y"), ("k", 2, "x")], None, [(1, "y", "x"), (2, "x", "y")]),
    ],
)
def test_change(
    records: list[tuple[str, int, str]],
    timeframe_ms: int | None,
    expected: list[tuple[int, str, str]],
) -> None:
    core = Change(timeframe_ms=timeframe_ms, max_keys=100)
    got = [m for key, t, v in records if (m := core.add(key, t, v)) is not None]
    assert [(m.ts_ms, m.value, m.previous) for m in got] == expected


def test_keys_are_capped_least_recently_seen_first() -> None:
    core = Change(timeframe_ms=None, max_keys=2)
    core.add("a", 0, "1")
    core.add("b", 1, "1")
    core.add("a", 2, "1")  # a is now the most recently seen
    core.add("c", 3, "1")  # evicts b
    assert core.evicted == 1 and len(core) == 2
    assert core.add("a", 4, "2") is not None  # a and c are remembered
    assert core.add("b", 5, "2") is None  # b's memory is gone: a first record again


def test_with_a_timeframe_keys_are_forgotten_after_it() -> None:
    core = Change(timeframe_ms=M, max_keys=100)
    core.add("k", 0, "x")
    core.expire(M)
    assert len(core) == 1
    core.expire(M + 1)
    assert len(core) == 0


def test_long_values_are_kept_as_a_digest() -> None:
    long = "x" * 10_000
    kept = value_text(long)
    assert len(kept) < MAX_VALUE_CHARS and kept != value_text(long[:-1] + "y")
    assert value_text("short") == "short"
