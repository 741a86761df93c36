"""The Mann-Whitney U test against hand-computed values and published results (scipy's
documentation, R, Mann and Whitney's tortoise and hare)."""

from __future__ import annotations

import math
import random

import pytest

from processors.firehose.mann_whitney import mann_whitney_u


def test_separated_samples_match_rs_normal_approximation() -> None:
    # ranks: canary 1, 2, 3 → R1 = 6, U = 6 - 3·4/2 = 0; mu = 9/2 = 4.5
    # s² = 9/12 · 7 = 5.25; p_less = sf((4.5 - 0.5) / √5.25) = sf(1.745743) = 0.0404278
    # R: wilcox.test(c(1, 2, 3), c(4, 5, 6), exact = FALSE): W = 0, p-value = 0.08086
    test = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert test.u == 0.0
    assert test.z == pytest.approx(-4 / math.sqrt(5.25))  # -1.745743
    assert test.p_less == pytest.approx(0.0404278, abs=1e-7)
    assert test.p_two_sided == pytest.approx(0.0808556, abs=1e-7)
    # sf((0 - 4.5 - 0.5) / √5.25) = sf(-2.182179) = 0.985452
    assert test.p_greater == pytest.approx(0.985452, abs=1e-6)


def test_scipys_documented_example() -> None:
    # scipy.stats.mannwhitneyu docs: males [19, 22, 16, 29, 24], females [20, 11, 17, 12]:
    # U1 = 17, method="asymptotic" p = 0.11134688653314041. By hand: mu = 10,
    # s = √(20/12 · 10) = 4.082483, z = (17 - 10 - 0.5) / s = 1.592168
    test = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert test.u == 17.0
    assert test.z == pytest.approx(6.5 / math.sqrt(200 / 12))
    assert test.p_two_sided == pytest.approx(0.11134688653314041, rel=1e-12)
    assert test.p_greater == pytest.approx(0.11134688653314041 / 2, rel=1e-12)


def test_the_tortoise_and_the_hare() -> None:
    # Mann and Whitney's race as Wikipedia tells it: finishing order T H H H H H T T T T T H.
    # A runner's value is how many finished after it; each tortoise's U counts the hares
    # it beat: 6 + 5 × 1 = 11, the hares' 36 - 11 = 25.
    order = "THHHHHTTTTTH"
    value = {i: len(order) - 1 - i for i in range(len(order))}
    tortoises = [value[i] for i, who in enumerate(order) if who == "T"]
    hares = [value[i] for i, who in enumerate(order) if who == "H"]
    assert mann_whitney_u(tortoises, hares).u == 11.0
    assert mann_whitney_u(hares, tortoises).u == 25.0


def test_ties_take_the_average_rank_and_shrink_the_variance() -> None:
    # pooled: 1(c) | 2(c) 2(c) 2(b) → rank 3 | 3(c) 3(b) 3(b) → rank 6 | 4(b) → 8
    # R1 = 1 + 3 + 3 + 6 = 13, U = 13 - 4·5/2 = 3 (pairwise: 0 + ½ + ½ + (1 + 2·½) = 3)
    # mu = 8; two groups of 3 tied: sum(t³ - t) = 48
    # s² = 16/12 · (9 - 48/56) = 10.857143; s = 3.295018
    test = mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4])
    assert test.u == 3.0
    s = math.sqrt(16 / 12 * (9 - 48 / 56))
    assert test.z == pytest.approx(-4.5 / s)  # -1.365698
    assert test.p_greater == pytest.approx(0.9524598, abs=1e-7)  # sf(-5.5 / s)
    assert test.p_less == pytest.approx(0.0860169, abs=1e-7)  # sf(4.5 / s)
    assert test.p_two_sided == pytest.approx(0.1720337, abs=1e-7)


