"""Canary analysis against hand-computed tables: Kayenta's per-interval judging, Flagger's
and Argo's cumulative failure limit, nodata, critical checks, warmup, grace, late
samples and abort."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from processors.firehose.canary import (
    CanaryAnalysis,
    CanaryConfig,
    IntervalResult,
    MetricCheck,
    Stat,
    Track,
    Verdict,
    judge,
    statistic,
)

T0 = 1_796_688_000_000  # the deployment starts
MIN = 60_000


def make_check(**overrides: Any) -> MetricCheck:
    fields: dict[str, Any] = {"name": "errors", "stat": "error_ratio", "max_ratio": 2.0}
    fields.update(overrides)
    return MetricCheck(**fields)


def make_config(**overrides: Any) -> CanaryConfig:
    fields: dict[str, Any] = {
        "interval_ms": MIN,
        "intervals": 5,
        "max_failures": 2,
        "checks": (make_check(),),
    }
    fields.update(overrides)
    return CanaryConfig(**fields)


def events(n: int, bad: int) -> list[float]:
    """``n`` per-event error values, ``bad`` of them 1."""
    return [1.0] * bad + [0.0] * (n - bad)


def feed(
    analysis: CanaryAnalysis,
    start_ms: int,
    canary: list[float],
    baseline: list[float],
    check: str = "errors",
) -> None:
    """Both sides' values 10 ms apart from ``start_ms``; every one must be taken."""
    sides: tuple[tuple[Track, list[float]], ...] = (("canary", canary), ("baseline", baseline))
    for track, values in sides:
        for k, value in enumerate(values):
            assert analysis.add(check, track, start_ms + 10 * k, value)


def intervals(out: list[IntervalResult | Verdict]) -> list[tuple[int, bool]]:
    return [(r.index, r.passed) for r in out if isinstance(r, IntervalResult)]


def verdicts(out: list[IntervalResult | Verdict]) -> list[tuple[str, int, int, int]]:
    return [
        (v.outcome, v.ts_ms, v.failed_intervals, v.judged_intervals)
        for v in out
        if isinstance(v, Verdict)
    ]


def test_a_healthy_canary_promotes_after_the_last_interval() -> None:
    analysis = CanaryAnalysis(make_config(), T0)
    for i in range(5):  # 1% errors on both sides
        feed(analysis, T0 + i * MIN, events(100, 1), events(100, 1))
        out = analysis.close_until(T0 + (i + 1) * MIN)
        assert intervals(out) == [(i, True)]
        assert not analysis.done or i == 4
    first = out[0]
    assert isinstance(first, IntervalResult)
    assert (first.start_ms, first.end_ms) == (T0 + 4 * MIN, T0 + 5 * MIN)
    (check,) = first.checks
    assert (check.canary, check.baseline, check.canary_n, check.baseline_n) == (
        0.01,
        0.01,
        100,
        100,
    )
    assert check.outcome == "pass"
    assert verdicts(out) == [("promote", T0 + 5 * MIN, 0, 5)]
    assert analysis.done
    assert analysis.close_until(T0 + 10 * MIN) == []
    assert analysis.add("errors", "canary", T0 + 4 * MIN, 0.0) is False


def test_a_canary_with_three_times_the_error_ratio_rolls_back_at_the_limit() -> None:
    analysis = CanaryAnalysis(make_config(intervals=10, max_failures=3), T0)
    for i in range(10):  # canary 3%, baseline 1%: 0.03 > 2 × 0.01 every interval
        feed(analysis, T0 + i * MIN, events(100, 3), events(100, 1))
    out = analysis.close_until(T0 + 10 * MIN)  # the clock is far ahead: all closable
    # intervals 0, 1, 2 fail; the third failure reaches max_failures 3 when interval 2
    # becomes judgeable, at its end T0 + 3 min, however late the caller closes
    assert intervals(out) == [(0, False), (1, False), (2, False)]
    assert verdicts(out) == [("rollback", T0 + 3 * MIN, 3, 3)]
    last = out[2]
    assert isinstance(last, IntervalResult)
    assert (last.checks[0].canary, last.checks[0].baseline) == (0.03, 0.01)
    assert last.checks[0].outcome == "fail"
    assert "0.03 > 2 × baseline 0.01" in last.checks[0].why
    assert analysis.done


