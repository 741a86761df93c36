"""A NAB-layout folder loaded into memory: series, their anomaly windows, the profiles.

Layout (NAB's own)::

    DIR/data/<category>/<file>.csv         timestamp,value
    DIR/labels/combined_windows.json       {"<category>/<file>.csv": [[start, end], ...]}
    DIR/config/profiles.json               optional; NAB's three profiles otherwise

A series is a file named in the labels (NAB scores only labelled files; data files
without labels are listed in :attr:`Corpus.unlabelled`). Window limits must be
timestamps of the file, as NAB's labeler demands; they become row indices here.
Timestamps without a zone are read as UTC.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.nab.scoring import PROFILES, Profile, Window
from processors.errors import OpsrulesError

LABELS = Path("labels") / "combined_windows.json"
PROFILES_FILE = Path("config") / "profiles.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NabDataError(OpsrulesError):
    """A NAB folder or results file that cannot be read; ``path`` is the culprit."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class Series:
    """One labelled data file. ``path`` is NAB's key, e.g. ``realKnownCause/nyc_taxi.csv``."""

    path: str
    timestamps: tuple[str, ...]
    """As written in the file (results files repeat them verbatim)."""
    timestamps_ms: tuple[int, ...]
    values: tuple[float, ...]
    windows: tuple[Window, ...]

    @property
    def category(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Corpus:
    """The labelled series of a NAB folder, sorted by path, and the cost profiles."""

    root: Path
    series: tuple[Series, ...]
    profiles: tuple[Profile, ...]
    unlabelled: tuple[str, ...] = ()

    @property
    def windows(self) -> int:
        return sum(len(s.windows) for s in self.series)

    @property
    def rows(self) -> int:
        return sum(len(s.values) for s in self.series)


def parse_timestamp(text: str) -> datetime:
    """NAB's ``YYYY-MM-DD HH:MM:SS[.ffffff]``; naive timestamps are UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def load_corpus(root: Path) -> Corpus:
    """Read a NAB-layout folder; raises :class:`NabDataError` saying what is missing."""
    root = Path(root)
    if not (root / "data").is_dir():
        raise NabDataError(
            root,
            "no data/ folder: pass the root of a NAB-layout folder "
            "(data/<category>/<file>.csv, labels/combined_windows.json), "
            "e.g. a checkout of github.com/numenta/NAB",
        )
    labels_path = root / LABELS
    if not labels_path.is_file():
        raise NabDataError(
            labels_path,
            "missing: NAB's anomaly windows are needed to score; copy "
            "labels/combined_windows.json from github.com/numenta/NAB",
        )
    labels = _read_json(labels_path)
    if not isinstance(labels, dict):
        raise NabDataError(labels_path, "expected an object of file path -> windows")
    series = tuple(
        _load_series(root, rel_path, labels_path, limits)
        for rel_path, limits in sorted(labels.items())
    )
    on_disk = {p.relative_to(root / "data").as_posix() for p in (root / "data").rglob("*.csv")}
    return Corpus(
        root=root,
        series=series,
        profiles=load_profiles(root / PROFILES_FILE),
        unlabelled=tuple(sorted(on_disk - labels.keys())),
    )


def load_profiles(path: Path) -> tuple[Profile, ...]:
    """NAB's ``profiles.json`` (name -> CostMatrix); the built-in three if absent."""
    if not path.is_file():
        return PROFILES
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise NabDataError(path, "expected an object of profile name -> CostMatrix")
    try:
        return tuple(
            Profile(
                name,
                tp_weight=float(spec["CostMatrix"]["tpWeight"]),
                fp_weight=float(spec["CostMatrix"]["fpWeight"]),
                fn_weight=float(spec["CostMatrix"]["fnWeight"]),
            )
            for name, spec in raw.items()
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise NabDataError(
            path, f"not a NAB profiles file ({exc!r}); expected name -> CostMatrix weights"
        ) from exc


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NabDataError(path, f"cannot read JSON: {exc}") from exc


def read_rows(path: Path, columns: tuple[str, ...]) -> list[list[str]]:
    """The named columns of a CSV with a header, as text; errors name the file."""
    try:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in columns if name not in header]
            if missing:
                raise NabDataError(path, f"no column(s) {', '.join(missing)} in {header}")
            picks = [header.index(name) for name in columns]
            return [[row[i] for i in picks] for row in reader if row]
    except OSError as exc:
        raise NabDataError(path, f"cannot read: {exc}") from exc
    except IndexError as exc:
        raise NabDataError(path, "a row has fewer fields than the header") from exc


def _load_series(root: Path, rel_path: str, labels_path: Path, limits: object) -> Series:
    path = root / "data" / rel_path
    if not path.is_file():
        raise NabDataError(path, f"named in {labels_path} but missing; restore the data file")
    rows = read_rows(path, ("timestamp", "value"))
    try:
        moments = [parse_timestamp(ts) for ts, _ in rows]
        values = tuple(float(value) for _, value in rows)
    except ValueError as exc:
        raise NabDataError(path, f"bad timestamp or value: {exc}") from exc
    return Series(
        path=rel_path,
        timestamps=tuple(ts for ts, _ in rows),
        timestamps_ms=tuple(epoch_ms(m) for m in moments),
        values=values,
        windows=_window_rows(labels_path, rel_path, limits, moments),
    )


def _window_rows(
    labels_path: Path, rel_path: str, limits: object, moments: list[datetime]
) -> tuple[Window, ...]:
    """Window timestamps -> row indices, checked the way NAB's scorer needs them.

    NAB enters a window only on the row whose timestamp equals its start, one window
    at a time, and divides by ``width - 1`` after it: windows must hit timestamps of
    the file, be sorted, disjoint and at least two rows wide.
    """
    where = f"{rel_path} in {labels_path}"
    if not isinstance(limits, list):
        raise NabDataError(labels_path, f"{rel_path}: expected a list of [start, end] windows")
    row_of: dict[datetime, int] = {}
    for i, moment in enumerate(moments):
        row_of.setdefault(moment, i)
    windows: list[Window] = []
    for limit in limits:
        try:
            start, end = (row_of[parse_timestamp(str(t))] for t in limit)
        except (KeyError, ValueError, TypeError) as exc:
            raise NabDataError(
                labels_path,
                f"{rel_path}: window {limit!r} does not match timestamps of the file; "
                "window limits must be exact timestamps of the data file",
            ) from exc
        if end - start < 1 or (windows and start <= windows[-1][1]):
            raise NabDataError(
                labels_path,
                f"window {limit!r} of {where} is shorter than two rows, out of order or "
                "overlaps the previous one; NAB's scorer needs sorted, disjoint windows",
            )
        windows.append((start, end))
    return tuple(windows)
