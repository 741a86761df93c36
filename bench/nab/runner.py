"""Run a detector over a NAB corpus and score its anomaly scores the way NAB does.

:func:`score_corpus` is the entry point for tuning: anomaly scores per series in,
normalised scores per profile out, at a fixed threshold or at NAB's swept one.
:func:`run_detector` feeds every series, row by row in order, to a
:data:`SeriesScorer`; :func:`opsrules_scorer` is the project's detector.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.nab.corpus import Corpus, Series
from bench.nab.scoring import (
    Profile,
    SweepRow,
    ThresholdScore,
    best_threshold,
    normalised_score,
    score_at,
    sweep_rows,
)
from processors.errors import OpsrulesError

SeriesScorer = Callable[[Sequence[float], Sequence[int]], list[float]]
"""``(values, timestamps_ms) -> anomaly scores in [0, 1]``, one per row, online."""

Progress = Callable[[int, int, Series, float], None]
"""``(done, total, series, elapsed_s)`` after each series."""


class AnomalyScoresError(OpsrulesError):
    """A detector's scores NAB cannot rank: missing, one per row not kept, not finite."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class FileScore:
    """One series at one profile and threshold: NAB's per-file results row."""

    path: str
    rows: int
    """All rows of the file: NAB's ``Total_Count`` column (``result.total`` excludes
    the probationary period)."""
    windows: int
    result: ThresholdScore
    null_raw: float
    """What no detection scores: ``-fn`` per window with a row after probation."""


@dataclass(frozen=True, slots=True)
class Subtotal:
    """Raw and normalised score of a set of files (the corpus, or one category)."""

    files: int
    windows: int
    raw: float
    null_raw: float
    perfect_raw: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows_hit: int

    @property
    def normalised(self) -> float | None:
        """NAB's 0..100 score; None where there is no window to find."""
        if self.perfect_raw == self.null_raw:
            return None
        return normalised_score(self.raw, self.null_raw, self.perfect_raw)


@dataclass(frozen=True, slots=True)
class ProfileScore:
    """A detector's score on a corpus under one profile."""

    profile: Profile
    threshold: float
    swept: bool
    """True when ``threshold`` is NAB's best for this corpus, not a fixed one."""
    swept_raw: float | None
    """The optimiser's total at ``threshold`` (NAB reports the re-scored one)."""
    files: tuple[FileScore, ...]
    total: Subtotal
    categories: dict[str, Subtotal]

    @property
    def normalised(self) -> float:
        value = self.total.normalised
        return 0.0 if value is None else value


@dataclass(frozen=True, slots=True)
class CorpusScore:
    """Scores under every profile of the corpus, keyed by profile name."""

    profiles: dict[str, ProfileScore]
    files: int
    windows: int

    def to_json(self) -> dict[str, Any]:
        """Top-level normalised score per profile, then the detail."""
        out: dict[str, Any] = {name: p.normalised for name, p in self.profiles.items()}
        thresholds = {name: p.threshold for name, p in self.profiles.items()}
        swept = any(p.swept for p in self.profiles.values())
        out["threshold"] = None if swept else next(iter(thresholds.values()), None)
        out["thresholds"] = thresholds
        out["swept"] = swept
        out["files"] = self.files
        out["windows"] = self.windows
        out["profiles"] = {name: _profile_json(p) for name, p in self.profiles.items()}
        return out


def score_corpus(
    scores_by_file: Mapping[str, Sequence[float]],
    corpus: Corpus,
    threshold: float | None,
    profiles: Iterable[Profile] | None = None,
) -> CorpusScore:
    """Score anomaly scores (per series path, one per row) under each profile.

    ``threshold`` None runs NAB's sweep over the whole corpus per profile and then
    scores every file at the best threshold, as NAB's optimise + score steps do
    (the total is the sum of per-file scores). A fixed threshold detects every row
    whose score is >= it. Rows of each file's probationary period never count.
    Raises :class:`AnomalyScoresError` for a missing, short or non-finite score.
    """
    for series in corpus.series:
        _check_scores(series, scores_by_file.get(series.path))
    chosen = tuple(profiles) if profiles is not None else corpus.profiles
    return CorpusScore(
        profiles={p.name: _score_profile(scores_by_file, corpus, p, threshold) for p in chosen},
        files=len(corpus.series),
        windows=corpus.windows,
    )


def run_detector(
    corpus: Corpus, scorer: SeriesScorer, progress: Progress | None = None
) -> dict[str, list[float]]:
    """Anomaly scores for every series, one scorer call per series, in path order."""
    scores: dict[str, list[float]] = {}
    for done, series in enumerate(corpus.series, start=1):
        started = time.perf_counter()
        result = scorer(series.values, series.timestamps_ms)
        _check_scores(series, result)
        scores[series.path] = result
        if progress is not None:
            progress(done, len(corpus.series), series, time.perf_counter() - started)
    return scores


