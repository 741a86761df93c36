"""new_term: a value never seen for a key, after the key's learning period."""

from __future__ import annotations

import tracemalloc

import pytest

from processors.firehose.new_terms import NewTerms

H = 3_600_000


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([("h", 0, "sshd"), ("h", 2 * H, "nc")], [(2 * H, "nc")]),
        ([("h", 0, "sshd"), ("h", 2 * H, "sshd")], []),  # near miss: known
        ([("h", 0, "sshd"), ("h", H - 1, "nc"), ("h", 2 * H, "nc")], []),  # learnt in time
        ([("a", 0, "sshd"), ("b", 2 * H, "nc")], []),  # b is a new key: learning
        ([("h", 0, "sshd"), ("h", 2 * H, "nc"), ("h", 3 * H, "nc")], [(2 * H, "nc")]),  # once
    ],
)
def test_new_term(records: list[tuple[str, int, str]], expected: list[tuple[int, str]]) -> None:
    core = NewTerms(learning_ms=H, max_terms=100, max_keys=100)
    got = [m for key, t, term in records if (m := core.add(key, t, term)) is not None]
    assert [(m.ts_ms, m.term) for m in got] == expected


def test_terms_per_key_are_capped_least_recently_seen_first() -> None:
    core = NewTerms(learning_ms=0, max_terms=2, max_keys=10)
    core.add("h", 0, "a")
    core.add("h", 1, "b")
    core.add("h", 2, "a")  # a is the most recently seen
    assert core.add("h", 3, "c") is not None  # new; evicts b
    assert core.evicted_terms == 1 and core.terms_held() == 2
    assert core.add("h", 4, "a") is None
    assert core.add("h", 5, "b") is not None  # forgotten, so new again (the documented cost)


def test_keys_are_capped_and_an_evicted_key_learns_again() -> None:
    core = NewTerms(learning_ms=H, max_terms=10, max_keys=1)
    core.add("a", 0, "x")
    core.add("b", 0, "x")  # evicts a
    assert core.evicted_keys == 1
    assert core.add("a", 2 * H, "y") is None  # a learns again from here


def test_memory_per_term_is_about_120_bytes() -> None:
    """The bound the docs give: at most max_keys * max_terms terms, ~120 bytes each."""
    core = NewTerms(learning_ms=0, max_terms=1000, max_keys=10)
    terms = [f"proc-{t}" for t in range(1000)]
    tracemalloc.start()
    try:
        for key in range(10):
            for term in terms:
                core.add(f"h{key}", 0, term)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert core.terms_held() == 10_000
    assert held / core.terms_held() < 150  # measured: 121
