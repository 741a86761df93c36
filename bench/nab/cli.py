"""``opsrules bench nab``: opsrules' anomaly detector on the Numenta Anomaly Benchmark.

Two modes:

- ``--data DIR``: run the project's detector (``processors.firehose.anomaly``) over every
  labelled series of DIR and score it at its fixed threshold (``--threshold`` to try
  another). ``--write-results OUT`` also writes NAB's per-row results files.
- ``--data DIR --results RES --detector NAME``: score existing results
  (``RES/<category>/NAME_<file>.csv``) at ``--threshold``, or, without it, at the
  threshold NAB's sweep finds best for each profile on DIR.

Prints normalised scores per profile and per category, or one JSON object with
``--json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.nab.corpus import Corpus, Series, load_corpus
from bench.nab.results import read_results, write_results
from bench.nab.runner import (
    CorpusScore,
    SeriesScorer,
    opsrules_scorer,
    run_detector,
    score_corpus,
)
from processors.errors import OpsrulesError

OUR_DETECTOR = "opsrules"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="NAB-layout folder: data/<category>/*.csv, labels/combined_windows.json",
    )
    parser.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help="score existing results DIR/<category>/<detector>_<file>.csv instead",
    )
    parser.add_argument(
        "--detector",
        metavar="NAME",
        help=f"detector name in results file names (default {OUR_DETECTOR})",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="X",
        help="detect anomaly scores >= X (default: the detector's own threshold; "
        "with --results: NAB's swept best per profile)",
    )
    parser.add_argument(
        "--write-results",
        type=Path,
        metavar="OUT",
        help="also write OUT/<category>/<detector>_<file>.csv (timestamp,value,anomaly_score)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    """Run the mode ``args`` ask for; prints the report, returns the exit status."""
    corpus = load_corpus(args.data)
    for path in corpus.unlabelled:
        _progress(f"skipping {path}: not in labels/combined_windows.json")
    if args.results is not None:
        if args.write_results is not None:
            raise UsageError("--write-results runs our detector; leave out --results")
        if not args.detector:
            raise UsageError("--results needs --detector NAME (results files are NAME_<file>.csv)")
        detector = args.detector
        scores = read_results(args.results, detector, corpus)
        threshold = args.threshold
    else:
        detector = args.detector or OUR_DETECTOR
        scorer, own_threshold = _our_detector()
        threshold = own_threshold if args.threshold is None else args.threshold
        _progress(f"running {detector} over {len(corpus.series)} files, {corpus.rows} rows")
        scores = run_detector(corpus, scorer, progress=_file_done)
        if args.write_results is not None:
            written = write_results(args.write_results, detector, corpus, scores)
            _progress(f"wrote {len(written)} results files under {args.write_results}")
    result = score_corpus(scores, corpus, threshold)
    if args.json:
        print(json.dumps({"detector": detector, "data": str(corpus.root), **result.to_json()}))
    else:
        print(render(result, corpus, detector))
    return 0


def render(result: CorpusScore, corpus: Corpus, detector: str) -> str:
    """The report as text: one line per profile, then one per category."""
    lines = [
        f"NAB on {corpus.root}: {result.files} files, {result.windows} windows, "
        f"detector {detector}",
        "",
        f"{'profile':<20} {'score':>6} {'raw':>8} {'threshold':>12} "
        f"{'windows hit':>12} {'FP rows':>8}",
    ]
    for name, p in result.profiles.items():
        how = "swept" if p.swept else "fixed"
        lines.append(
            f"{name:<20} {p.normalised:>6.1f} {p.total.raw:>8.2f} {p.threshold:>6.4f} {how} "
            f"{p.total.windows_hit:>6}/{p.total.windows:<5} {p.total.fp:>8}"
        )
    names = list(result.profiles)
    lines += [
        "",
        f"{'category':<24} {'files':>5} {'windows':>7} " + " ".join(f"{n:>18}" for n in names),
    ]
    first = next(iter(result.profiles.values()))
    for category, sub in first.categories.items():
        cells = []
        for name in names:
            value = result.profiles[name].categories[category].normalised
            cells.append(f"{'-' if value is None else f'{value:.1f}':>18}")
        lines.append(f"{category:<24} {sub.files:>5} {sub.windows:>7} " + " ".join(cells))
    lines.append("(score: NAB's normalised 0..100; '-': no window to find, see --json for raw)")
    return "\n".join(lines)


class UsageError(OpsrulesError):
    """Options of ``opsrules bench nab`` that do not go together."""


def _our_detector() -> tuple[SeriesScorer, float]:
    try:
        return opsrules_scorer()
    except ImportError as exc:
        raise UsageError(
            f"the opsrules detector is not available ({exc}); score existing results "
            "instead with --results DIR --detector NAME"
        ) from exc


def _file_done(done: int, total: int, series: Series, elapsed_s: float) -> None:
    _progress(f"{done}/{total} {series.path}: {len(series.values)} rows in {elapsed_s:.2f} s")


def _progress(message: str) -> None:
    print(f"[bench.nab] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nab", description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except OpsrulesError as exc:
        print(f"opsrules: {exc}", file=sys.stderr)
        return 2


def handle(args: argparse.Namespace, settings: object) -> int:
    """The ``opsrules`` CLI handler (NAB needs no Kafka settings)."""
    return run(args)