def test_without_the_tie_correction_the_p_value_would_differ() -> None:
    # [1, 2, 2] vs [2, 3, 4]: U = 1 (1 → 0, each 2 → ½ against the baseline's 2), mu = 4.5;
    # one group of 3 tied: s² = 9/12 · (7 - 24/30) = 4.65; uncorrected it would be 5.25
    test = mann_whitney_u([1, 2, 2], [2, 3, 4])
    assert test.u == 1.0
    assert test.z == pytest.approx(-3 / math.sqrt(4.65))  # -1.391217
    assert test.p_two_sided == pytest.approx(0.1641597, abs=1e-7)
    assert test.z != pytest.approx(-3 / math.sqrt(5.25))


def pairwise_u(canary: list[float], baseline: list[float]) -> float:
    """U by its definition: pairs where the canary's value is greater, ties ½."""
    return sum((c > b) + 0.5 * (c == b) for c in canary for b in baseline)


@pytest.mark.parametrize("seed", range(5))
def test_the_rank_sum_u_is_the_pairwise_count(seed: int) -> None:
    rng = random.Random(seed)
    canary = [float(rng.randint(0, 6)) for _ in range(rng.randint(1, 30))]
    baseline = [float(rng.randint(0, 6)) for _ in range(rng.randint(1, 30))]
    assert mann_whitney_u(canary, baseline).u == pairwise_u(canary, baseline)


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [
        ([1, 2, 3], [4, 5, 6]),
        ([19, 22, 16, 29, 24], [20, 11, 17, 12]),
        ([1, 2, 2, 3], [2, 3, 3, 4]),
        ([5, 1, 2.5], [3, 2, 6, 0]),  # U = 3 + 1 + 2 = 6 = mu: no shift
        ([0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1]),
    ],
)
def test_swapping_the_sides_mirrors_the_test(canary: list[float], baseline: list[float]) -> None:
    forward, back = mann_whitney_u(canary, baseline), mann_whitney_u(baseline, canary)
    assert forward.u + back.u == len(canary) * len(baseline)
    assert forward.z == pytest.approx(-back.z)
    assert forward.p_greater == pytest.approx(back.p_less)
    assert forward.p_less == pytest.approx(back.p_greater)
    assert forward.p_two_sided == pytest.approx(back.p_two_sided)
    # the continuity correction moves U half a step towards mu on each side, so the
    # one-sided p-values overlap by one step's mass: together they exceed 1
    assert forward.p_greater + forward.p_less > 1.0
    assert forward.p_two_sided == pytest.approx(
        min(1.0, 2 * min(forward.p_greater, forward.p_less))
    )


def test_no_shift_gives_no_evidence() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    test = mann_whitney_u(values, list(values))
    assert test.u == 32.0  # n1·n2 / 2
    assert (test.z, test.p_two_sided) == (0.0, 1.0)
    assert 0.5 < test.p_greater == test.p_less < 0.6  # sf(-0.5 / s), s ≈ 9.5


def test_all_values_equal_has_no_variance_and_p_one() -> None:
    # every value tied: s² = n1 n2 / 12 · ((n + 1) - (n³ - n) / (n (n - 1))) = 0
    test = mann_whitney_u([5, 5, 5], [5, 5, 5, 5])
    assert test.u == 6.0
    assert (test.z, test.p_two_sided, test.p_greater, test.p_less) == (0.0, 1.0, 1.0, 1.0)


def test_a_large_shift_is_significant_in_its_direction_only() -> None:
    test = mann_whitney_u(list(range(110, 130)), list(range(100, 120)))
    # U = Σ_{k<10} (10 + k + ½) + 10 × 20 = 150 + 200 = 350 of 400
    assert test.u == 350.0
    assert test.p_greater < 1e-4
    assert test.p_less > 0.9999


@pytest.mark.parametrize(("canary", "baseline"), [([], [1.0]), ([1.0], []), ([], [])])
def test_an_empty_side_is_an_error(canary: list[float], baseline: list[float]) -> None:
    with pytest.raises(ValueError, match="both sides"):
        mann_whitney_u(canary, baseline)


def test_nan_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        mann_whitney_u([1.0, math.nan], [2.0])
