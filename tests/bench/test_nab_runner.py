"""A NAB folder loaded, results files written and read back, a detector run and scored,
and ``opsrules bench nab`` end to end, on a tiny NAB-layout folder built per test."""

from __future__ import annotations

import json
import math
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench.nab import cli
from bench.nab.corpus import NabDataError, load_corpus
from bench.nab.results import read_results, results_path, write_results
from bench.nab.runner import AnomalyScoresError, opsrules_scorer, run_detector, score_corpus
from bench.nab.scoring import PROFILES
from streams.cli import build_parser

START = datetime(2014, 1, 1)
STEP = timedelta(minutes=5)
SPIKE = 10.0
# path -> (rows, windows as row indices); spikes sit on each window's left edge
FILES: dict[str, tuple[int, list[tuple[int, int]]]] = {
    "catA/a.csv": (200, [(100, 119)]),
    "catA/b.csv": (200, [(60, 79), (150, 169)]),
    "catB/quiet.csv": (100, []),
}


def stamp(row: int, fraction: bool = False) -> str:
    moment = START + row * STEP
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if fraction else "%Y-%m-%d %H:%M:%S")


def make_nab_dir(
    root: Path,
    files: dict[str, tuple[int, list[tuple[int, int]]]] = FILES,
    labels: Mapping[str, object] | None = None,
    profiles: Mapping[str, object] | None = None,
) -> Path:
    """A NAB-layout folder: data CSVs (value 1, SPIKE at window starts), windows, profiles."""
    for path, (n_rows, windows) in files.items():
        starts = {left for left, _ in windows}
        lines = ["timestamp,value"]
        lines += [f"{stamp(i)},{SPIKE if i in starts else 1.0}" for i in range(n_rows)]
        target = root / "data" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    if labels is None:
        labels = {
            path: [[stamp(a, True), stamp(b, True)] for a, b in windows]
            for path, (_, windows) in files.items()
        }
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    if profiles is not None:
        (root / "config").mkdir(parents=True, exist_ok=True)
        (root / "config" / "profiles.json").write_text(json.dumps(profiles))
    return root


def spike_detector(values: Sequence[float], timestamps_ms: Sequence[int]) -> list[float]:
    """A trivial online detector: 1.0 on a spike, 0.0 elsewhere."""
    return [1.0 if v >= SPIKE else 0.0 for v in values]


# ------------------------------------------------------------------ corpus


def test_load_corpus_reads_series_windows_as_rows_and_default_profiles(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    assert [s.path for s in corpus.series] == sorted(FILES)
    b = corpus.series[1]
    assert (b.category, b.name, b.windows) == ("catA", "b.csv", ((60, 79), (150, 169)))
    assert b.timestamps[0] == "2014-01-01 00:00:00"
    assert b.timestamps_ms[1] - b.timestamps_ms[0] == 300_000
    assert b.timestamps_ms[0] == 1_388_534_400_000  # naive timestamps are UTC
    assert (corpus.windows, corpus.rows, corpus.profiles) == (3, 500, PROFILES)


def test_profiles_come_from_config_when_present(tmp_path: Path) -> None:
    profiles = {"strict": {"CostMatrix": {"tpWeight": 1, "fnWeight": 3, "fpWeight": 0.5}}}
    corpus = load_corpus(make_nab_dir(tmp_path, profiles=profiles))
    assert [(p.name, p.fn_weight, p.fp_weight) for p in corpus.profiles] == [("strict", 3, 0.5)]


def test_data_files_without_labels_are_listed_not_scored(tmp_path: Path) -> None:
    labels = {"catA/a.csv": [[stamp(100, True), stamp(119, True)]]}
    corpus = load_corpus(make_nab_dir(tmp_path, labels=labels))
    assert [s.path for s in corpus.series] == ["catA/a.csv"]
    assert corpus.unlabelled == ("catA/b.csv", "catB/quiet.csv")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"catA/a.csv": [["2014-01-01 00:01:00", stamp(10)]]}, "exact timestamps"),
        ({"catA/a.csv": [[stamp(10), stamp(10)]]}, "shorter than two rows"),
        ({"catA/a.csv": [[stamp(10), stamp(30)], [stamp(30), stamp(40)]]}, "overlaps"),
        ({"catA/a.csv": [[stamp(50), stamp(60)], [stamp(10), stamp(20)]]}, "out of order"),
        ({"catA/missing.csv": []}, "restore the data file"),
    ],
)
def test_bad_labels_are_reported_with_what_to_do(
    tmp_path: Path, labels: dict[str, object], message: str
) -> None:
    with pytest.raises(NabDataError, match=message):
        load_corpus(make_nab_dir(tmp_path, labels=labels))


