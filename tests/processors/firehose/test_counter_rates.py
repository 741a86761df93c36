"""counter_rates: per-second rates of cumulative counters, per series."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from processors.firehose.counter_rates import CounterRates

S = 1000
T0 = 1_795_899_240_000


def sample(ts_s: float, value: float, **overrides: Any) -> dict[str, Any]:
    """A validated sample of counter ``requests`` on ``web-1``, ``ts_s`` seconds after T0."""
    fields = {
        "ts_ms": T0 + int(ts_s * S),
        "name": "requests",
        "value": value,
        "unit": "{request}",
        "host": "web-1",
        "service": "api",
        "labels": {"route": "/"},
        "cumulative": True,
    }
    return fields | overrides


def rates(samples: list[dict[str, Any]], max_series: int = 100) -> list[float | None]:
    core = CounterRates(max_series)
    return [None if (r := core.rate(s)) is None else r["value"] for s in samples]


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([(0, 10)], [None]),  # a series' first sample: nothing to subtract
        ([(0, 10), (10, 60), (20, 110)], [None, 5.0, 5.0]),  # steady: 50 per 10 s
        ([(0, 10), (10, 10)], [None, 0.0]),  # no increase is a rate of 0
        ([(0, 10), (0.5, 11)], [None, 2.0]),  # per second, from milliseconds
        ([(0, 100), (10, 30), (20, 80)], [None, None, 5.0]),  # a reset: kept, no rate
        ([(0, 10), (10, 60), (10, 70)], [None, 5.0, None]),  # zero interval: ignored
        ([(0, 10), (10, 60), (5, 20), (20, 110)], [None, 5.0, None, 5.0]),  # out of order
        ([(0, 10), (10, 60), (0, 10), (10, 60)], [None, 5.0, None, None]),  # replayed
    ],
)
def test_rate_over_two_adjacent_samples(
    samples: list[tuple[float, float]], expected: list[float | None]
) -> None:
    assert rates([sample(t, v) for t, v in samples]) == expected


def test_a_replay_into_a_fresh_core_gives_the_same_rates_but_the_first() -> None:
    """After a restart the firehose replays from its last commit into a new pipeline."""
    series = [sample(t, 10 + 3 * t) for t in range(0, 60, 10)]
    first_run = rates(series)
    assert rates(series[2:]) == [None, *first_run[3:]]


def test_the_rate_sample_is_the_counter_per_second_under_its_name_and_identity() -> None:
    core = CounterRates(100)
    assert core.rate(sample(0, 10)) is None
    assert core.rate(sample(4, 30)) == {
        "ts_ms": T0 + 4 * S,
        "name": "requests.rate",
        "value": 5.0,
        "unit": "{request}/s",
        "host": "web-1",
        "service": "api",
        "labels": {"route": "/"},
    }  # no "cumulative": a rate is no running total


@pytest.mark.parametrize(("unit", "rate_unit"), [("s", "s/s"), ("By", "By/s"), (None, None)])
def test_the_unit_is_per_second(unit: str | None, rate_unit: str | None) -> None:
    core = CounterRates(100)
    core.rate(sample(0, 1, unit=unit))
    rate = core.rate(sample(1, 2, unit=unit))
    assert rate is not None and rate["unit"] == rate_unit


@pytest.mark.parametrize(
    "other",
    [
        {"name": "errors"},
        {"host": "web-2"},
        {"service": None},
        {"labels": {"route": "/login"}},
        {"labels": {"route": "/", "method": "GET"}},
    ],
)
def test_name_host_service_and_labels_make_different_series(other: dict[str, Any]) -> None:
    assert rates([sample(0, 10), sample(10, 60, **other), sample(20, 110)]) == [None, None, 5.0]


def test_labels_in_another_order_are_the_same_series() -> None:
    samples = [
        sample(0, 10, labels={"a": "1", "b": "2"}),
        sample(10, 60, labels={"b": "2", "a": "1"}),
    ]
    assert rates(samples) == [None, 5.0]


def test_series_are_capped_least_recently_updated_first() -> None:
    core = CounterRates(2)
    a, b, c = ({"labels": {"route": r}} for r in ("a", "b", "c"))
    core.rate(sample(0, 1, **a))
    core.rate(sample(1, 1, **b))
    core.rate(sample(2, 2, **a))  # a is now the most recently updated
    core.rate(sample(3, 1, **c))  # evicts b
    assert (core.evicted, len(core)) == (1, 2)
    assert core.rate(sample(4, 3, **a)) is not None  # a and c are remembered
    assert core.rate(sample(5, 2, **c)) is not None
    assert core.rate(sample(6, 2, **b)) is None  # b's last sample is gone: a first one again
    assert core.evicted == 2


def test_an_ignored_sample_does_not_count_as_an_update() -> None:
    core = CounterRates(2)
    a, b, c = ({"labels": {"route": r}} for r in ("a", "b", "c"))
    core.rate(sample(10, 1, **a))
    core.rate(sample(11, 1, **b))
    core.rate(sample(5, 1, **a))  # out of order: a stays the least recently updated
    core.rate(sample(12, 1, **c))  # evicts a
    assert core.rate(sample(13, 2, **b)) is not None
    assert core.rate(sample(14, 2, **a)) is None


def test_a_bound_below_the_live_series_makes_no_rate_at_all() -> None:
    """Why the bound needs headroom (and the eviction count watching): series updated in
    turn are each forgotten just before their next sample."""
    core = CounterRates(2)
    made = [core.rate(sample(t, t, labels={"route": r})) for t in range(5) for r in ("a", "b", "c")]
    assert made == [None] * 15 and core.evicted == 13


def test_max_series_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_series"):
        CounterRates(0)


def test_memory_per_series_is_about_200_bytes() -> None:
    """The bound the pipeline's default gives (MAX_COUNTER_SERIES): series as the
    hostmetrics receiver sends them, each sample decoded into its own strings."""
    core = CounterRates(10_000)
    tracemalloc.start()
    try:
        for n in range(10_000):
            host, cpu = f"web-{n // 16}", f"cpu{n % 16}"
            labels = {
                "os.type": "linux".upper().lower(),  # a string of its own, as decoded
                "cpu": cpu,
                "state": "idle".upper().lower(),
                "temporality": "cumulative".upper().lower(),
                "monotonic": "true".upper().lower(),
            }
            name = "system.cpu.time".upper().lower()
            core.rate(sample(0, 1.0, name=name, host=host, labels=labels))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(core) == 10_000
    assert held / len(core) < 300  # measured: 202
