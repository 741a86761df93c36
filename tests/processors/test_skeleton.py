from __future__ import annotations

from processors.skeleton import SKELETON_THRESHOLD, decide, sample_to_signal, stable_id
from streams.schemas import MetricSample


def make_sample(**overrides: object) -> MetricSample:
    values: dict[str, object] = {
        "ts": 1_795_899_297,
        "name": "system.cpu.utilization",
        "value": 0.5,
        "host": "web-1",
    }
    values.update(overrides)
    return MetricSample.model_validate(values)


def test_signal_id_is_deterministic_and_depends_on_series_and_time() -> None:
    a = sample_to_signal(make_sample())
    assert a.id == sample_to_signal(make_sample()).id
    assert a.id != sample_to_signal(make_sample(ts=1_795_899_298)).id
    assert a.id != sample_to_signal(make_sample(host="web-2")).id
    assert a.id != sample_to_signal(make_sample(labels={"cpu": "0"})).id
    assert (a.key, a.kind, a.value, a.ts_ms) == ("web-1", "sample", 0.5, 1_795_899_297_000)


def test_decide_fires_at_the_threshold_and_not_below() -> None:
    below = sample_to_signal(make_sample(value=SKELETON_THRESHOLD - 1e-9))
    at = sample_to_signal(make_sample(value=SKELETON_THRESHOLD))
    assert decide(below, now_ms=0) is None
    action = decide(at, now_ms=0)
    assert action is not None
    assert (action.type, action.status, action.group) == (
        "alert",
        "firing",
        {"host": "web-1", "name": "system.cpu.utilization"},
    )
    assert action.evidence[0]["signal_id"] == at.id
    assert action.ts == "1970-01-01T00:00:00.000Z"


def test_action_id_is_the_same_on_replay_whatever_the_clock() -> None:
    signal = sample_to_signal(make_sample(value=0.97))
    first, replay = decide(signal, now_ms=1), decide(signal, now_ms=999_999)
    assert first is not None and replay is not None
    assert first.id == replay.id


def test_stable_id_separates_parts() -> None:
    assert stable_id("a", "bc") != stable_id("ab", "c")
    assert len(stable_id("x")) == 32
