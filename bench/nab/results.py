"""NAB's results layout: ``DIR/<category>/<detector>_<file>.csv`` per series.

Each results file repeats the data file's rows with one more column:
``timestamp,value,anomaly_score`` (NAB writes more columns; only these are read).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.nab.corpus import Corpus, NabDataError, Series, read_rows


def results_path(root: Path, detector: str, series: Series) -> Path:
    return Path(root) / series.category / f"{detector}_{series.name}"


def read_results(root: Path, detector: str, corpus: Corpus) -> dict[str, list[float]]:
    """Anomaly scores per series path, for every series of ``corpus``.

    Raises :class:`NabDataError` for a missing file, a row count that differs from the
    data file, or a score that is not a finite number.
    """
    root = Path(root)
    if not root.is_dir():
        raise NabDataError(
            root, f"no results folder; expected {root}/<category>/{detector}_<file>.csv"
        )
    scores: dict[str, list[float]] = {}
    for series in corpus.series:
        path = results_path(root, detector, series)
        if not path.is_file():
            raise NabDataError(
                path,
                f"missing results for {series.path}: run the detector over every file of "
                f"{corpus.root} (or check --detector {detector!r})",
            )
        rows = read_rows(path, ("anomaly_score",))
        if len(rows) != len(series.values):
            raise NabDataError(path, f"{len(rows)} rows but {series.path} has {len(series.values)}")
        try:
            values = [float(text) for (text,) in rows]
        except ValueError as exc:
            raise NabDataError(path, f"bad anomaly_score: {exc}") from exc
        if not all(math.isfinite(v) for v in values):
            raise NabDataError(path, "an anomaly_score is NaN or infinite; NAB needs numbers")
        scores[series.path] = values
    return scores


def write_results(
    root: Path, detector: str, corpus: Corpus, scores: Mapping[str, Sequence[float]]
) -> list[Path]:
    """Write one results file per series (``repr`` floats: read back bit for bit)."""
    written: list[Path] = []
    for series in corpus.series:
        path = results_path(root, detector, series)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("timestamp", "value", "anomaly_score"))
            for ts, value, score in zip(
                series.timestamps, series.values, scores[series.path], strict=True
            ):
                writer.writerow((ts, repr(value), repr(float(score))))
        written.append(path)
    return written
