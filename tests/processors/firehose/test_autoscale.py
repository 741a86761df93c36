"""The Kubernetes HPA algorithm against hand-computed tables: the proposal, the tolerance,
stabilisation over recent recommendations and the scale-up and scale-down rate policies."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from processors.firehose.autoscale import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Autoscaler,
    AutoscalerConfig,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
    proposal,
)

T0 = 1_796_688_000_000
S = 1_000  # a second, in ms


def make_config(**overrides: Any) -> AutoscalerConfig:
    """Target 1.0 per replica, 1 to 100 replicas, HPA's default behavior."""
    fields: dict[str, Any] = {"target_value": 1.0, "min_replicas": 1, "max_replicas": 100}
    return AutoscalerConfig(**(fields | overrides))


def run(autoscaler: Autoscaler, rows: list[tuple[int, int, float]]) -> list[tuple[int, int]]:
    """Evaluate (t in s, current, metric) in order, as the shell would: each change is scaled
    and recorded. The (proposed, replicas) of each row."""
    out = []
    for t_s, current, metric in rows:
        decision = autoscaler.evaluate(T0 + t_s * S, current, metric)
        if decision.replicas != current:
            autoscaler.record_scale(T0 + t_s * S, current, decision.replicas)
        out.append((decision.proposed, decision.replicas))
    return out


@pytest.mark.parametrize(
    ("current", "metric", "expected"),
    [
        (4, 1.5, 6),  # ratio 1.5: ceil(4 × 1.5) = 6
        (3, 1.4, 5),  # ceil(3 × 1.4) = ceil(4.2) = 5
        (10, 0.4, 4),  # ceil(10 × 0.4) = 4
        (10, 0.05, 1),  # ceil(0.5) = 1
        (7, 2.0, 14),  # ceil(7 × 2) = 14
    ],
)
def test_a_metric_per_replica_proposes_the_ceiling_of_current_times_the_ratio(
    current: int, metric: float, expected: int
) -> None:
    assert proposal(current, metric, make_config()) == expected


@pytest.mark.parametrize(
    ("target", "current", "metric", "expected"),
    [
        # ratio = metric / (target × current), proposal ceil(metric / target)
        (30.0, 4, 300.0, 10),  # ratio 300 / 120 = 2.5: ceil(10) = 10
        (30.0, 4, 61.0, 3),  # ratio 61 / 120 = 0.51: ceil(2.03) = 3
        (30.0, 4, 100.0, 4),  # ratio 100 / 120 = 0.83, outside the tolerance: ceil(3.33) = 4
        (30.0, 2, 66.0, 2),  # ratio 66 / 60 = 1.1, within the tolerance: stays 2
        (30.0, 2, 67.0, 3),  # ratio 67 / 60 = 1.117: ceil(2.23) = 3
        # ceil(87 / 3) = 29, as Kubernetes; ceil(87 / 21 × 7) would be 30, the product
        # being 29.000000000000004 in floating point
        (3.0, 7, 87.0, 29),
    ],
)
def test_a_fleet_total_proposes_the_ceiling_of_the_total_over_the_per_replica_target(
    target: float, current: int, metric: float, expected: int
) -> None:
    config = make_config(target_value=target, per_replica=False)
    assert proposal(current, metric, config) == expected


@pytest.mark.parametrize(
    ("tolerance", "metric", "expected"),
    [
        # 10 replicas, target 1.0: the ratio is the metric
        (0.1, 1.1, 10),  # exactly 1 + 0.1: within, no change
        (0.1, 1.11, 12),  # ceil(10 × 1.11) = ceil(11.1) = 12
        (0.1, 0.9, 10),  # exactly 1 - 0.1: within
        (0.1, 0.89, 9),  # ceil(8.9) = 9
        (0.0, 1.01, 11),  # no tolerance: ceil(10.1) = 11
        (0.0, 1.0, 10),  # exactly on target
        (0.2, 1.15, 10),  # within 0.2
        (0.2, 1.25, 13),  # ceil(12.5) = 13
    ],
)
def test_no_change_while_the_ratio_is_within_the_tolerance_edges_included(
    tolerance: float, metric: float, expected: int
) -> None:
    assert proposal(10, metric, make_config(tolerance=tolerance)) == expected


