"""The Mann-Whitney U test (Wilcoxon rank-sum), the test Kayenta's canary judge runs, in
the normal approximation of ``scipy.stats.mannwhitneyu(canary, baseline,
method="asymptotic", use_continuity=True)``: the same U and p-values.

Both samples are ranked together from 1, tied values sharing the average of their
ranks. With ``n1`` canary and ``n2`` baseline values (``n = n1 + n2``), ``R1`` the sum
of the canary's ranks and ``t`` the size of each group of tied values:

    U  = R1 - n1 (n1 + 1) / 2        the canary's U: pairs where it is greater, ties ½
    mu = n1 n2 / 2
    s  = sqrt(n1 n2 / 12 * ((n + 1) - sum(t³ - t) / (n (n - 1))))

and, ``d = U - mu`` and ``sf`` the standard normal's survival function,

    p_greater   = sf((d - 0.5) / s)      canary stochastically greater than baseline
    p_less      = sf((-d - 0.5) / s)     canary stochastically less
    z           = sign(d) max(|d| - 0.5, 0) / s
    p_two_sided = 2 sf(|z|)              = scipy's min(1, 2 sf((|d| - 0.5) / s))

— the continuity correction moves ``U`` half a step towards ``mu``, so ``p_greater +
p_less`` exceeds 1 by the normal's mass over one step and ``p_two_sided = min(1, 2
min(p_greater, p_less))``. When every value is the same, ``s = 0``: no evidence either
way, ``z = 0`` and every p is 1 (scipy's answer too).

The approximation is close past a few dozen values a side; below about 8 a side it is
rough (scipy's ``method="exact"`` differs), one more reason the canary checks ask for
``min_samples`` per side first. Cost: one sort, O(n log n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """One test of canary against baseline (the module docstring has the formulas)."""

    u: float  # the canary's U, 0..n1·n2; the baseline's is n1·n2 - u
    z: float  # > 0 when the canary ranks higher, continuity-corrected towards 0
    p_two_sided: float
    p_greater: float  # small: the canary is stochastically greater
    p_less: float  # small: the canary is stochastically less


def _sf(x: float) -> float:
    """The standard normal's survival function, P(Z > x)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def mann_whitney_u(canary: Sequence[float], baseline: Sequence[float]) -> MannWhitney:
    """The U test of ``canary`` against ``baseline``; ``ValueError`` when a side is
    empty or holds NaN (NaN has no rank: drop it first, as Kayenta's ``remove``)."""
    n1, n2 = len(canary), len(baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError(
            f"Mann-Whitney needs values on both sides (canary {n1}, baseline {n2}); "
            "treat an empty side as no data"
        )
    pooled = sorted([(v, True) for v in canary] + [(v, False) for v in baseline])
    if any(math.isnan(v) for v, _ in pooled):
        raise ValueError("Mann-Whitney got NaN: drop NaN values before testing")
    n = n1 + n2
    rank_sum = 0.0  # the canary's
    ties = 0  # sum(t³ - t) over groups of tied values
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        t = j - i + 1
        average_rank = (i + 1 + j + 1) / 2
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pooled[k][1])
        ties += t**3 - t
        i = j + 1
    u = rank_sum - n1 * (n1 + 1) / 2
    d = u - n1 * n2 / 2
    # In integers up to the last division, so "all values equal" gives exactly 0.
    variance_12n = n1 * n2 * ((n + 1) * n * (n - 1) - ties)  # variance × 12 n (n - 1)
    if variance_12n <= 0:
        return MannWhitney(u=u, z=0.0, p_two_sided=1.0, p_greater=1.0, p_less=1.0)
    s = math.sqrt(variance_12n / (12 * n * (n - 1)))
    z = math.copysign(max(abs(d) - 0.5, 0.0), d) / s
    return MannWhitney(
        u=u,
        z=z,
        p_two_sided=2.0 * _sf(abs(z)),  # ≤ 1: |z| ≥ 0
        p_greater=_sf((d - 0.5) / s),
        p_less=_sf((-d - 0.5) / s),
    )
