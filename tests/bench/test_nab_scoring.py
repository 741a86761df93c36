"""NAB's scoring rules on hand-made cases, and the O(n log n) sweep against a brute force."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from bench.nab.scoring import (
    PROFILES,
    Profile,
    ThresholdScore,
    Window,
    best_threshold,
    normalised_score,
    probation_rows,
    scaled_sigmoid,
    score_at,
    sweep_rows,
    threshold_scores,
)

STANDARD, LOW_FP, LOW_FN = PROFILES
WINDOW = (5, 9)  # five rows wide
N_ROWS = 30


def detections(*rows: int, n_rows: int = N_ROWS) -> list[float]:
    """Anomaly score 1.0 at ``rows``, 0.0 elsewhere."""
    return [1.0 if i in rows else 0.0 for i in range(n_rows)]


def score(
    anomaly_scores: Sequence[float],
    windows: Sequence[Window] = (WINDOW,),
    profile: Profile = STANDARD,
    threshold: float = 0.5,
    probation_fraction: float = 0.0,
) -> ThresholdScore:
    rows = sweep_rows(anomaly_scores, windows, profile, probation_fraction=probation_fraction)
    return score_at(rows, profile.fn_weight, threshold)


def s(position: float) -> float:
    """The scaled sigmoid written out independently."""
    return -1.0 if position > 3 else 2 / (1 + math.exp(5 * position)) - 1


# ------------------------------------------------------------------ building blocks


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (-1.0, 0.9866142981514303),  # left edge of a window
        (-0.5, 0.8482836399575129),
        (0.0, 0.0),  # right edge
        (1.0, -0.9866142981514303),
        (3.0, 2 / (1 + math.exp(15)) - 1),  # 3 itself is still on the curve
        (3.0001, -1.0),
        (50.0, -1.0),
    ],
)
def test_scaled_sigmoid(position: float, expected: float) -> None:
    assert scaled_sigmoid(position) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [(0, 0), (10, 1), (100, 15), (4032, 604), (5000, 750), (15902, 750.0)],
)
def test_probation_is_15_percent_capped_at_750_rows(n_rows: int, expected: float) -> None:
    assert probation_rows(n_rows) == expected


def test_normalised_score_is_0_for_null_and_100_for_perfect() -> None:
    assert normalised_score(-57.0, -57.0, 57.0) == 0.0
    assert normalised_score(57.0, -57.0, 57.0) == 100.0
    assert normalised_score(0.0, -114.0, 57.0) == pytest.approx(66.666, abs=1e-3)


# ------------------------------------------------------------------ hand-made cases


def test_detection_at_the_left_edge_is_worth_the_full_tp_weight() -> None:
    result = score(detections(5))
    assert result.score == pytest.approx(1.0, abs=1e-15)
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 0, 4, 25)
    assert result.windows_hit == 1


def test_detection_at_the_right_edge_is_worth_a_little_not_zero() -> None:
    # NAB's position is -(right - i + 1) / width: -1/5 at the right edge
    assert score(detections(9)).score == pytest.approx(s(-0.2) / s(-1.0), abs=1e-15)
    assert score(detections(9)).score > 0.4


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    early = score(detections(6)).score
    both = score(detections(6, 8))
    assert both.score == pytest.approx(early, abs=1e-15)
    assert early == pytest.approx(s(-4 / 5) / s(-1.0), abs=1e-15)
    assert both.tp == 2  # NAB's TP counts rows, though one window scores once


def test_false_positive_before_any_window_costs_the_full_fp_weight() -> None:
    result = score(detections(2))
    assert result.score == pytest.approx(-1.0 - 0.11, abs=1e-15)
    assert (result.tp, result.fp, result.fn, result.tn) == (0, 1, 5, 24)


def test_false_positive_after_a_window_is_scaled_by_distance_from_its_right_edge() -> None:
    # three rows past the right edge of a five-row window: position 3 / (5 - 1)
    result = score(detections(12))
    assert result.score == pytest.approx(-1.0 + 0.11 * s(0.75), abs=1e-15)
    assert s(0.75) < 0


def test_false_positive_right_after_a_window_costs_almost_nothing() -> None:
    assert score(detections(10)).score == pytest.approx(-1.0 + 0.11 * s(0.25), abs=1e-15)
    assert score(detections(10)).score > score(detections(20)).score


def test_false_positive_far_after_a_window_costs_the_full_fp_weight() -> None:
    # 13 rows past the window: 13 / 4 > 3
    assert score(detections(22)).score == pytest.approx(-1.0 - 0.11, abs=1e-15)


def test_false_positive_is_scaled_from_the_previous_window_not_the_next() -> None:
    windows = [(5, 9), (20, 24)]
    result = score(detections(11), windows)
    assert result.score == pytest.approx(-2.0 + 0.11 * s(2 / 4), abs=1e-15)


def test_window_without_detection_costs_the_fn_weight() -> None:
    assert score(detections()).score == -1.0
    assert score(detections(), profile=LOW_FN).score == -2.0
    assert score(detections(), windows=[(5, 9), (20, 24)], profile=LOW_FN).score == -4.0


def test_no_windows_and_no_detections_score_zero() -> None:
    result = score(detections(), windows=())
    assert result.score == 0.0
    assert (result.tp, result.fp, result.fn, result.tn) == (0, 0, 0, N_ROWS)


def test_reward_low_fp_profile_doubles_the_false_positive_cost() -> None:
    assert score(detections(2), profile=LOW_FP).score == pytest.approx(-1.22, abs=1e-15)


def test_probationary_rows_are_ignored() -> None:
    n_rows = 100  # 15 probationary rows
    window = [(40, 49)]
    quiet = score(detections(n_rows=n_rows), window, probation_fraction=0.15)
    noisy = score(detections(0, 7, 14, n_rows=n_rows), window, probation_fraction=0.15)
    counted = score(detections(15, n_rows=n_rows), window, probation_fraction=0.15)
    assert noisy == quiet
    assert quiet.total == 85
    assert counted.score == pytest.approx(-1.11, abs=1e-15)


def test_window_that_ends_in_probation_is_not_scored_but_still_anchors_false_positives() -> None:
    n_rows = 100
    rows = sweep_rows(detections(16, n_rows=n_rows), [(2, 6)], STANDARD, probation_fraction=0.15)
    result = score_at(rows, STANDARD.fn_weight, 0.5)
    assert result.score == pytest.approx(0.11 * s(10 / 4), abs=1e-15)  # no fn for the window
    assert (result.fp, result.fn) == (1, 0)


def test_a_score_equal_to_the_threshold_is_a_detection() -> None:
    anomaly_scores = [0.0] * N_ROWS
    anomaly_scores[6] = 0.7
    assert score(anomaly_scores, threshold=0.7).tp == 1
    assert score(anomaly_scores, threshold=0.7000001).tp == 0


def test_threshold_below_every_score_detects_every_row_and_above_1_1_none() -> None:
    everything = score([0.5] * N_ROWS, threshold=0.1)
    assert (everything.tp, everything.fp) == (5, 25)
    assert score([0.5] * N_ROWS, threshold=2.0).tp == 0


def test_the_table_starts_at_1_1_with_nothing_detected() -> None:
    table = list(threshold_scores(sweep_rows(detections(6), [WINDOW], STANDARD), 1.0))
    assert [entry.threshold for entry in table] == [1.1, 1.0, 0.0]
    assert table[0].score == -1.0
    assert table[0].tp == table[0].fp == 0


def test_sweep_prefers_the_highest_threshold_on_ties() -> None:
    # 0.9 detects the window's earliest row; 0.8 adds a later row of the same window,
    # which changes nothing: equal scores, NAB keeps the higher threshold
    anomaly_scores = [0.0] * N_ROWS
    anomaly_scores[5], anomaly_scores[8] = 0.9, 0.8
    best = best_threshold(sweep_rows(anomaly_scores, [WINDOW], STANDARD), 1.0)
    assert best.threshold == 0.9
    assert best.score == pytest.approx(1.0, abs=1e-15)


# ------------------------------------------------------------------ against a brute force


def brute_force(
    anomaly_scores: Sequence[float],
    windows: Sequence[Window],
    profile: Profile,
    threshold: float,
    probation: float,
) -> tuple[float, int, int, int, int]:
    """NAB's rules written the direct way: (score, tp, tn, fp, fn) at one threshold."""
    total = 0.0
    inside: set[int] = set()
    for left, right in windows:
        inside.update(range(left, right + 1))
        scorable = [i for i in range(left, right + 1) if i >= probation]
        hits = [i for i in scorable if anomaly_scores[i] >= threshold]
        if hits:
            total += s(-(right - hits[0] + 1) / (right - left + 1)) * profile.tp_weight / s(-1)
        elif scorable:
            total -= profile.fn_weight
    counts = {"tp": 0, "tn": 0, "fp": 0, "fn": 0}
    for i, anomaly_score in enumerate(anomaly_scores):
        if i < probation:
            continue
        detected = anomaly_score >= threshold
        counts[("t" if detected == (i in inside) else "f") + ("p" if detected else "n")] += 1
        if detected and i not in inside:
            before = [w for w in windows if w[1] < i]
            if not before:
                total -= profile.fp_weight
            else:
                left, right = before[-1]
                total += s((i - right) / (right - left)) * profile.fp_weight
    return total, counts["tp"], counts["tn"], counts["fp"], counts["fn"]