@pytest.mark.parametrize(
    ("bad_per_interval", "expected_intervals", "expected_verdict"),
    [
        # failures count cumulatively, not consecutively (Flagger's failedChecks)
        ([3, 1, 3, 1, 3], [False, True, False, True, False], ("rollback", T0 + 5 * MIN, 3, 5)),
        # two failures of a limit of 3: promoted, even though the last interval failed
        ([3, 1, 1, 1, 3], [False, True, True, True, False], ("promote", T0 + 5 * MIN, 2, 5)),
        # 2 bad of 100 against 1: a ratio of exactly 2 is not beyond max_ratio 2
        ([2, 2, 2, 2, 2], [True] * 5, ("promote", T0 + 5 * MIN, 0, 5)),
    ],
)
def test_failed_intervals_are_counted_cumulatively(
    bad_per_interval: list[int],
    expected_intervals: list[bool],
    expected_verdict: tuple[str, int, int, int],
) -> None:
    analysis = CanaryAnalysis(make_config(max_failures=3), T0)
    out: list[IntervalResult | Verdict] = []
    for i, bad in enumerate(bad_per_interval):
        feed(analysis, T0 + i * MIN, events(100, bad), events(100, 1))
        out += analysis.close_until(T0 + (i + 1) * MIN)
    assert [passed for _, passed in intervals(out)] == expected_intervals
    assert verdicts(out) == [expected_verdict]


@pytest.mark.parametrize(
    ("min_difference", "outcome", "verdict"),
    [
        # 1 bad of 1000 against none: |0.001 - 0| is under the floor of 0.01
        (0.01, "pass", "promote"),
        # without the floor, 0.001 > 2 × 0 fails: one unlucky request rolls back
        (0.0, "fail", "rollback"),
    ],
)
def test_min_difference_keeps_a_tiny_error_ratio_against_zero_from_failing(
    min_difference: float, outcome: str, verdict: str
) -> None:
    config = make_config(
        intervals=1, max_failures=1, checks=(make_check(min_difference=min_difference),)
    )
    analysis = CanaryAnalysis(config, T0)
    feed(analysis, T0, events(1000, 1), events(1000, 0))
    interval, final = analysis.close_until(T0 + MIN)
    assert isinstance(interval, IntervalResult) and isinstance(final, Verdict)
    assert (interval.checks[0].canary, interval.checks[0].baseline) == (0.001, 0.0)
    assert interval.checks[0].outcome == outcome
    assert final.outcome == verdict


@pytest.mark.parametrize(
    ("nodata", "short", "passed", "verdict"),
    [
        ("ignore", "canary", True, "promote"),
        ("fail", "canary", False, "rollback"),
        ("ignore", "baseline", True, "promote"),
        ("fail", "baseline", False, "rollback"),
    ],
)
def test_too_few_samples_on_a_side_are_nodata_which_fails_only_when_asked(
    nodata: str, short: str, passed: bool, verdict: str
) -> None:
    config = make_config(intervals=1, max_failures=1, checks=(make_check(nodata=nodata),))
    analysis = CanaryAnalysis(config, T0)
    # 9 values on the short side, min_samples 10; all 9 bad on the canary's
    few, many = events(9, 9), events(100, 0)
    feed(analysis, T0, *((few, many) if short == "canary" else (many, few)))
    interval, final = analysis.close_until(T0 + MIN)
    assert isinstance(interval, IntervalResult) and isinstance(final, Verdict)
    (check,) = interval.checks
    # no judgement either way, though the stats are there
    assert check.outcome == "nodata"
    assert (check.canary, check.canary_n) == ((1.0, 9) if short == "canary" else (0.0, 100))
    assert interval.passed is passed
    assert final.outcome == verdict


def test_an_interval_without_values_has_no_stats() -> None:
    analysis = CanaryAnalysis(make_config(intervals=1), T0)
    feed(analysis, T0, [], events(20, 0))
    (interval, _) = analysis.close_until(T0 + MIN)
    assert isinstance(interval, IntervalResult)
    (check,) = interval.checks
    assert (check.canary, check.baseline, check.canary_n, check.outcome) == (None, 0.0, 0, "nodata")
    assert interval.passed


