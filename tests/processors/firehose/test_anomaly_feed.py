"""Anomaly detection in the firehose: which metrics rules ask for, and the per partition
core that scores them and makes anomaly signals."""

from __future__ import annotations

import random
from typing import Any

import pytest

from processors.firehose.anomaly import THRESHOLD
from processors.firehose.anomaly_feed import AnomalyFeed, AnomalyPlan, anomaly_metrics
from processors.rules.model import Rule

CPU = "system.cpu.utilization"
T0 = 1_795_899_000_000


def rule(match: str, source: str = "signal", **extra: Any) -> Rule:
    return Rule.model_validate({"id": "r", "source": source, "match": match, **extra})


@pytest.mark.parametrize(
    ("match", "source", "expected"),
    [
        (f'kind == "anomaly" and metric == "{CPU}"', "signal", {CPU}),
        ('metric in ["a", "b"] and kind == "anomaly" and score > 0.5', "signal", {"a", "b"}),
        (f'kind == "window" and metric == "{CPU}"', "signal", set()),  # not anomalies
        (f'metric == "{CPU}"', "signal", set()),  # kind not required
        (f'kind == "anomaly" or metric == "{CPU}"', "signal", set()),  # not a conjunction
        (f'name == "{CPU}"', "metric", set()),  # not a signal rule
    ],
)
def test_the_metrics_rules_ask_anomalies_of(match: str, source: str, expected: set[str]) -> None:
    assert anomaly_metrics([rule(match, source)]) == expected


def test_a_sequence_step_on_anomalies_turns_detection_on() -> None:
    sequence = {
        "timeframe": "10m",
        "steps": [
            {"source": "signal", "match": f'kind == "anomaly" and metric == "{CPU}"'},
            {"source": "security", "match": 'event.outcome == "success"'},
        ],
    }
    rule_ = rule("true", "signal", type="sequence", sequence=sequence, group_by=["host"])
    assert anomaly_metrics([rule_]) == {CPU}


def test_a_disabled_rule_turns_nothing_on() -> None:
    match = f'kind == "anomaly" and metric == "{CPU}"'
    assert anomaly_metrics([rule(match, enabled=False)]) == frozenset()


def sample(i: int, value: float, host: str = "web-1", name: str = CPU) -> dict[str, Any]:
    return {"ts_ms": T0 + i * 10_000, "name": name, "value": value, "host": host}


def noisy(n: int, seed: int = 3, level: float = 0.3) -> list[float]:
    rnd = random.Random(seed)
    return [level + rnd.gauss(0, 0.02) for _ in range(n)]


def test_a_level_shift_makes_an_anomaly_signal_with_its_expected_range() -> None:
    feed = AnomalyFeed(AnomalyPlan(frozenset({CPU}), window_ms=None))
    values = noisy(400) + [v + 0.3 for v in noisy(50, seed=4)]
    signals = [s for i, v in enumerate(values) if (s := feed.add(sample(i, v))) is not None]
    shift = [s for s in signals if s.ts_ms >= T0 + 400 * 10_000]
    assert shift, "the level shift was not detected"
    first = shift[0]
    assert first.ts_ms == T0 + 400 * 10_000  # at the first shifted point
    assert first.kind == "anomaly" and first.key == "web-1" and first.rules == []
    assert first.group == {"metric": CPU, "host": "web-1"}
    values_ = first.values
    assert values_["score"] is not None and values_["score"] >= THRESHOLD
    assert values_["direction"] == 1.0
    assert values_["high"] is not None and values_["value"] is not None
    assert values_["value"] > values_["high"]  # outside the range it expected
    assert values_["expected"] is not None and abs(values_["expected"] - 0.3) < 0.05


def test_other_metrics_and_other_hosts_are_separate_or_ignored() -> None:
    feed = AnomalyFeed(AnomalyPlan(frozenset({CPU}), window_ms=None))
    assert feed.add(sample(0, 0.5, name="system.memory.utilization")) is None
    feed.add(sample(0, 0.5, host="a"))
    feed.add(sample(0, 0.5, host="b"))
    assert set(feed.series) == {(CPU, "a", ""), (CPU, "b", "")}


def test_window_mode_scores_each_window_mean_when_the_next_window_starts() -> None:
    window_ms = 60_000  # six samples per window
    feed = AnomalyFeed(AnomalyPlan(frozenset({CPU}), window_ms=window_ms))
    values = noisy(6 * 120) + [0.9] * 12  # 120 means: past the detector's warm-up
    out = [(i, s) for i, v in enumerate(values) if (s := feed.add(sample(i, v))) is not None]
    assert out, "the jump in the window means was not detected"
    i, signal = out[0]
    # Scored on the first sample of the window after the first high window, at its end.
    assert i == 6 * 121 and signal.ts_ms == T0 + 121 * window_ms
    assert signal.values["value"] == pytest.approx(0.9)


def test_idle_series_are_forgotten() -> None:
    feed = AnomalyFeed(AnomalyPlan(frozenset({CPU}), window_ms=None), forget_after_ms=60_000)
    feed.add(sample(0, 0.5, host="gone"))
    feed.add(sample(5, 0.5, host="stays"))
    feed.add(sample(13, 0.5, host="stays"))  # 130 s: past the first sweep
    assert set(feed.series) == {(CPU, "stays", "")}
