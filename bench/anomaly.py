"""Throughput and memory of the anomaly detector core (``processors/firehose/anomaly.py``).

Throughput: ``--points`` points (default 1M) spread over ``--series`` series (default
1k), fed round-robin (one point per series per round, ``--step-s`` of event time apart,
default an hour, so that after the first week every point also goes through the
hour-of-week residual features: the slowest path) through
:func:`processors.firehose.anomaly.score_point`, each series' state looked up in a dict as a
shell would. Values are pre-generated (a seeded random walk plus noise and rare spikes)
and frozen out of the garbage collector, so the time is that of the scoring. One core;
the best of ``--repeat`` runs (fresh states each run) is reported.

Memory: ``--state-series`` states (default 10k), each fed 200 hourly points so that
nothing is still to be allocated, measured with :mod:`tracemalloc`; bytes per series =
traced bytes / series (the states and their dict, not the interpreter).

    .venv/bin/python -m bench.anomaly [--points N] [--series N] [--step-s S]
        [--repeat R] [--state-series N]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
import tracemalloc

from processors.firehose.anomaly import (
    DEFAULT_CONFIG,
    THRESHOLD,
    DetectorState,
    new_state,
    score_point,
)

HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def make_values(series: int, rounds: int, seed: int = 7) -> list[list[float]]:
    """``rounds`` rows of one value per series: random walks with noise and rare spikes."""
    rng = random.Random(seed)
    levels = [rng.uniform(10.0, 1000.0) for _ in range(series)]
    rows: list[list[float]] = []
    for _ in range(rounds):
        row = []
        for i in range(series):
            levels[i] += rng.gauss(0.0, 0.01 * levels[i] ** 0.5)
            v = levels[i] + rng.gauss(0.0, 1.0)
            if rng.random() < 0.001:
                v += 20.0
            row.append(v)
        rows.append(row)
    return rows


def run_once(rows: list[list[float]], step_ms: int) -> tuple[float, int]:
    """Seconds to score every row, and the number of points scoring >= THRESHOLD."""
    series = len(rows[0])
    keys = [f"host-{i}/system.cpu.utilization" for i in range(series)]
    states: dict[str, DetectorState] = {k: new_state() for k in keys}
    alarms = 0
    ts_ms = START_MS
    t0 = time.perf_counter()
    for row in rows:
        for key, value in zip(keys, row, strict=True):
            if score_point(states[key], value, ts_ms).score >= THRESHOLD:
                alarms += 1
        ts_ms += step_ms
    return time.perf_counter() - t0, alarms


def bytes_per_series(series: int, points: int = 200) -> float:
    """Traced bytes per series for ``series`` states after ``points`` points each."""
    rows = make_values(min(series, 100), points, seed=11)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    states = {f"s{i}": new_state() for i in range(series)}
    for r, row in enumerate(rows):
        for i, state in enumerate(states.values()):
            score_point(state, row[i % len(row)], START_MS + r * HOUR_MS)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(states) == series
    return (after - before) / series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--step-s", type=int, default=3_600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--state-series", type=int, default=10_000)
    args = parser.parse_args(argv)
    rounds = max(1, args.points // args.series)
    rows = make_values(args.series, rounds)
    gc.collect()
    gc.freeze()
    runs = [run_once(rows, args.step_s * 1000) for _ in range(args.repeat)]
    best_s = min(s for s, _ in runs)
    points = rounds * args.series
    result = {
        "points": points,
        "series": args.series,
        "step_s": args.step_s,
        "best_seconds": round(best_s, 3),
        "points_per_s": round(points / best_s),
        "alarms": runs[0][1],
        "state_series": args.state_series,
        "bytes_per_series": round(bytes_per_series(args.state_series)),
        "threshold": THRESHOLD,
        "config": repr(DEFAULT_CONFIG),
        "python": platform.python_version(),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