@pytest.mark.parametrize(
    ("current", "metric", "expected"),
    [
        # 2 to 8 replicas
        (4, 0.1, 2),  # ceil(0.4) = 1, raised to min_replicas 2
        (4, 0.0, 2),  # nothing to do: still min_replicas
        (4, 3.0, 8),  # 12, lowered to max_replicas 8
        (8, 1.0, 8),  # on target at the maximum
        (2, 0.5, 2),  # ceil(1.0) = 1, raised to 2
    ],
)
def test_the_proposal_is_clamped_to_min_and_max_replicas(
    current: int, metric: float, expected: int
) -> None:
    config = make_config(min_replicas=2, max_replicas=8)
    assert proposal(current, metric, config) == expected


@pytest.mark.parametrize(
    ("current", "metric", "match"),
    [(0, 1.0, "current"), (4, -1.0, "metric"), (4, float("nan"), "metric")],
)
def test_a_proposal_needs_a_replica_and_a_finite_metric(
    current: int, metric: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        proposal(current, metric, make_config())


@pytest.mark.parametrize(
    ("current", "metric", "proposed", "replicas"),
    [
        # the defaults: max(ceil(current × 2), current + 4) per 15 s
        (2, 10.0, 20, 6),  # max(4, 6) = 6
        (10, 3.0, 30, 20),  # max(20, 14) = 20
        (3, 5.0, 15, 7),  # max(6, 7) = 7
        (1, 2.0, 2, 2),  # limit max(2, 5) = 5: 2 is allowed
        (8, 1.5, 12, 12),  # limit max(16, 12) = 16
    ],
)
def test_scale_up_is_limited_by_the_default_policies(
    current: int, metric: float, proposed: int, replicas: int
) -> None:
    decision = Autoscaler(make_config()).evaluate(T0, current, metric)
    assert (decision.proposed, decision.stabilized, decision.replicas) == (
        proposed,
        proposed,
        replicas,
    )


@pytest.mark.parametrize(
    ("select", "current", "metric", "replicas"),
    [
        ("min", 2, 10.0, 4),  # min(ceil(2 × 2), 2 + 4) = 4
        ("min", 10, 3.0, 14),  # min(20, 14) = 14
        ("max", 10, 3.0, 20),  # max(20, 14) = 20
        ("disabled", 2, 10.0, 2),  # no scale-up at all
        ("disabled", 10, 3.0, 10),
    ],
)
def test_scale_up_select_picks_the_largest_or_smallest_limit_or_none(
    select: SelectPolicy, current: int, metric: float, replicas: int
) -> None:
    config = make_config(scale_up=replace(DEFAULT_SCALE_UP, select=select))
    assert Autoscaler(config).evaluate(T0, current, metric).replicas == replicas


def test_the_scale_up_limit_is_capped_by_max_replicas() -> None:
    # proposal 20 clamped to 5; the policy limit max(4, 6) = 6 does not bind
    decision = Autoscaler(make_config(max_replicas=5)).evaluate(T0, 2, 10.0)
    assert (decision.proposed, decision.replicas) == (5, 5)


@pytest.mark.parametrize(
    ("events", "after_s", "current", "replicas"),
    [
        # metric 20: proposal 20 × current, clamped to 100; defaults, 15 s periods
        ([], 10, 6, 12),  # start 6: max(12, 10) = 12
        ([(2, 6)], 10, 6, 6),  # 4 added 10 s ago: start 2, limit max(4, 6) = 6, no more
        ([(2, 6)], 14, 6, 6),  # still in the period
        ([(2, 6)], 15, 6, 12),  # 15 s ago is out of it (ts > now - period): start 6
        ([(2, 4), (4, 6)], 10, 6, 6),  # +2 and +2: start 2, limit 6
        ([(8, 6)], 5, 6, 16),  # 2 removed: start 8, limit max(16, 12) = 16
    ],
)
def test_scale_events_in_the_period_count_against_the_scale_up_limit(
    events: list[tuple[int, int]], after_s: int, current: int, replicas: int
) -> None:
    autoscaler = Autoscaler(make_config())
    for from_replicas, to_replicas in events:
        autoscaler.record_scale(T0, from_replicas, to_replicas)
    assert autoscaler.evaluate(T0 + after_s * S, current, 20.0).replicas == replicas


def test_scale_down_waits_for_the_highest_recommendation_of_the_last_five_minutes() -> None:
    # target 0.5 per replica, 1 to 20, the defaults: 300 s window, 100% per 15 s
    autoscaler = Autoscaler(make_config(target_value=0.5, max_replicas=20))
    rows = [  # (t in s, current, metric)
        (0, 10, 0.25),  # ratio 0.5: 5; the first evaluation also records 10 at t 0
        (60, 10, 0.2),  # ratio 0.4: 4; highest since t -240 is 10
        (120, 10, 0.35),  # ratio 0.7: 7; still 10
        (299, 10, 0.2),  # 4; the t 0 records are 299 s old: still 10
        (300, 10, 0.2),  # 4; t 0 has left (ts > now - 300 s): max(4, 7, 4, 4) = 7, 100% allows
        (420, 7, 0.2),  # ratio 0.4: ceil(2.8) = 3; since t 120 (excluded): max(4, 4, 3) = 4
        (480, 4, 0.5),  # ratio 1: 4, stays
        (500, 4, 1.0),  # ratio 2: 8; scale-up has no window, limit max(8, 8) = 8
    ]
    assert run(autoscaler, rows) == [
        (5, 10),
        (4, 10),
        (7, 10),
        (4, 10),
        (4, 7),
        (3, 4),
        (4, 4),
        (8, 8),
    ]


def test_a_scale_up_window_takes_the_lowest_recommendation_in_it() -> None:
    config = make_config(scale_up=replace(DEFAULT_SCALE_UP, stabilization_ms=60 * S))
    rows = [
        (0, 4, 2.0),  # 8; the recorded current 4 (t 0) is lower: stays 4
        (30, 4, 2.0),  # 8; min(4, 8, 8) = 4
        (60, 4, 2.0),  # 8; t 0 has left the window: min(8, 8) = 8, limit max(8, 8) = 8
    ]
    assert run(Autoscaler(config), rows) == [(8, 4), (8, 4), (8, 8)]


@pytest.mark.parametrize(
    ("current", "min_replicas", "replicas"),
    [
        # 50% per 60 s, no window; metric 0: the proposal is min_replicas
        (10, 1, 5),  # int(10 × 0.5) = 5
        (7, 1, 3),  # int(7 × 0.5) = int(3.5) = 3: truncated, 4 of 7 go
        (3, 1, 1),  # int(1.5) = 1
        (6, 4, 4),  # int(3) = 3, raised to min_replicas 4
    ],
)
def test_scale_down_percent_policy_truncates_like_kubernetes(
    current: int, min_replicas: int, replicas: int
) -> None:
    half = ScalingRules(0, (ScalingPolicy("percent", 50, 60 * S),))
    config = make_config(min_replicas=min_replicas, scale_down=half)
    decision = Autoscaler(config).evaluate(T0, current, 0.0)
    assert (decision.proposed, decision.replicas) == (min_replicas, replicas)


def test_scale_down_events_in_the_period_count_against_the_scale_down_limit() -> None:
    half = ScalingRules(0, (ScalingPolicy("percent", 50, 60 * S),))
    autoscaler = Autoscaler(make_config(scale_down=half))
    rows = [
        (0, 10, 0.1),  # 1; int(10 × 0.5) = 5
        (30, 5, 0.1),  # 1; 5 removed 30 s ago: start 10, limit 5, no further
        (59, 5, 0.1),  # still in the period
        (60, 5, 0.1),  # 60 s ago is out: start 5, int(2.5) = 2
    ]
    assert run(autoscaler, rows) == [(1, 5), (1, 5), (1, 5), (1, 2)]


@pytest.mark.parametrize(
    ("select", "replicas"),
    [
        # 10 replicas, metric 0; limits: 2 pods → 8, 50% → 5
        ("max", 5),  # the largest change: the lowest limit
        ("min", 8),  # the smallest change: the highest limit
        ("disabled", 10),
    ],
)
def test_scale_down_select_picks_the_largest_or_smallest_change_or_none(
    select: SelectPolicy, replicas: int
) -> None:
    policies = (ScalingPolicy("pods", 2, 60 * S), ScalingPolicy("percent", 50, 60 * S))
    config = make_config(scale_down=ScalingRules(0, policies, select))
    assert Autoscaler(config).evaluate(T0, 10, 0.0).replicas == replicas


@pytest.mark.parametrize(
    ("current", "replicas", "reason"),
    [
        (12, 10, "12 replicas outside max_replicas 10: 12 → 10"),
        (1, 2, "1 replicas outside min_replicas 2: 1 → 2"),
        (0, 0, "scaling disabled: the target has 0 replicas"),
    ],
)
def test_a_current_count_out_of_bounds_goes_to_the_bound_and_zero_is_left_alone(
    current: int, replicas: int, reason: str
) -> None:
    config = make_config(min_replicas=2, max_replicas=10)
    decision = Autoscaler(config).evaluate(T0, current, 5.0)
    assert (decision.replicas, decision.reason) == (replicas, reason)


@pytest.mark.parametrize(
    ("config", "rows", "reason"),
    [
        (
            make_config(),
            [(0, 2, 10.0)],
            "metric 10 over target 1: 2 → 6 (wants 20: scale-up limit 6)",
        ),
        (make_config(), [(0, 4, 1.05)], "metric 1.05 within tolerance of target 1: stays at 4"),
        (make_config(), [(0, 4, 1.5)], "metric 1.5 over target 1: 4 → 6"),
        (
            make_config(),
            [(0, 10, 0.5)],
            "metric 0.5 under target 1: stays at 10 (wants 5: scale-down stabilised over 300 s)",
        ),
        (
            make_config(target_value=30.0, per_replica=False),
            [(0, 4, 300.0)],
            "metric 300 over target 30 × 4: 4 → 8 (wants 10: scale-up limit 8)",
        ),
        (
            make_config(scale_up=replace(DEFAULT_SCALE_UP, select="disabled")),
            [(0, 4, 2.0)],
            "metric 2 over target 1: stays at 4 (wants 8: scale-up disabled)",
        ),
    ],
)
def test_the_reason_says_what_was_wanted_and_what_held_it_back(
    config: AutoscalerConfig, rows: list[tuple[int, int, float]], reason: str
) -> None:
    autoscaler = Autoscaler(config)
    for t_s, current, metric in rows:
        decision = autoscaler.evaluate(T0 + t_s * S, current, metric)
    assert decision.reason == reason


def test_old_recommendations_and_scale_events_are_forgotten() -> None:
    autoscaler = Autoscaler(make_config())
    for n in range(240):  # an hour, every 15 s, scaling 10 → 11 each time
        autoscaler.evaluate(T0 + n * 15 * S, 10, 1.0)
        autoscaler.record_scale(T0 + n * 15 * S, 10, 11)
    # recommendations of the last 300 s (ts > now - 300 s): 19 earlier ones and the last
    assert len(autoscaler._recommendations or []) == 20
    assert len(autoscaler._ups) == 1  # only the last: 15 s ago is out of every period


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"target_value": 0.0}, r"target_value: a number above 0, not 0\.0"),
        ({"target_value": float("nan")}, "target_value"),
        ({"min_replicas": 0}, "min_replicas: at least 1, not 0"),
        ({"min_replicas": 5, "max_replicas": 3}, r"max_replicas: at least min_replicas \(5\)"),
        ({"tolerance": -0.1}, "tolerance: a ratio of 0 or more"),
        ({"scale_up": ScalingRules(0, ())}, r"scale_up\.policies: at least one"),
        (
            {"scale_down": ScalingRules(0, (ScalingPolicy("pods", 0, S),))},
            r"scale_down\.policies\[0\]\.value: above 0, not 0",
        ),
        (
            {"scale_up": ScalingRules(0, (ScalingPolicy("pods", 4, 0),))},
            r"scale_up\.policies\[0\]\.period_ms: above 0",
        ),
        (
            {"scale_down": replace(DEFAULT_SCALE_DOWN, stabilization_ms=-1)},
            r"scale_down\.stabilization_ms: 0 or more",
        ),
        (
            {"scale_up": replace(DEFAULT_SCALE_UP, select="random")},  # type: ignore[arg-type]
            r"scale_up\.select: 'max', 'min' or 'disabled', not 'random'",
        ),
        (
            {"scale_up": ScalingRules(0, (ScalingPolicy("replicas", 4, S),))},  # type: ignore[arg-type]
            r"scale_up\.policies\[0\]\.kind: 'percent' or 'pods', not 'replicas'",
        ),
    ],
)
def test_an_invalid_config_is_refused_with_the_field_and_what_it_should_be(
    overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_config(**overrides)


def test_every_config_error_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        make_config(target_value=-1.0, min_replicas=0, tolerance=-1.0)
    message = str(caught.value)
    assert "target_value" in message
    assert "min_replicas" in message
    assert "tolerance" in message
