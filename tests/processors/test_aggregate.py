from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from processors.aggregate import (
    EXACT_QUANTILE_LIMIT,
    QUANTILES,
    RELATIVE_ACCURACY,
    SKETCH_MAX_BINS,
    STATS,
    Accumulator,
    QuantileSketch,
    quantile_rank,
)

SIZE_MS = 10_000


def accumulate(points: list[tuple[int, float]], stats: tuple[str, ...] = STATS) -> Accumulator:
    acc = Accumulator(stats)
    for ts_ms, value in points:
        acc.add(ts_ms, value)
    return acc


def every_stat(*values: float | None) -> dict[str, float | None]:
    """``values`` named in STATS order: count, sum, min, max, mean, last, rate, p50, p90, p99."""
    return dict(zip(STATS, values, strict=True))


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[quantile_rank(q, len(ordered))]


def within_bound(estimate: float | None, exact: float) -> bool:
    assert estimate is not None
    return abs(estimate - exact) <= RELATIVE_ACCURACY * abs(exact)


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        pytest.param(
            [(1000, 3.0), (2000, 1.0), (1500, 2.0)],
            every_stat(3, 6, 1, 3, 2, 1, 0.3, 2, 2, 2),
            id="three-out-of-order",
        ),
        pytest.param(
            [(5, 4.5)],
            every_stat(1, 4.5, 4.5, 4.5, 4.5, 4.5, 0.1, 4.5, 4.5, 4.5),
            id="one",
        ),
        pytest.param(
            [(1000, 1.0), (1000, 5.0), (999, 7.0)],
            {"last": 5.0, "max": 7.0},
            id="last-tie-goes-to-later-added",
        ),
        pytest.param(
            [(2000, 7.0), (1000, 9.0)],
            {"last": 7.0},
            id="last-is-greatest-ts-not-last-added",
        ),
        pytest.param(
            [(i, -2.0) for i in range(3)] + [(9, 0.0)],
            {"sum": -6, "min": -2, "max": 0, "mean": -1.5, "p50": -2, "p99": -2},
            id="negative-and-zero",
        ),
        pytest.param(
            [(i, float(i + 1)) for i in range(10)],
            {"p50": 5, "p90": 9, "p99": 9, "rate": 1.0, "last": 10},
            id="ten-lower-rank",  # ranks floor(4.5)=4, floor(8.1)=8, floor(8.91)=8
        ),
        pytest.param(
            [(i, float(i)) for i in range(101)],
            {"p50": 50, "p90": 90, "p99": 99, "mean": 50},
            id="hundred-and-one",
        ),
    ],
)
def test_stats_on_small_tables(
    points: list[tuple[int, float]], expected: dict[str, float | None]
) -> None:
    result = accumulate(points).result(STATS, SIZE_MS)
    assert {k: result[k] for k in expected} == pytest.approx(expected)


def test_result_keeps_the_requested_order_and_only_those() -> None:
    result = accumulate([(1, 2.0)], ("max", "count")).result(("max", "count"), SIZE_MS)
    assert list(result) == ["max", "count"]


def test_rate_is_records_per_second_over_the_window() -> None:
    acc = accumulate([(i, 100.0) for i in range(5)])
    assert acc.result(["rate"], 60_000) == {"rate": pytest.approx(5 / 60)}


def test_empty_accumulator() -> None:
    expected = every_stat(0, 0, None, None, None, None, 0, None, None, None)
    assert Accumulator().result(STATS, SIZE_MS) == expected


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: Accumulator(["count", "median"]), id="unknown-at-creation"),
        pytest.param(lambda: Accumulator(["count"]).result(["avg"], SIZE_MS), id="unknown-empty"),
        pytest.param(
            lambda: accumulate([(1, 1.0)], ("count",)).result(["avg"], SIZE_MS), id="unknown"
        ),
        pytest.param(
            lambda: accumulate([(1, 1.0)], ("mean",)).result(["p50"], SIZE_MS),
            id="quantile-not-kept",
        ),
    ],
)
def test_bad_stat_names_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


