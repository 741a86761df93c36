"""Online anomaly detection per series: novelty of the value and of its recent level.

A point is anomalous when it takes the series somewhere it has not been before. The
detector watches a few *features* of the series — exponentially weighted means over
``spans_points`` (span 1 is the value itself; a longer span is the recent level) — and
keeps, for each, the envelope ``[low, high]`` of what that feature did so far. A
feature that leaves its envelope by more than a margin is news:

- a spike breaks the value's envelope;
- a level shift, a burst or a dip that lasts breaks the level's envelope even when no
  single value is a record;
- a flat series has a zero-width envelope, so any change breaks it.

Margin. For feature ``j`` the margin is ``max(tolerances[j] * envelope width,
spread_margins[j] * spread)``, where ``spread`` is the value's mean absolute deviation
from its long-run mean. The first term scales with what the series has already done
(heavy-tailed series need a lot to surprise); the second keeps ordinary noise quiet (a
new maximum of Gaussian noise beats the old one by a fraction of a standard
deviation, not by a spread).

Forgetting. Each envelope shrinks towards the long-run mean with a time constant of
``envelope_memory_points``, but never inside ``envelope_floor_spreads`` times that
feature's own spread: after a large event the detector becomes sensitive again, while
a stationary series' envelope stays where its noise puts it.

Score. The exceedance ``e`` of a feature is its distance outside the envelope divided
by its margin (``e = 1`` is exactly one margin out). The score is ``e / (1 + e)`` for
the largest ``e`` over the features, in ``[0, 1)``. After an alarm (score ``>=
alarm_score``) the next ``suppress_points`` scores are capped just below
``alarm_score``: one alarm per event rather than one per point (the NAB benchmark, like
an on-call engineer, counts only the first).

Online and causal: the score of a point depends on that point and the earlier ones
only, in the order given. ``ts_ms`` is accepted for the shell and does not change the
score (points are taken as regularly spaced). Scoring starts after ``warmup_points``.

State and cost: :class:`DetectorState` holds a fixed number of floats (five per
feature plus a few); it never grows (about 1 KB per series in CPython, see
``bench/anomaly.py``). :func:`score_point` mutates it in place and costs a few
microseconds.

Non-finite values (NaN, ±inf) are ignored: the state is left unchanged and the score
is 0.0 with direction ``None``, ``low``/``high`` NaN (the decoders dead-letter such
values before they get here; this is the core's defence, not a policy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

THRESHOLD = 0.5
"""Decision threshold on :attr:`AnomalyScore.score`, chosen on the NAB development
subset (``bench/anomaly_tune.py``) and fixed: a point is an anomaly when
``score >= THRESHOLD``."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Hyperparameters, the same for every series; defaults are the tuned values.

    ``spans_points``, ``tolerances`` and ``spread_margins`` run in parallel, one entry
    per feature; a span of 1 watches the value itself. ``expected`` in the output is the
    mean of the last feature. Spans and memories count points, not time.
    """

    spans_points: tuple[int, ...] = (1, 30)
    tolerances: tuple[float, ...] = (0.05, 0.02)
    spread_margins: tuple[float, ...] = (1.0, 0.2)
    envelope_memory_points: int = 10_000
    envelope_floor_spreads: float = 5.0
    center_span_points: int = 199
    spread_span_points: int = 999
    warmup_points: int = 30
    suppress_points: int = 100
    alarm_score: float = THRESHOLD

    def __post_init__(self) -> None:
        n = len(self.spans_points)
        if n == 0 or len(self.tolerances) != n or len(self.spread_margins) != n:
            raise ValueError("spans_points, tolerances and spread_margins need one entry each")
        if any(s < 1 for s in self.spans_points):
            raise ValueError("spans_points must be >= 1")
        if any(t <= 0 for t in self.tolerances) or any(c < 0 for c in self.spread_margins):
            raise ValueError("tolerances must be > 0 and spread_margins >= 0")
        if min(self.envelope_memory_points, self.center_span_points, self.spread_span_points) < 1:
            raise ValueError("envelope_memory_points and the spans must be >= 1")
        if not 0.0 < self.alarm_score < 1.0:
            raise ValueError("alarm_score must be in (0, 1)")


DEFAULT_CONFIG = DetectorConfig()


class AnomalyScore(NamedTuple):
    """One point's verdict.

    ``expected`` is the recent level before this point (the mean of the config's last
    feature); ``low``/``high`` bound the values this point could have taken without
    scoring ``alarm_score`` or more, given the state before it (``-inf``/``inf``
    during warm-up); ``direction`` is ``"up"``/``"down"`` for the side of the largest
    exceedance, ``None`` when no feature left its envelope.
    """

    score: float
    expected: float
    low: float
    high: float
    direction: str | None


class DetectorState:
    """One series' detector state, mutated in place by :func:`score_point`.

    Per feature ``j``: ``means[j]`` (its current value), ``lows[j]``/``highs[j]`` (its
    envelope), ``spreads[j]`` (its mean absolute deviation from ``center``).
    ``center`` is the long-run mean of the value; ``count`` the finite points seen;
    ``quiet`` the points of suppression left.
    """

    __slots__ = ("center", "count", "highs", "lows", "means", "quiet", "spreads")

    def __init__(self, features: int) -> None:
        self.means: list[float] = [0.0] * features
        self.lows: list[float] = [0.0] * features
        self.highs: list[float] = [0.0] * features
        self.spreads: list[float] = [0.0] * features
        self.center = 0.0
        self.count = 0
        self.quiet = 0


def new_state(config: DetectorConfig = DEFAULT_CONFIG) -> DetectorState:
    """A fresh state for one series under ``config``."""
    return DetectorState(len(config.spans_points))


_NAN = math.nan
_INF = math.inf


def score_point(
    state: DetectorState, value: float, ts_ms: int, config: DetectorConfig = DEFAULT_CONFIG
) -> AnomalyScore:
    """Score ``value`` (observed at ``ts_ms``) against ``state``, then learn it.

    ``config`` must be the one ``state`` was made with.
    """
    means = state.means
    if not math.isfinite(value):
        return AnomalyScore(0.0, means[-1] if state.count else _NAN, _NAN, _NAN, None)
    if state.count == 0:
        _first_point(state, value)
        return AnomalyScore(0.0, value, -_INF, _INF, None)
    alphas = _alphas(config)
    lows, highs = state.lows, state.highs
    expected = means[-1]
    if state.count < config.warmup_points:
        for j, a in enumerate(alphas):
            means[j] += a * (value - means[j])
        _learn(state, value, config)
        return AnomalyScore(0.0, expected, -_INF, _INF, None)

    alarm = config.alarm_score
    e_alarm = alarm / (1.0 - alarm)  # the exceedance at which the score reaches alarm
    spread = state.spreads[0] if config.spans_points[0] == 1 else _value_spread(state)
    worst = 0.0
    direction: str | None = None
    low, high = -_INF, _INF
    tolerances, spread_margins = config.tolerances, config.spread_margins
    for j, a in enumerate(alphas):
        old = means[j]
        m = old + a * (value - old)
        means[j] = m
        lo = lows[j]
        hi = highs[j]
        margin = tolerances[j] * (hi - lo)
        floor = spread_margins[j] * spread
        if floor > margin:
            margin = floor
        if margin <= 0.0:  # a feature that never moved: any change is news
            margin = 1e-12 * (abs(hi) + abs(lo)) + 1e-300
        if m > hi:
            e = (m - hi) / margin
            if e > worst:
                worst, direction = e, "up"
        elif m < lo:
            e = (lo - m) / margin
            if e > worst:
                worst, direction = e, "down"
        # the values of this point that keep this feature below the alarm
        room = e_alarm * margin
        x_hi = old + (hi + room - old) / a
        x_lo = old + (lo - room - old) / a
        if x_hi < high:
            high = x_hi
        if x_lo > low:
            low = x_lo
    score = worst / (1.0 + worst)
    if state.quiet > 0:
        state.quiet -= 1
        if score >= alarm:
            score = math.nextafter(alarm, 0.0)
    elif score >= alarm:
        state.quiet = config.suppress_points
    _learn(state, value, config)
    return AnomalyScore(score, expected, low, high, direction)


def _alphas(config: DetectorConfig) -> tuple[float, ...]:
    return tuple(2.0 / (s + 1.0) for s in config.spans_points)


def _value_spread(state: DetectorState) -> float:
    """The value's spread when no feature has span 1: the widest feature spread."""
    return max(state.spreads)


