from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable

import pytest

from processors.firehose.anomaly import (
    DEFAULT_CONFIG,
    THRESHOLD,
    AnomalyScore,
    DetectorConfig,
    DetectorState,
    Envelopes,
    Profile,
    new_state,
    score_point,
)

STEP_MS = 60_000  # 5,000 points span 3.5 days: no hour-of-week profile yet
FIVE_MIN_MS = 300_000  # 5,000 points span 17 days: the profile is in use from day 8
WARMUP = 1_000  # points a test series gets to learn before it is judged


def run(
    values: list[float], config: DetectorConfig = DEFAULT_CONFIG, step_ms: int = STEP_MS
) -> list[AnomalyScore]:
    state = new_state(config)
    return [score_point(state, v, i * step_ms, config) for i, v in enumerate(values)]


def alarms(scores: list[AnomalyScore], start: int = 0) -> list[int]:
    return [i for i, s in enumerate(scores) if i >= start and s.score >= THRESHOLD]


def gaussian(seed: int, n: int, sd: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, sd) for _ in range(n)]


def uniform(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    return [50.0 + 10.0 * rng.random() for _ in range(n)]


def ar1(seed: int, n: int, phi: float = 0.9) -> list[float]:
    rng = random.Random(seed)
    y, out = 0.0, []
    for _ in range(n):
        y = phi * y + rng.gauss(0.0, 1.0)
        out.append(y)
    return out


def daily(seed: int, n: int) -> list[float]:
    """A daily cycle (288 points a day, as 5-minute data) plus noise."""
    rng = random.Random(seed)
    return [20.0 + 10.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0) for i in range(n)]


def counts(seed: int, n: int) -> list[float]:
    """Small integer counts (binomial(20, 0.1)): quantised, mostly 1-3."""
    rng = random.Random(seed)
    return [float(sum(rng.random() < 0.1 for _ in range(20))) for _ in range(n)]


# ---------------------------------------------------------------- stationary noise


