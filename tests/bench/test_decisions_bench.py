"""bench.decisions: the decision core's bench makes alerts fire and resolve."""

from __future__ import annotations

from bench.decisions import run


def test_the_decision_bench_decides_and_each_repeat_makes_the_same_outputs() -> None:
    # run() raises if two repeats (each from empty state) make different outputs
    result = run(hosts=30, minutes=9, repeats=2)
    assert result["signals"] == 270
    # a third of the hosts true in turn: every host fires and resolves at least once
    assert result["outputs"] >= 30 * 2
    assert len(result["signals_per_s_runs"]) == 2
