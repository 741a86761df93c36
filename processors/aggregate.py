"""Per-window statistics: an accumulator you ``add`` to and ask for a ``result``.

Stats (:data:`STATS`):

- ``count``, ``sum``, ``min``, ``max``, ``mean`` — the usual; ``mean = sum / count``.
- ``last`` — the value of the record with the greatest ``ts_ms``; on a tie, the one
  added later.
- ``rate`` — records per second over the window size: ``count / (size_ms / 1000)``.
  It is a record rate, not a rate of the values (for a counter's rate, take ``sum``).
- ``p50``, ``p90``, ``p99`` — the value at 0-based rank ``floor(q * (count - 1))`` of
  the sorted values (numpy's ``method="lower"``). Exact while the accumulator holds
  at most :data:`EXACT_QUANTILE_LIMIT` values; past that a :class:`QuantileSketch`
  answers within :data:`RELATIVE_ACCURACY` (1 %) of that exact value.

An empty accumulator answers ``count = sum = rate = 0`` and ``None`` for the rest.

Memory: an accumulator is one slotted object with six scalars; it keeps values for
quantiles only when a quantile stat was asked for at construction, and only once a
value arrives (an ``array('d')`` of up to 256 doubles, then a sketch). Values are
trusted to be finite (the decoders dead-letter NaN and infinities).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from math import ceil, exp, inf, log

STATS: tuple[str, ...] = ("count", "sum", "min", "max", "mean", "last", "rate", "p50", "p90", "p99")
QUANTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p99": 0.99}

EXACT_QUANTILE_LIMIT = 256
"""Values kept exactly per accumulator before switching to the sketch."""

RELATIVE_ACCURACY = 0.01
"""Guaranteed relative error of a sketched quantile (within :data:`SKETCH_MAX_BINS`)."""

SKETCH_MAX_BINS = 2048
"""Bins per sign. Past this the bins of smallest magnitude are folded together, so the
1 % bound holds for the values within a factor of about 10^13 below each sign's
largest magnitude (more than any telemetry window spans); below it, smaller values
read as larger."""

_STAT_SET = frozenset(STATS)
_QUANTILE_SET = frozenset(QUANTILES)
_NO_TS = -(2**63)
# A hair tighter than RELATIVE_ACCURACY so float rounding in log/exp cannot cross it.
_ALPHA = RELATIVE_ACCURACY * (1 - 1e-6)
_GAMMA = (1 + _ALPHA) / (1 - _ALPHA)
_LOG_GAMMA = log(_GAMMA)
_KEY_SCALE = 1 / _LOG_GAMMA
_NO_FLOOR = -(2**62)


def check_stats(stats: Iterable[str]) -> frozenset[str]:
    """``stats`` as a frozenset; ``ValueError`` naming any unknown stat."""
    wanted = frozenset(stats)
    unknown = wanted - _STAT_SET
    if unknown:
        raise ValueError(f"unknown stats {sorted(unknown)}; known: {', '.join(STATS)}")
    return wanted


def quantile_rank(q: float, count: int) -> int:
    """0-based rank of quantile ``q`` among ``count`` sorted values (``count > 0``)."""
    # The epsilon keeps e.g. 0.29 * 100 = 28.999999999999996 at rank 29.
    return int(q * (count - 1) + 1e-9)


class _Bins:
    """Counts per log bucket for one sign, keyed by bucket index."""

    __slots__ = ("counts", "floor")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.floor = _NO_FLOOR  # keys below it were folded into it

    def add(self, key: int, n: int = 1) -> None:
        if key < self.floor:
            key = self.floor
        counts = self.counts
        if key in counts:
            counts[key] += n
            return
        if len(counts) >= SKETCH_MAX_BINS:
            self._collapse()
            key = max(key, self.floor)
        counts[key] = counts.get(key, 0) + n

    def _collapse(self) -> None:
        """Fold the smallest-magnitude bins into one, down to 3/4 of the limit.

        Folding a quarter at once keeps the cost amortised over many new bins."""
        keys = sorted(self.counts)
        self.floor = keys[len(keys) - SKETCH_MAX_BINS * 3 // 4]
        folded = 0
        for key in keys:
            if key >= self.floor:
                break
            folded += self.counts.pop(key)
        self.counts[self.floor] += folded


def _bucket_value(key: int) -> float:
    """The value that represents bucket ``key``, i.e. ``(γ^(key-1), γ^key]``: within
    ``_ALPHA`` relative of every value in it."""
    return 2 * exp(key * _LOG_GAMMA) / (_GAMMA + 1)


class QuantileSketch:
    """A mergeable quantile sketch with relative error, after DDSketch (Masson et al.,
    VLDB 2019), with unbounded sparse bins per sign and an exact zero count.

    A positive value ``x`` goes to bucket ``ceil(log_γ x)`` with
    ``γ = (1 + α) / (1 - α)``, ``α = 0.01``; negatives mirror it, zero is counted apart.
    The quantile at rank ``r`` is the representative of the bucket holding the
    ``r``-th smallest value, so it is within ``α · |exact|`` of the exact value at that
    rank — for any distribution, as long as each sign's bins stay under
    :data:`SKETCH_MAX_BINS`. Memory grows with the log of the value range (about 116
    bins per factor 10), not with the count.
    """

    __slots__ = ("_neg", "_pos", "_zero", "count")

    def __init__(self) -> None:
        self._pos = _Bins()
        self._neg = _Bins()
        self._zero = 0
        self.count = 0

    def add(self, value: float) -> None:
        self.count += 1
        if value > 0.0:
            self._pos.add(ceil(log(value) * _KEY_SCALE))
        elif value < 0.0:
            self._neg.add(ceil(log(-value) * _KEY_SCALE))
        else:
            self._zero += 1

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s values to this sketch (``other`` is unchanged)."""
        for mine, theirs in ((self._pos, other._pos), (self._neg, other._neg)):
            mine.floor = max(mine.floor, theirs.floor)
            for key, n in theirs.counts.items():
                mine.add(key, n)
        self._zero += other._zero
        self.count += other.count

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        """The value at rank ``floor(q * (count - 1))`` for each ``q`` (count > 0)."""
        if self.count == 0:
            raise ValueError("quantiles of an empty sketch")
        # Ascending (value, count) runs: negatives from the largest magnitude, zero, positives.
        runs: list[tuple[float, int]] = [
            (-_bucket_value(k), self._neg.counts[k]) for k in sorted(self._neg.counts, reverse=True)
        ]
        if self._zero:
            runs.append((0.0, self._zero))
        runs.extend((_bucket_value(k), self._pos.counts[k]) for k in sorted(self._pos.counts))
        out: list[float] = []
        for q in qs:
            rank = quantile_rank(q, self.count)
            seen = 0
            for value, n in runs:
                seen += n
                if seen > rank:
                    out.append(value)
                    break
        return out