@pytest.mark.parametrize(
    ("critical", "expected"), [(True, [("rollback", T0 + 2 * MIN, 1, 2)]), (False, [])]
)
def test_a_failed_critical_check_rolls_back_at_once(
    critical: bool, expected: list[tuple[str, int, int, int]]
) -> None:
    checks = (
        make_check(critical=critical),
        make_check(name="latency", stat="mean", max_ratio=1.5),
    )
    analysis = CanaryAnalysis(make_config(max_failures=3, checks=checks), T0)
    latency = [100.0] * 20
    feed(analysis, T0, events(100, 1), events(100, 1))
    feed(analysis, T0, latency, latency, check="latency")
    feed(analysis, T0 + MIN, events(100, 5), events(100, 1))  # 5% against 1%
    feed(analysis, T0 + MIN, latency, latency, check="latency")
    out = analysis.close_until(T0 + 2 * MIN)
    assert intervals(out) == [(0, True), (1, False)]
    assert verdicts(out) == expected  # one failure of 3 allowed: only critical stops it
    assert analysis.done is critical
    if critical:
        final = out[-1]
        assert isinstance(final, Verdict)
        assert final.why.startswith("critical check 'errors' failed in interval 1: canary 0.05")


def test_a_critical_check_that_must_have_data_rolls_back_without_it() -> None:
    config = make_config(max_failures=3, checks=(make_check(critical=True, nodata="fail"),))
    analysis = CanaryAnalysis(config, T0)
    feed(analysis, T0, events(3, 0), events(100, 0))
    out = analysis.close_until(T0 + MIN)
    assert intervals(out) == [(0, False)]
    assert verdicts(out) == [("rollback", T0 + MIN, 1, 1)]


def test_warmup_samples_are_ignored_and_intervals_start_after_it() -> None:
    analysis = CanaryAnalysis(make_config(warmup_ms=2 * MIN, intervals=2), T0)
    # a canary failing every request while it warms up is not judged
    assert analysis.add("errors", "canary", T0, 1.0) is False
    assert analysis.add("errors", "canary", T0 + 2 * MIN - 1, 1.0) is False
    feed(analysis, T0 + 2 * MIN, events(100, 1), events(100, 1))
    assert analysis.close_until(T0 + 3 * MIN - 1) == []
    (interval,) = analysis.close_until(T0 + 3 * MIN)
    assert isinstance(interval, IntervalResult)
    assert (interval.index, interval.start_ms, interval.end_ms) == (0, T0 + 2 * MIN, T0 + 3 * MIN)
    assert interval.checks[0].canary_n == 100 and interval.passed
    # the analysis ends at T0 + 2 min warmup + 2 intervals
    assert analysis.add("errors", "canary", T0 + 4 * MIN - 1, 0.0) is True
    assert analysis.add("errors", "canary", T0 + 4 * MIN, 0.0) is False


def test_late_samples_of_a_judged_interval_are_not_counted() -> None:
    analysis = CanaryAnalysis(make_config(), T0)
    feed(analysis, T0, events(100, 1), events(100, 1))
    analysis.close_until(T0 + MIN)
    assert analysis.add("errors", "canary", T0 + MIN - 1, 1.0) is False  # interval 0: judged
    assert analysis.late == 1
    assert analysis.add("errors", "canary", T0 + MIN, 0.0) is True  # interval 1: open
    assert analysis.late == 1


def test_an_interval_waits_for_its_grace_and_takes_samples_until_then() -> None:
    config = make_config(intervals=1, grace_ms=10_000)
    analysis = CanaryAnalysis(config, T0)
    feed(analysis, T0, events(99, 1), events(100, 1))
    assert analysis.close_until(T0 + MIN) == []  # at the end, within the grace
    assert analysis.add("errors", "canary", T0 + MIN - 1, 0.0) is True  # arrives late, counted
    assert analysis.close_until(T0 + MIN + 9_999) == []
    interval, final = analysis.close_until(T0 + MIN + 10_000)
    assert isinstance(interval, IntervalResult)
    assert interval.checks[0].canary_n == 100
    assert verdicts([final]) == [("promote", T0 + MIN + 10_000, 0, 1)]


