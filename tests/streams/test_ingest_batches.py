"""Metric samples and batches decode through a fast path (pydantic-core into dicts); it
must accept, reject and expand exactly as the documented models, MetricSample and
MetricBatch, do."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from processors.records import MetricBatch, MetricSample
from streams.codec import Rejected, rejected_for_validation
from streams.ingest import as_mapping, decode_sample, expand_batch

TS = 1_795_899_240_000


def sample(**fields: Any) -> dict[str, Any]:
    return {"name": "system.cpu.utilization", "value": 0.5, **fields}


def batch(**fields: Any) -> dict[str, Any]:
    return {"ts": TS, "host": "web-1", "samples": [sample()], **fields}


CASES = {
    "plain": batch(),
    "service, labels merged, sample labels win": batch(
        service="checkout",
        labels={"env": "prod", "zone": "a"},
        samples=[sample(labels={"zone": "b"}), sample(name="m2", value=3)],
    ),
    "rfc 3339 and seconds": batch(ts="2026-11-28T21:00:00Z", samples=[sample(ts=1795899240)]),
    "ts_ms given": {"ts_ms": TS, "host": "h", "samples": [sample(ts_ms=TS + 5)]},
    "extra fields kept out of the samples": batch(agent="x", samples=[sample(extra=1)]),
    "unit": batch(samples=[sample(unit="1")]),
    "value as a numeric string": batch(samples=[sample(value="0.25")]),
    "no ts": {"host": "web-1", "samples": [sample()]},
    "bad ts": batch(ts="yesterday"),
    "bad sample ts": batch(samples=[sample(), sample(ts=True)]),
    "no samples": batch(samples=[]),
    "no host": {"ts": TS, "samples": [sample()]},
    "empty name": batch(samples=[sample(name="")]),
    "value not a number": batch(samples=[sample(value="high")]),
    "value nan as text": batch(samples=[sample(value="nan")]),
    "value infinity as text": batch(samples=[sample(value="inf")]),
    "labels not strings": batch(labels={"a": 1}),
    "samples not a list": batch(samples={"name": "x"}),
    "a running total": batch(samples=[sample(cumulative=True), sample(name="m2")]),
    "cumulative false": batch(samples=[sample(cumulative=False)]),
    "cumulative not a boolean": batch(samples=[sample(cumulative="yes")]),
}


def through_the_model(data: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
    try:
        return MetricBatch.model_validate(data).expand()
    except ValidationError as exc:
        return rejected_for_validation(exc)


def assert_same(fast: object, model: object) -> None:
    """The same records, or the same dead-letter reason on the same field (or one inside
    it: "samples.1.ts" where the model says "samples.1")."""
    if isinstance(model, Rejected):
        assert isinstance(fast, Rejected), fast
        assert fast.reason == model.reason
        field, fast_field = model.message.split("'")[1], fast.message.split("'")[1]
        assert fast_field.startswith(field) or field == "(record)", (fast, model)
    else:
        assert fast == model


@pytest.mark.parametrize("name", list(CASES))
def test_the_fast_path_agrees_with_the_model(name: str) -> None:
    assert_same(expand_batch(CASES[name]), through_the_model(CASES[name]))


SAMPLES = {
    "plain": {"ts": TS, "name": "cpu", "value": 0.5, "host": "web-1"},
    "everything": {
        "ts": "2026-11-28T21:00:00.123Z",
        "name": "cpu",
        "value": 1,
        "unit": "1",
        "host": "web-1",
        "service": "checkout",
        "labels": {"core": "0"},
        "extra": {"kept": True},
    },
    "ts_ms given": {"ts_ms": TS, "name": "cpu", "value": 0.5, "host": "h"},
    "ns": {"ts": TS * 1_000_000, "name": "cpu", "value": 0.5, "host": "h"},
    "no ts": {"name": "cpu", "value": 0.5, "host": "h"},
    "bad ts": {"ts": [1], "name": "cpu", "value": 0.5, "host": "h"},
    "no host": {"ts": TS, "name": "cpu", "value": 0.5},
    "empty host": {"ts": TS, "name": "cpu", "value": 0.5, "host": ""},
    "value missing": {"ts": TS, "name": "cpu", "host": "h"},
    "value nan as text": {"ts": TS, "name": "cpu", "value": "NaN", "host": "h"},
    "value a list": {"ts": TS, "name": "cpu", "value": [1], "host": "h"},
    "labels not strings": {"ts": TS, "name": "cpu", "value": 1, "host": "h", "labels": {"a": 1}},
    "a running total": {"ts": TS, "name": "tx", "value": 7, "host": "h", "cumulative": True},
    "cumulative as text": {"ts": TS, "name": "tx", "value": 7, "host": "h", "cumulative": "1"},
}


def sample_through_the_model(data: dict[str, Any]) -> dict[str, Any] | Rejected:
    try:
        return as_mapping(MetricSample.model_validate(data))
    except ValidationError as exc:
        return rejected_for_validation(exc)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_single_samples_decode_as_the_model_does(name: str) -> None:
    assert_same(decode_sample(SAMPLES[name]), sample_through_the_model(SAMPLES[name]))


def test_a_batch_sample_marked_cumulative_keeps_the_mark_and_no_other_does() -> None:
    expanded = expand_batch(CASES["a running total"])
    assert not isinstance(expanded, Rejected)
    assert [s.get("cumulative") for s in expanded] == [True, None]


@pytest.mark.parametrize("data", [CASES["cumulative not a boolean"], SAMPLES["cumulative as text"]])
def test_cumulative_must_be_a_boolean(data: dict[str, Any]) -> None:
    decoded = expand_batch(data) if "samples" in data else decode_sample(data)
    assert isinstance(decoded, Rejected) and "cumulative" in decoded.message, decoded