def opsrules_scorer() -> tuple[SeriesScorer, float]:
    """The project's detector (``processors.firehose.anomaly``) and its fixed threshold.

    Imported lazily: the benchmark runs without it for other detectors.
    """
    from processors.firehose.anomaly import DEFAULT_CONFIG, THRESHOLD, new_state, score_point

    def scorer(values: Sequence[float], timestamps_ms: Sequence[int]) -> list[float]:
        state = new_state(DEFAULT_CONFIG)
        return [
            float(score_point(state, value, ts_ms, DEFAULT_CONFIG).score)
            for value, ts_ms in zip(values, timestamps_ms, strict=True)
        ]

    return scorer, float(THRESHOLD)


def _check_scores(series: Series, scores: Sequence[float] | None) -> None:
    if scores is None:
        raise AnomalyScoresError(series.path, "no anomaly scores for this series")
    if len(scores) != len(series.values):
        raise AnomalyScoresError(
            series.path, f"{len(scores)} anomaly scores for {len(series.values)} rows"
        )
    for row, score in enumerate(scores):
        if not math.isfinite(score):
            raise AnomalyScoresError(
                series.path,
                f"anomaly score {score} at row {row} ({series.timestamps[row]}); NAB ranks "
                "rows by score, so every score must be a finite number",
            )


def _score_profile(
    scores_by_file: Mapping[str, Sequence[float]],
    corpus: Corpus,
    profile: Profile,
    threshold: float | None,
) -> ProfileScore:
    rows_by_file: list[list[SweepRow]] = []
    key = 0
    for series in corpus.series:
        rows_by_file.append(sweep_rows(scores_by_file[series.path], series.windows, profile, key))
        key += len(series.windows)
    swept_raw: float | None = None
    if threshold is None:
        best = best_threshold((row for rows in rows_by_file for row in rows), profile.fn_weight)
        threshold, swept_raw = best.threshold, best.score
    files = tuple(
        FileScore(
            path=series.path,
            rows=len(series.values),
            windows=len(series.windows),
            result=score_at(rows, profile.fn_weight, threshold),
            null_raw=-profile.fn_weight * len({row[2] for row in rows if row[2] >= 0}),
        )
        for series, rows in zip(corpus.series, rows_by_file, strict=True)
    )
    categories = sorted({f.path.split("/", 1)[0] for f in files})
    return ProfileScore(
        profile=profile,
        threshold=threshold,
        swept=swept_raw is not None,
        swept_raw=swept_raw,
        files=files,
        total=_subtotal(files, profile),
        categories={
            c: _subtotal([f for f in files if f.path.startswith(c + "/")], profile)
            for c in categories
        },
    )


def _subtotal(files: Sequence[FileScore], profile: Profile) -> Subtotal:
    raw = 0.0
    for f in files:  # NAB's "Totals" row: per-file scores added in file order
        raw += f.result.score
    windows = sum(f.windows for f in files)
    return Subtotal(
        files=len(files),
        windows=windows,
        raw=raw,
        null_raw=sum(f.null_raw for f in files),
        perfect_raw=windows * profile.tp_weight,
        tp=sum(f.result.tp for f in files),
        tn=sum(f.result.tn for f in files),
        fp=sum(f.result.fp for f in files),
        fn=sum(f.result.fn for f in files),
        windows_hit=sum(f.result.windows_hit for f in files),
    )


def _subtotal_json(total: Subtotal) -> dict[str, Any]:
    return {
        "normalised": total.normalised,
        "raw": total.raw,
        "null_raw": total.null_raw,
        "perfect_raw": total.perfect_raw,
        "files": total.files,
        "windows": total.windows,
        "windows_hit": total.windows_hit,
        "tp": total.tp,
        "tn": total.tn,
        "fp": total.fp,
        "fn": total.fn,
    }


def _profile_json(score: ProfileScore) -> dict[str, Any]:
    return {
        "threshold": score.threshold,
        "swept": score.swept,
        "swept_raw": score.swept_raw,
        **_subtotal_json(score.total),
        "categories": {name: _subtotal_json(t) for name, t in score.categories.items()},
        "per_file": [
            {
                "file": f.path,
                "score": f.result.score,
                "tp": f.result.tp,
                "tn": f.result.tn,
                "fp": f.result.fp,
                "fn": f.result.fn,
                "windows": f.windows,
                "windows_hit": f.result.windows_hit,
                "scored_rows": f.result.total,
                "rows": f.rows,
            }
            for f in score.files
        ],
    }