def test_abort_ends_the_analysis_without_a_promote() -> None:
    analysis = CanaryAnalysis(make_config(max_failures=3), T0)
    feed(analysis, T0, events(100, 3), events(100, 1))  # interval 0 fails
    feed(analysis, T0 + MIN, events(100, 1), events(100, 1))
    analysis.close_until(T0 + 2 * MIN)
    verdict = analysis.abort(T0 + 150_000, "rolled back by hand")
    assert verdict == Verdict("aborted", T0 + 150_000, 1, 2, "rolled back by hand")
    assert analysis.done
    assert analysis.add("errors", "canary", T0 + 2 * MIN, 0.0) is False
    assert analysis.close_until(T0 + 10 * MIN) == []
    assert analysis.abort(T0 + 200_000, "again") is None


def test_abort_after_a_verdict_is_nothing() -> None:
    analysis = CanaryAnalysis(make_config(intervals=1), T0)
    feed(analysis, T0, events(100, 1), events(100, 1))
    assert verdicts(analysis.close_until(T0 + MIN)) == [("promote", T0 + MIN, 0, 1)]
    assert analysis.abort(T0 + MIN, "too late") is None


LATENCY_1_TO_100 = [float(v) for v in range(1, 101)]


@pytest.mark.parametrize(
    ("canary", "canary_p99", "outcome"),
    [
        # a tail: 1..98, 300, 400; rank 0.99 × 99 = 98.01 → 300 + 0.01 × 100 = 301
        ([*LATENCY_1_TO_100[:98], 300.0, 400.0], 301.0, "fail"),
        # 5 ms slower everywhere: 104.01, 1.05 × the baseline's 99.01
        ([v + 5 for v in LATENCY_1_TO_100], 104.01, "pass"),
    ],
)
def test_p99_latency_against_max_ratio(
    canary: list[float], canary_p99: float, outcome: str
) -> None:
    check = make_check(name="latency_ms", stat="p99", max_ratio=1.1)
    # baseline 1..100: rank 98.01 → 99 + 0.01 × (100 - 99) = 99.01
    result = judge(check, canary, LATENCY_1_TO_100, 10)
    assert result.baseline == pytest.approx(99.01)
    assert result.canary == pytest.approx(canary_p99)
    assert result.outcome == outcome


BASELINE = [float(v) for v in range(100, 120)]


@pytest.mark.parametrize(
    ("shift", "direction", "confidence", "outcome"),
    [
        # 10 ms slower: U = 350 of 400 (module test), p_greater ≈ 2.6e-5 < 1 - 0.98; the
        # means' ratio 119.5 / 109.5 = 1.09 is within max_ratio 1.2: the U test alone fails it
        (10, "increase", 0.98, "fail"),
        (0, "increase", 0.98, "pass"),  # identical: p_greater = sf(-0.5 / s) ≈ 0.505
        (10, "decrease", 0.98, "pass"),  # slower is not worse here
        (10, "either", 0.98, "fail"),  # p_two_sided ≈ 5.2e-5
        (-10, "decrease", 0.98, "fail"),
        # 4 ms slower: U = Σ_{k<16} (4 + k + ½) + 4 × 20 = 272, d = 72; 16 pairs tied:
        # s² = 400/12 · (41 - 96/1560) = 1364.615, s = 36.9407
        # p_greater = sf(71.5 / s) = sf(1.93553) = 0.0265 < 0.05: one-sided, it fails…
        (4, "increase", 0.95, "fail"),
        # …while two-sided, 0.0529, it would pass
        (4, "either", 0.95, "pass"),
    ],
)
def test_mann_whitney_detects_a_shifted_distribution_in_the_bad_direction(
    shift: float, direction: str, confidence: float, outcome: str
) -> None:
    check = make_check(
        name="latency_ms",
        stat="mean",
        direction=direction,
        max_ratio=1.2,
        mann_whitney=confidence,
    )
    result = judge(check, [v + shift for v in BASELINE], BASELINE, 10)
    assert result.outcome == outcome
    if outcome == "fail":
        assert result.why.startswith("Mann-Whitney: canary")
        assert "×" not in result.why and "/ 1.2" not in result.why


