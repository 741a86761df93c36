"""Tune and check the anomaly detector (``processors/firehose/anomaly.py``) on NAB.

Reproducible (no randomness but seeded noise); prints:

1. the detector's NAB scores at its fixed :data:`~processors.firehose.anomaly.THRESHOLD`, per
   profile and per category (``bench.nab``'s scorer);
2. NAB's swept-best threshold per profile for the same scores (suppression after an
   alarm still keyed to ``THRESHOLD``, so this is NAB's usual optimisation, for
   comparison with published results);
3. a joint scan: for each candidate threshold ``t`` (``--scan``), the detector re-run
   with ``alarm_score = t`` (its suppression follows the threshold) and scored at
   ``t``; the best ``t`` per profile. This is how ``THRESHOLD`` was chosen;
4. a split-half check: files sorted by path, half A = even positions (0, 2, ...),
   half B = odd. The joint scan picks ``t`` on one half (standard profile); the other
   half is scored at that ``t``, next to its score at the fixed ``THRESHOLD``;
5. false alarms per 10k points on seeded stationary noise (Gaussian, uniform, AR(1),
   daily cycle, exponential, small counts; 5-minute points, so the hour-of-week
   profile is in use after a week) after 1,000 warm-up points: the price of a setting
   outside NAB.

``--set name=value`` overrides a :class:`~processors.firehose.anomaly.DetectorConfig` field
(Python literal, e.g. ``--set spans_points=(1,60) --set tolerances=(0.05,0.02)``)
to try a variant; the defaults are the tuned values.

    .venv/bin/python -m bench.anomaly_tune [--data DIR] [--set NAME=VALUE ...]
        [--scan LO:HI:STEP] [--json]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.nab.cli import render
from bench.nab.corpus import Corpus, load_corpus
from bench.nab.runner import score_corpus
from processors.firehose.anomaly import DEFAULT_CONFIG, DetectorConfig, new_state, score_point

DEFAULT_DATA = Path("/work/shared/benchmarks/nab")
STANDARD = "standard"
NOISE_POINTS = 10_000
NOISE_WARMUP = 1_000
NOISE_SEEDS = (0, 1, 2, 3, 4)
NOISE_STEP_MS = 300_000  # 10k points = 35 days: the hour-of-week profile is in use

Scores = dict[str, list[float]]


def run_corpus(corpus: Corpus, config: DetectorConfig) -> Scores:
    """Anomaly scores of every series of ``corpus`` under ``config``."""
    out: Scores = {}
    for series in corpus.series:
        state = new_state(config)
        out[series.path] = [
            score_point(state, v, t, config).score
            for v, t in zip(series.values, series.timestamps_ms, strict=True)
        ]
    return out


def subset(corpus: Corpus, parity: int) -> Corpus:
    """Half of the corpus: the series at even (0) or odd (1) positions, sorted by path."""
    ordered = sorted(corpus.series, key=lambda s: s.path)
    return dataclasses.replace(corpus, series=tuple(ordered[parity::2]))


def normalised(scores: Mapping[str, Sequence[float]], corpus: Corpus, t: float | None) -> Any:
    """score_corpus restricted to ``corpus``'s series."""
    mine = {s.path: scores[s.path] for s in corpus.series}
    return score_corpus(mine, corpus, t)


def joint_scan(
    corpus: Corpus, config: DetectorConfig, candidates: Sequence[float]
) -> dict[float, Scores]:
    """Per candidate threshold: the scores with the detector's alarm_score set to it."""
    return {t: run_corpus(corpus, dataclasses.replace(config, alarm_score=t)) for t in candidates}


def best_of_scan(scan: Mapping[float, Scores], corpus: Corpus, profile: str) -> tuple[float, float]:
    """(threshold, normalised score) maximising ``profile`` on ``corpus``; ties: lowest t."""
    best = (math.nan, -math.inf)
    for t, scores in scan.items():
        value = normalised(scores, corpus, t).profiles[profile].normalised
        if value > best[1]:
            best = (t, value)
    return best


def noise_series() -> list[tuple[str, Callable[[random.Random], list[float]]]]:
    def gaussian(rng: random.Random) -> list[float]:
        return [rng.gauss(0.0, 1.0) for _ in range(NOISE_POINTS)]

    def uniform(rng: random.Random) -> list[float]:
        return [rng.random() for _ in range(NOISE_POINTS)]

    def ar1(rng: random.Random) -> list[float]:
        y, out = 0.0, []
        for _ in range(NOISE_POINTS):
            y = 0.9 * y + rng.gauss(0.0, 1.0)
            out.append(y)
        return out

    def daily(rng: random.Random) -> list[float]:
        return [
            10.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0)
            for i in range(NOISE_POINTS)
        ]

    def exponential(rng: random.Random) -> list[float]:
        return [rng.expovariate(1.0) for _ in range(NOISE_POINTS)]

    def counts(rng: random.Random) -> list[float]:
        return [float(sum(rng.random() < 0.1 for _ in range(20))) for _ in range(NOISE_POINTS)]

    return [
        ("gaussian", gaussian),
        ("uniform", uniform),
        ("ar1", ar1),
        ("daily", daily),
        ("exponential", exponential),
        ("counts", counts),
    ]