def test_quantiles_are_exact_up_to_the_limit_and_bounded_after() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 2) for _ in range(EXACT_QUANTILE_LIMIT + 1)]
    acc = Accumulator(["p50", "p90", "p99"])
    for i, value in enumerate(values[:-1]):
        acc.add(i, value)
    exact = {s: exact_quantile(values[:-1], q) for s, q in QUANTILES.items()}
    assert acc.result(QUANTILES, SIZE_MS) == exact
    acc.add(0, values[-1])
    result = acc.result(QUANTILES, SIZE_MS)
    for stat, q in QUANTILES.items():
        assert within_bound(result[stat], exact_quantile(values, q))
    assert result != {s: exact_quantile(values, q) for s, q in QUANTILES.items()}  # sketched


DISTRIBUTIONS: dict[str, Callable[[random.Random], float]] = {
    "lognormal": lambda r: r.lognormvariate(0, 3),
    "normal-around-zero": lambda r: r.gauss(0, 50),
    "latency-ms": lambda r: r.expovariate(1 / 120) + 1,
    "mostly-zero": lambda r: 0.0 if r.random() < 0.7 else r.uniform(-5, 1e6),
    "ratio": lambda r: r.betavariate(2, 5),
}


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_sketched_quantiles_within_relative_accuracy(name: str) -> None:
    rng = random.Random(f"quantiles-{name}")
    values = [DISTRIBUTIONS[name](rng) for _ in range(10_000)]
    acc = accumulate([(i, v) for i, v in enumerate(values)])
    result = acc.result(QUANTILES, SIZE_MS)
    for stat, q in QUANTILES.items():
        assert within_bound(result[stat], exact_quantile(values, q)), stat
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    qs = [i / 200 for i in range(201)]
    for q, estimate in zip(qs, sketch.quantiles(qs), strict=True):
        assert within_bound(estimate, exact_quantile(values, q)), q


def test_sketch_bins_stay_bounded_and_the_top_stays_accurate() -> None:
    # e^-120 .. e^120 of each sign: about 12,000 bins each before folding.
    values = [sign * math.exp(i / 50) for i in range(-6_000, 6_000) for sign in (1, -1)]
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    assert len(sketch._pos.counts) <= SKETCH_MAX_BINS
    assert len(sketch._neg.counts) <= SKETCH_MAX_BINS
    for q in (0.0, 0.01, 0.99, 1.0):  # the largest magnitudes, far from the folded bins
        assert within_bound(sketch.quantiles([q])[0], exact_quantile(values, q)), q


def test_a_constant_series_has_exact_sketched_quantiles() -> None:
    acc = accumulate([(i, 0.3) for i in range(EXACT_QUANTILE_LIMIT * 2)])
    assert acc.result(QUANTILES, SIZE_MS) == {"p50": 0.3, "p90": 0.3, "p99": 0.3}


@pytest.mark.parametrize(
    ("left", "right"),
    [(0, 0), (0, 50), (50, 50), (100, 200), (200, 100), (50, 1000), (1000, 50), (600, 900)],
)
def test_merge_is_adding_everything_to_one(left: int, right: int) -> None:
    rng = random.Random(left * 10_000 + right)
    points = [(rng.randrange(1000), float(rng.randrange(-500, 5000))) for _ in range(left + right)]
    a, b = accumulate(points[:left]), accumulate(points[left:])
    a.merge(b)
    whole = accumulate(points)
    merged, expected = a.result(STATS, SIZE_MS), whole.result(STATS, SIZE_MS)
    scalars = [s for s in STATS if s not in QUANTILES]
    assert {s: merged[s] for s in scalars} == {s: expected[s] for s in scalars}
    for stat, q in QUANTILES.items():
        if left + right <= EXACT_QUANTILE_LIMIT:
            assert merged[stat] == expected[stat]
        elif points:
            assert within_bound(merged[stat], exact_quantile([v for _, v in points], q))


def test_merge_refuses_values_it_cannot_have() -> None:
    with_quantiles, without = Accumulator(["p99"]), accumulate([(1, 1.0)], ("mean",))
    with pytest.raises(ValueError):
        with_quantiles.merge(without)