@pytest.mark.parametrize(
    ("direction", "canary", "outcome"),
    [
        ("increase", 250.0, "fail"),  # 250 > 2 × 100
        ("increase", 200.0, "pass"),  # at the limit
        ("increase", 40.0, "pass"),  # better
        ("decrease", 40.0, "fail"),  # 40 < 100 / 2
        ("decrease", 50.0, "pass"),
        ("decrease", 250.0, "pass"),
        ("either", 250.0, "fail"),
        ("either", 40.0, "fail"),
        ("either", 150.0, "pass"),
    ],
)
def test_max_ratio_in_each_direction(direction: str, canary: float, outcome: str) -> None:
    check = make_check(name="throughput", stat="mean", direction=direction)
    assert judge(check, [canary] * 10, [100.0] * 10, 10).outcome == outcome


@pytest.mark.parametrize(
    ("stat", "values", "expected"),
    [
        ("mean", [1.0, 2.0, 3.0, 4.0], 2.5),
        ("error_ratio", [0.0, 1.0, 0.0, 0.0], 0.25),
        ("p50", [1.0, 2.0, 3.0, 4.0], 2.5),  # rank 1.5: halfway between 2 and 3
        ("p50", [3.0, 1.0, 2.0], 2.0),  # sorted first
        ("p90", [float(v) for v in range(1, 11)], 9.1),  # rank 8.1: 9 + 0.1 × 1
        ("p95", [float(v) for v in range(1, 11)], 9.55),  # rank 8.55
        ("p99", [float(v) for v in range(1, 11)], 9.91),  # rank 8.91
        ("p99", [7.0], 7.0),
    ],
)
def test_stats_by_hand(stat: Stat, values: list[float], expected: float) -> None:
    assert statistic(stat, values) == pytest.approx(expected)


def test_percentiles_match_the_standard_librarys_inclusive_quantiles() -> None:
    values = [float((v * 37) % 101) for v in range(60)]  # 60 scattered values
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    stats: tuple[tuple[Stat, int], ...] = (("p50", 49), ("p90", 89), ("p95", 94), ("p99", 98))
    for stat, index in stats:
        assert statistic(stat, values) == pytest.approx(cuts[index])


def test_samples_the_analysis_cannot_use_are_refused() -> None:
    analysis = CanaryAnalysis(make_config(), T0)
    assert analysis.add("unknown", "canary", T0, 0.0) is False
    assert analysis.add("errors", "canary", T0, float("nan")) is False
    assert analysis.add("errors", "canary", T0, 2.0) is False  # an error value is 0 or 1
    assert analysis.add("errors", "canary", T0 - 1, 0.0) is False  # before the start
    assert analysis.add("errors", "baseline", T0, 1.0) is True
    with pytest.raises(ValueError, match="track"):
        analysis.add("errors", "stable", T0, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("check", "config", "message"),
    [
        ({"max_ratio": None}, {}, "max_ratio, mann_whitney or both"),
        ({"max_ratio": 0.8}, {}, "max_ratio is a factor"),
        ({"mann_whitney": 98}, {}, "confidence in"),
        ({"min_difference": -1}, {}, "min_difference"),
        ({"stat": "p999"}, {}, "stat 'p999'"),
        ({"direction": "up"}, {}, "direction 'up'"),
        ({}, {"max_failures": 0}, "max_failures"),
        ({}, {"intervals": 0}, "intervals"),
        ({}, {"min_samples": 0}, "min_samples"),
        ({}, {"warmup_ms": -1}, "warmup_ms"),
        ({}, {"checks": ()}, "at least one check"),
        ({}, {"checks": (make_check(), make_check())}, "repeated: errors"),
    ],
)
def test_a_bad_config_is_refused_with_what_to_fix(
    check: dict[str, Any], config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_config(checks=(make_check(**check),), **config) if check else make_config(**config)