def test_missing_folder_and_missing_labels_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NabDataError, match="no data/ folder"):
        load_corpus(tmp_path / "nowhere")
    make_nab_dir(tmp_path)
    (tmp_path / "labels" / "combined_windows.json").unlink()
    with pytest.raises(NabDataError, match=r"combined_windows\.json"):
        load_corpus(tmp_path)


# ------------------------------------------------------------------ results files


def test_results_written_are_read_back_bit_for_bit(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path / "nab"))
    scores = {s.path: [math.sin(i) ** 2 / 3 for i in range(len(s.values))] for s in corpus.series}
    written = write_results(tmp_path / "out", "opsrules", corpus, scores)
    assert written[0] == tmp_path / "out" / "catA" / "opsrules_a.csv"
    assert written[0].read_text().splitlines()[0] == "timestamp,value,anomaly_score"
    assert read_results(tmp_path / "out", "opsrules", corpus) == scores


def test_bad_results_files_are_reported(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path / "nab"))
    out = tmp_path / "out"
    write_results(out, "d", corpus, {s.path: [0.0] * len(s.values) for s in corpus.series})
    path = results_path(out, "d", corpus.series[0])
    path.write_text("timestamp,value,anomaly_score\n2014-01-01 00:00:00,1,0.5\n")
    with pytest.raises(NabDataError, match=r"1 rows but catA/a\.csv has 200"):
        read_results(out, "d", corpus)
    path.unlink()
    with pytest.raises(NabDataError, match=r"missing results for catA/a\.csv"):
        read_results(out, "d", corpus)
    with pytest.raises(NabDataError, match="no results folder"):
        read_results(tmp_path / "none", "d", corpus)


# ------------------------------------------------------------------ runner