class Accumulator:
    """Statistics of one window of one series.

    Created for the stats that will be asked of it: quantile stats need values kept,
    the others need only the six scalars, which are always updated (cheaper than
    testing which ones are wanted). ``count`` is public and read-only by convention.
    """

    __slots__ = ("_last", "_last_ts_ms", "_max", "_min", "_quantiles", "_sum", "_values", "count")

    def __init__(self, stats: Iterable[str] = STATS) -> None:
        wanted = check_stats(stats)
        self.count = 0
        self._sum = 0.0
        self._min = inf
        self._max = -inf
        self._last = 0.0
        self._last_ts_ms = _NO_TS
        self._quantiles = not _QUANTILE_SET.isdisjoint(wanted)
        self._values: array[float] | QuantileSketch | None = None

    def add(self, ts_ms: int, value: float) -> None:
        self.count += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value
        if ts_ms >= self._last_ts_ms:
            self._last_ts_ms = ts_ms
            self._last = value
        if self._quantiles:
            values = self._values
            if values is None:
                self._values = array("d", (value,))
            elif isinstance(values, array):
                values.append(value)
                if len(values) > EXACT_QUANTILE_LIMIT:
                    self._values = _sketch_of(values)
            else:
                values.add(value)

    def merge(self, other: Accumulator) -> None:
        """Fold ``other`` in, as if its records had been added after this one's."""
        if self._quantiles and not other._quantiles and other.count:
            raise ValueError("cannot merge: the other accumulator kept no quantile values")
        self.count += other.count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        if other.count and other._last_ts_ms >= self._last_ts_ms:
            self._last_ts_ms = other._last_ts_ms
            self._last = other._last
        if not self._quantiles or other._values is None:
            return
        mine, theirs = self._values, other._values
        if isinstance(theirs, array) and (mine is None or isinstance(mine, array)):
            merged = array("d", mine or ())
            merged.extend(theirs)
            self._values = merged if len(merged) <= EXACT_QUANTILE_LIMIT else _sketch_of(merged)
            return
        sketch = mine if isinstance(mine, QuantileSketch) else _sketch_of(mine or ())
        if isinstance(theirs, QuantileSketch):
            sketch.merge(theirs)
        else:
            for value in theirs:
                sketch.add(value)
        self._values = sketch

    def result(self, stats: Iterable[str], size_ms: int) -> dict[str, float | None]:
        """The requested stats, in the order given, for a window of ``size_ms``.

        ``ValueError`` for an unknown stat, or a quantile this accumulator was not
        created to keep.
        """
        count = self.count
        out: dict[str, float | None] = {}
        wanted_quantiles: list[str] = []
        for stat in stats:
            if stat == "count":
                out[stat] = float(count)
            elif stat == "sum":
                out[stat] = self._sum
            elif stat == "rate":
                out[stat] = count * 1000 / size_ms
            elif stat in _QUANTILE_SET:
                if not self._quantiles:
                    raise ValueError(f"{stat} was not among the stats this accumulator keeps")
                out[stat] = None
                wanted_quantiles.append(stat)
            elif count == 0:
                if stat not in _STAT_SET:
                    raise ValueError(f"unknown stat {stat!r}; known: {', '.join(STATS)}")
                out[stat] = None
            elif stat == "min":
                out[stat] = self._min
            elif stat == "max":
                out[stat] = self._max
            elif stat == "mean":
                out[stat] = self._sum / count
            elif stat == "last":
                out[stat] = self._last
            else:
                raise ValueError(f"unknown stat {stat!r}; known: {', '.join(STATS)}")
        if wanted_quantiles and count:
            qs = [QUANTILES[s] for s in wanted_quantiles]
            for stat, value in zip(wanted_quantiles, self._quantile_values(qs), strict=True):
                out[stat] = value
        return out

    def _quantile_values(self, qs: Sequence[float]) -> list[float]:
        values = self._values
        assert values is not None
        if isinstance(values, QuantileSketch):
            # Clamping to the exact extremes can only move an estimate closer.
            return [min(max(v, self._min), self._max) for v in values.quantiles(qs)]
        ordered = sorted(values)
        return [ordered[quantile_rank(q, len(ordered))] for q in qs]


def _sketch_of(values: Iterable[float]) -> QuantileSketch:
    sketch = QuantileSketch()
    for value in values:
        sketch.add(value)
    return sketch