def random_case(rng: random.Random) -> tuple[list[float], list[Window]]:
    n_rows = rng.randint(20, 120)
    levels = [round(rng.random(), 1) for _ in range(4)]  # few distinct scores: ties
    anomaly_scores = [
        rng.choice(levels) if rng.random() < 0.5 else rng.random() for _ in range(n_rows)
    ]
    windows: list[Window] = []
    start = rng.randint(0, 10)
    while start < n_rows - 2 and len(windows) < 4:
        end = min(n_rows - 1, start + rng.randint(1, 12))
        windows.append((start, end))
        start = end + rng.randint(1, 25)
    return anomaly_scores, windows


@pytest.mark.parametrize("seed", range(40))
def test_every_threshold_of_the_table_matches_the_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    anomaly_scores, windows = random_case(rng)
    profile = PROFILES[seed % 3]
    probation = probation_rows(len(anomaly_scores))
    table = list(threshold_scores(sweep_rows(anomaly_scores, windows, profile), profile.fn_weight))
    assert [e.threshold for e in table[1:]] == sorted(
        set(anomaly_scores[math.ceil(probation) :]), reverse=True
    )
    for entry in table:
        expected = brute_force(anomaly_scores, windows, profile, entry.threshold, probation)
        got = (entry.score, entry.tp, entry.tn, entry.fp, entry.fn)
        assert got[0] == pytest.approx(expected[0], abs=1e-12)
        assert got[1:] == expected[1:]
    best = best_threshold(sweep_rows(anomaly_scores, windows, profile), profile.fn_weight)
    assert best.score == pytest.approx(max(e.score for e in table), abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_score_at_any_threshold_matches_the_brute_force(seed: int) -> None:
    rng = random.Random(1000 + seed)
    anomaly_scores, windows = random_case(rng)
    rows = sweep_rows(anomaly_scores, windows, STANDARD)
    probation = probation_rows(len(anomaly_scores))
    for threshold in [rng.random() for _ in range(5)] + [0.0, 1.0]:
        got = score_at(rows, STANDARD.fn_weight, threshold)
        expected = brute_force(anomaly_scores, windows, STANDARD, threshold, probation)
        assert got.score == pytest.approx(expected[0], abs=1e-12)
        assert (got.tp, got.tn, got.fp, got.fn) == expected[1:]