def test_run_detector_scores_every_series_and_reports_progress(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    seen: list[tuple[int, int, str]] = []
    scores = run_detector(corpus, spike_detector, lambda d, t, s, _: seen.append((d, t, s.path)))
    assert seen == [(1, 3, "catA/a.csv"), (2, 3, "catA/b.csv"), (3, 3, "catB/quiet.csv")]
    assert scores["catA/a.csv"][100] == 1.0
    assert sum(scores["catA/a.csv"]) == 1.0


def test_run_detector_rejects_a_detector_that_skips_rows(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    with pytest.raises(AnomalyScoresError, match=r"catA/a\.csv: 199 anomaly scores for 200 rows"):
        run_detector(corpus, lambda v, t: [0.0] * (len(v) - 1))
    with pytest.raises(AnomalyScoresError, match=r"nan at row 3 \(2014-01-01 00:15:00\)"):
        run_detector(corpus, lambda v, t: [math.nan if i == 3 else 0.0 for i in range(len(v))])


def test_perfect_detector_scores_100_and_silent_one_0(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    perfect = score_corpus(run_detector(corpus, spike_detector), corpus, threshold=0.5)
    silent = score_corpus({s.path: [0.0] * len(s.values) for s in corpus.series}, corpus, 0.5)
    for name in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert perfect.profiles[name].normalised == pytest.approx(100.0, abs=1e-12)
        assert silent.profiles[name].normalised == 0.0
        assert perfect.profiles[name].total.windows_hit == 3
    assert perfect.profiles["standard"].categories["catB"].normalised is None  # no window
    assert perfect.profiles["standard"].categories["catA"].normalised == pytest.approx(100.0)


def test_false_alarms_cost_and_the_sweep_finds_the_threshold_that_avoids_them(
    tmp_path: Path,
) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    scores = run_detector(corpus, spike_detector)
    scores["catB/quiet.csv"] = [0.6 if i == 50 else 0.0 for i in range(100)]  # a false alarm
    fixed = score_corpus(scores, corpus, 0.5).profiles["standard"]
    swept = score_corpus(scores, corpus, None).profiles["standard"]
    assert fixed.total.fp == 1
    assert fixed.total.raw == pytest.approx(3.0 - 0.11, abs=1e-12)
    assert fixed.normalised == pytest.approx(100 * (3 - 0.11 + 3) / 6, abs=1e-12)
    assert (swept.swept, swept.threshold, swept.total.fp) == (True, 1.0, 0)
    assert swept.normalised == pytest.approx(100.0)


def test_score_corpus_refuses_missing_short_or_non_finite_scores(tmp_path: Path) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path))
    with pytest.raises(AnomalyScoresError, match=r"catB/quiet\.csv: no anomaly scores"):
        score_corpus({"catA/a.csv": [0.0] * 200, "catA/b.csv": [0.0] * 200}, corpus, 0.5)
    short = {s.path: [0.0] * (len(s.values) - 1) for s in corpus.series}
    with pytest.raises(AnomalyScoresError, match="199 anomaly scores for 200 rows"):
        score_corpus(short, corpus, 0.5)
    infinite = {s.path: [math.inf] * len(s.values) for s in corpus.series}
    with pytest.raises(AnomalyScoresError, match="inf at row 0"):
        score_corpus(infinite, corpus, 0.5)


@dataclass
class FakeState:
    seen: list[tuple[float, int]] = field(default_factory=list)


def test_opsrules_scorer_feeds_each_series_row_by_row_to_a_fresh_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The adapter to processors.firehose.anomaly: new_state per series, score_point per row."""
    config = object()
    states: list[FakeState] = []

    def new_state(cfg: object) -> FakeState:
        assert cfg is config
        states.append(FakeState())
        return states[-1]

    def score_point(state: FakeState, value: float, ts_ms: int, cfg: object) -> object:
        assert cfg is config
        state.seen.append((value, ts_ms))
        return types.SimpleNamespace(score=len(state.seen) / 10)

    fake = types.ModuleType("processors.firehose.anomaly")
    fake.__dict__.update(
        DEFAULT_CONFIG=config, THRESHOLD=0.8, new_state=new_state, score_point=score_point
    )
    monkeypatch.setitem(sys.modules, "processors.firehose.anomaly", fake)
    scorer, threshold = opsrules_scorer()
    assert threshold == 0.8
    assert scorer([5.0, 6.0], [1000, 2000]) == [0.1, 0.2]
    assert scorer([7.0], [3000]) == [0.1]
    assert [s.seen for s in states] == [[(5.0, 1000), (6.0, 2000)], [(7.0, 3000)]]


# ------------------------------------------------------------------ opsrules bench nab


def test_cli_scores_a_results_folder_as_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = load_corpus(make_nab_dir(tmp_path / "nab"))
    write_results(tmp_path / "res", "spikes", corpus, run_detector(corpus, spike_detector))
    argv = ["--data", str(tmp_path / "nab"), "--results", str(tmp_path / "res")]
    assert cli.main([*argv, "--detector", "spikes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)  # exactly one JSON document
    assert report["standard"] == pytest.approx(100.0)
    assert (report["threshold"], report["swept"], report["files"], report["windows"]) == (
        None,
        True,
        3,
        3,
    )
    assert set(report["thresholds"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert report["profiles"]["standard"]["categories"]["catB"]["normalised"] is None
    assert len(report["profiles"]["reward_low_FN_rate"]["per_file"]) == 3


def test_cli_runs_our_detector_at_its_threshold_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "opsrules_scorer", lambda: (spike_detector, 0.5))
    make_nab_dir(tmp_path / "nab")
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path / "nab"), "--write-results", str(out), "--json"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["threshold"], report["swept"], report["detector"]) == (0.5, False, "opsrules")
    assert report["reward_low_FP_rate"] == pytest.approx(100.0)
    assert (out / "catB" / "opsrules_quiet.csv").is_file()
    assert "3/3 catB/quiet.csv" in captured.err
    assert cli.main(["--data", str(tmp_path / "nab"), "--threshold", "2"]) == 0
    text = capsys.readouterr().out
    assert "standard" in text and "catA" in text and "0/3" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--results", "RES"], "--results needs --detector NAME"),
        (["--results", "RES", "--detector", "d", "--write-results", "O"], "leave out --results"),
    ],
)
def test_cli_errors_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    make_nab_dir(tmp_path)
    assert cli.main(["--data", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_opsrules_cli_wires_bench_nab() -> None:
    args = build_parser().parse_args(["bench", "nab", "--data", "DIR", "--threshold", "0.7"])
    assert args.handler is cli.handle
    assert (args.data, args.threshold, args.results) == (Path("DIR"), 0.7, None)