@pytest.mark.parametrize("step_ms", [STEP_MS, FIVE_MIN_MS], ids=["1min", "5min"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "make", [gaussian, uniform, ar1, daily], ids=["gaussian", "uniform", "ar1", "daily"]
)
def test_stationary_noise_raises_no_alarm_after_warmup(
    make: Callable[[int, int], list[float]], seed: int, step_ms: int
) -> None:
    scores = run(make(seed, WARMUP + 4_000), step_ms=step_ms)
    assert alarms(scores, start=WARMUP) == []
    assert all(0.0 <= s.score < 1.0 for s in scores)


# ---------------------------------------------------------------- spikes and shifts


@pytest.mark.parametrize(
    ("make", "jump", "direction"),
    [
        (gaussian, 8.0, "up"),
        (gaussian, -8.0, "down"),
        (uniform, 15.0, "up"),
        (daily, 25.0, "up"),
        (daily, -25.0, "down"),
        (counts, 12.0, "up"),
    ],
)
def test_a_spike_alarms_at_the_spike(
    make: Callable[[int, int], list[float]], jump: float, direction: str
) -> None:
    """The daily jumps leave the range the cycle spans: there is no seasonal model."""
    at = 2_000
    values = make(5, 3_000)
    base = values[at]
    values[at] += jump
    scores = run(values)
    s = scores[at]
    assert s.score >= THRESHOLD
    assert s.direction == direction
    assert not s.low <= values[at] <= s.high
    assert s.low <= base <= s.high  # the value it would have had is not anomalous
    assert alarms(scores, start=WARMUP) == [at]


@pytest.mark.parametrize(("shift", "direction"), [(6.0, "up"), (-6.0, "down"), (3.0, "up")])
def test_a_level_shift_alarms_within_a_few_points(shift: float, direction: str) -> None:
    at = 2_000
    values = [v + (shift if i >= at else 0.0) for i, v in enumerate(gaussian(8, 3_000))]
    scores = run(values)
    found = alarms(scores, start=WARMUP)
    assert found, "no alarm"
    first = found[0]
    assert at <= first <= at + 5
    s = scores[first]
    assert s.direction == direction
    assert not s.low <= values[first] <= s.high


def test_a_small_sustained_shift_is_caught_by_the_level() -> None:
    """A shift of 2 sd: no single value is a record, the recent level is."""
    at = 2_000
    values = [v + (2.0 if i >= at else 0.0) for i, v in enumerate(gaussian(9, 3_000))]
    scores = run(values)
    found = alarms(scores, start=WARMUP)
    assert found and at <= found[0] <= at + 60
    assert scores[found[0]].direction == "up"


def trough_index(after: int) -> int:
    """The first index >= ``after`` at the bottom of :func:`daily`'s cycle."""
    return after + (216 - after) % 288


def test_a_spike_normal_in_size_but_not_at_that_hour_alarms() -> None:
    """Daily cycle 10..30 in 5-minute points; at night (value ~10) a 28 is news."""
    at = trough_index(5_000)  # day 17: the hour-of-week profile knows this hour
    values = daily(7, 6_000)
    values[at] += 18.0
    assert values[at] < max(values[:at])  # no record: only the season says it is odd
    seasonal = run(values, step_ms=FIVE_MIN_MS)
    s = seasonal[at]
    assert alarms(seasonal, start=WARMUP) == [at]
    assert s.direction == "up"
    assert not s.low <= values[at] <= s.high
    assert abs(s.expected - 10.0) < 2.0
    plain = run(values, DetectorConfig(seasons=()), step_ms=FIVE_MIN_MS)
    assert alarms(plain, start=WARMUP) == []


def test_a_flat_stretch_where_the_cycle_should_be_alarms() -> None:
    at = 5_000
    values = daily(7, 6_000)
    values[at : at + 300] = [20.0] * 300  # the cycle's mean, held for a day
    found = alarms(run(values, step_ms=FIVE_MIN_MS), start=WARMUP)
    assert found and at <= found[0] <= at + 144


def test_one_alarm_per_event_then_alarms_again() -> None:
    values = gaussian(4, 3_000)
    values[2_000] += 10.0
    values[2_010] += 12.0  # inside the quiet period: no second alarm
    late = 2_000 + DEFAULT_CONFIG.suppress_points + 50
    values[late] += 20.0  # after it: a larger spike alarms again
    scores = run(values)
    assert alarms(scores, start=WARMUP) == [2_000, late]
    assert scores[2_010].score < THRESHOLD
    assert scores[2_010].direction == "up"  # still reported, just not alarmed


# ---------------------------------------------------------------- flat and quantised


@pytest.mark.parametrize(
    ("values", "at", "direction"),
    [
        ([5.0] * 300 + [5.5], 300, "up"),
        ([5.0] * 300 + [4.999], 300, "down"),
        ([0.0] * 300 + [1e-6], 300, "up"),
        ([1.0, 2.0] * 500 + [3.0], 1_000, "up"),
        ([float(i % 4) for i in range(1_000)] + [-1.0], 1_000, "down"),
    ],
    ids=["flat-up", "flat-down", "zero-then-tiny", "two-levels-then-new", "sawtooth-then-new"],
)
def test_flat_and_quantised_series_alarm_on_a_new_value(
    values: list[float], at: int, direction: str
) -> None:
    scores = run(values)
    assert alarms(scores, start=DEFAULT_CONFIG.warmup_points) == [at]
    assert scores[at].direction == direction


def test_a_flat_series_stays_quiet() -> None:
    scores = run([42.0] * 2_000)
    assert alarms(scores) == []
    assert scores[-1].expected == 42.0


# ---------------------------------------------------------------- invariance, causality, bad input


@pytest.mark.parametrize(("scale", "offset"), [(1_000.0, 0.0), (1e-3, 5.0), (-1.0, 0.0)])
def test_alarms_do_not_depend_on_units(scale: float, offset: float) -> None:
    """Margins are fractions of widths and spreads: bytes or gigabytes, same alarms."""
    values = daily(4, 6_000)
    values[3_000] += 8.0
    values[5_000:] = [v + 25.0 for v in values[5_000:]]
    plain = run(values, step_ms=FIVE_MIN_MS)
    scaled = run([scale * v + offset for v in values], step_ms=FIVE_MIN_MS)
    assert alarms(scaled) == alarms(plain)
    assert len(alarms(plain, start=WARMUP)) >= 2
    flip = {"up": "down", "down": "up", None: None}
    for i in alarms(plain):
        want = plain[i].direction if scale > 0 else flip[plain[i].direction]
        assert scaled[i].direction == want


def test_scores_of_a_prefix_do_not_depend_on_later_points() -> None:
    values = daily(3, 3_000)
    values[2_500] += 30.0
    full = run(values)
    for cut in (1, 50, 1_234, 2_500):
        assert run(values[:cut]) == full[:cut]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_ignored(bad: float) -> None:
    values = gaussian(6, 1_500)
    clean = run(values)
    state = new_state()
    mixed: list[AnomalyScore] = []
    for i, v in enumerate(values):
        if i in (0, 700, 701):
            ignored = score_point(state, bad, i * STEP_MS)
            assert ignored.score == 0.0
            assert ignored.direction is None
        mixed.append(score_point(state, v, i * STEP_MS))
    assert mixed == clean


def test_config_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="one entry each"):
        DetectorConfig(spans_points=(1, 30), tolerances=(0.05,), spread_margins=(1.0, 1.0))


# ---------------------------------------------------------------- bounded state


def deep_size(obj: object) -> int:
    """Bytes of ``obj`` and what it refers to (slots, lists, floats, ints)."""
    size = sys.getsizeof(obj)
    if isinstance(obj, list):
        return size + sum(deep_size(x) for x in obj)
    if isinstance(obj, DetectorState | Envelopes | Profile):
        return size + sum(deep_size(getattr(obj, name)) for name in type(obj).__slots__)
    return size  # floats, ints, str, None; an array's getsizeof includes its items


def test_state_does_not_grow() -> None:
    """Every hour-of-week bucket is filled after a week; nothing grows after that."""
    values = daily(2, 20_000)
    state = new_state()
    for i, v in enumerate(values[:3_000]):
        score_point(state, v, i * FIVE_MIN_MS)
    early = deep_size(state)
    for i, v in enumerate(values[3_000:], start=3_000):
        score_point(state, v, i * FIVE_MIN_MS)
    assert deep_size(state) == early
    assert early < 4_096