def noise_false_alarms(config: DetectorConfig, threshold: float) -> dict[str, float]:
    """Mean alarms per 10k points after warm-up, over :data:`NOISE_SEEDS`."""
    out: dict[str, float] = {}
    per = 10_000 / (NOISE_POINTS - NOISE_WARMUP)
    for name, make in noise_series():
        total = 0
        for seed in NOISE_SEEDS:
            values = make(random.Random(seed))
            state = new_state(config)
            for i, v in enumerate(values):
                s = score_point(state, v, i * NOISE_STEP_MS, config).score
                if i >= NOISE_WARMUP and s >= threshold:
                    total += 1
        out[name] = round(per * total / len(NOISE_SEEDS), 2)
    return out


def parse_overrides(pairs: Sequence[str]) -> DetectorConfig:
    fields = {f.name for f in dataclasses.fields(DetectorConfig)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in fields:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE, NAME in {sorted(fields)}")
        changes[name] = ast.literal_eval(text)
    return dataclasses.replace(DEFAULT_CONFIG, **changes)


def parse_scan(text: str) -> list[float]:
    lo, hi, step = (float(x) for x in text.split(":"))
    n = round((hi - lo) / step)
    return [round(lo + i * step, 6) for i in range(n + 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="N=V")
    parser.add_argument("--scan", default="0.30:0.70:0.02", metavar="LO:HI:STEP")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    config = parse_overrides(args.overrides)
    threshold = config.alarm_score  # THRESHOLD unless --set alarm_score=...
    corpus = load_corpus(args.data)
    halves = {"A": subset(corpus, 0), "B": subset(corpus, 1)}

    scores = run_corpus(corpus, config)
    fixed = normalised(scores, corpus, threshold)
    swept = normalised(scores, corpus, None)
    scan = joint_scan(corpus, config, parse_scan(args.scan))
    joint = {p: best_of_scan(scan, corpus, p) for p in fixed.profiles}
    split: dict[str, dict[str, Any]] = {}
    for chosen_on, scored_on in (("A", "B"), ("B", "A")):
        t, on_own = best_of_scan(scan, halves[chosen_on], STANDARD)
        held_out = normalised(scan[t], halves[scored_on], t)
        at_fixed = normalised(scores, halves[scored_on], threshold)
        split[f"{chosen_on}->{scored_on}"] = {
            "threshold": t,
            "chosen_half_standard": round(on_own, 2),
            "held_out": {p: round(v.normalised, 2) for p, v in held_out.profiles.items()},
            "held_out_at_fixed": {p: round(v.normalised, 2) for p, v in at_fixed.profiles.items()},
        }
    noise = noise_false_alarms(config, threshold)

    report: dict[str, Any] = {
        "config": repr(config),
        "threshold": threshold,
        "fixed": {p: round(v.normalised, 2) for p, v in fixed.profiles.items()},
        "fixed_categories": {
            c: round(t.normalised, 2) if t.normalised is not None else None
            for c, t in fixed.profiles[STANDARD].categories.items()
        },
        "nab_swept": {
            p: {"threshold": round(v.threshold, 4), "score": round(v.normalised, 2)}
            for p, v in swept.profiles.items()
        },
        "joint_scan_best": {
            p: {"threshold": t, "score": round(v, 2)} for p, (t, v) in joint.items()
        },
        "split_half": split,
        "noise_alarms_per_10k": noise,
    }
    if args.json:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"config: {config!r}")
    print(f"\n== 1. fixed threshold {threshold} ==")
    print(render(fixed, corpus, "opsrules"))
    print("\n== 2. NAB sweep over the same scores (suppression keyed to the fixed threshold) ==")
    for p, v in report["nab_swept"].items():
        print(f"{p:<20} {v['score']:>6.2f} at {v['threshold']}")
    print(f"\n== 3. joint scan (alarm_score = threshold = t, t in {args.scan}) ==")
    for p, v in report["joint_scan_best"].items():
        print(f"{p:<20} {v['score']:>6.2f} at {v['threshold']}")
    print("\n== 4. split half: t chosen on one half (standard), scored on the other ==")
    for key, v in split.items():
        print(
            f"{key}: t={v['threshold']} (chosen half {v['chosen_half_standard']:.2f}); "
            f"held-out {v['held_out']}; held-out at fixed {threshold}: {v['held_out_at_fixed']}"
        )
    print(f"\n== 5. alarms per 10k points of stationary noise after {NOISE_WARMUP} points ==")
    print(" ".join(f"{k}={v}" for k, v in noise.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