def _first_point(state: DetectorState, value: float) -> None:
    n = len(state.means)
    state.means[:] = [value] * n
    state.lows[:] = [value] * n
    state.highs[:] = [value] * n
    state.spreads[:] = [0.0] * n
    state.center = value
    state.count = 1


def _learn(state: DetectorState, value: float, config: DetectorConfig) -> None:
    """Fold the features' new means into the centre, spreads and envelopes.

    The centre and spreads are exponentially weighted with weight ``max(alpha, 1/n)``,
    i.e. plain means over the first points, so they are right from the start.
    """
    state.count = n = state.count + 1
    a_c = 2.0 / (config.center_span_points + 1.0)
    a_s = 2.0 / (config.spread_span_points + 1.0)
    if a_c < 1.0 / n:
        a_c = 1.0 / n
    if a_s < 1.0 / n:
        a_s = 1.0 / n
    center = state.center + a_c * (value - state.center)
    state.center = center
    shrink = 1.0 / config.envelope_memory_points
    floor_k = config.envelope_floor_spreads
    means, lows, highs, spreads = state.means, state.lows, state.highs, state.spreads
    for j, m in enumerate(means):
        sp = spreads[j] + a_s * (abs(m - center) - spreads[j])
        spreads[j] = sp
        hi = highs[j]
        lo = lows[j]
        top = center + floor_k * sp
        bottom = center - floor_k * sp
        if hi > top:
            hi -= (hi - top) * shrink
        if lo < bottom:
            lo -= (lo - bottom) * shrink
        highs[j] = m if m > hi else hi
        lows[j] = m if m < lo else lo
