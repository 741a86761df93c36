from __future__ import annotations

import pytest

from streams.schemas import MetricSample, format_ts, parse_ts_ms

T_MS = 1_795_899_297_437  # 2026-11-28T20:54:57.437Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_795_899_297, 1_795_899_297_000),  # epoch seconds, int
        (1_795_899_297.437, T_MS),  # epoch seconds, float
        (T_MS, T_MS),  # epoch milliseconds
        (T_MS * 1_000_000 + 123_456, T_MS),  # epoch nanoseconds (exact, no float rounding)
        ("2026-11-28T20:54:57.437Z", T_MS),
        ("2026-11-28T21:54:57.437+01:00", T_MS),
        (0, 0),
    ],
)
def test_parse_ts_ms_accepts_every_documented_form(value: object, expected: int) -> None:
    assert parse_ts_ms(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "boolean"),
        (float("nan"), "finite"),
        (-1, "non-negative"),
        ("yesterday", "neither epoch"),
        ("2026-11-28T20:54:57", "no time zone"),
        ([1], "number or an RFC 3339"),
    ],
)
def test_parse_ts_ms_rejects_with_a_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ts_ms(value)


def test_format_ts_is_rfc3339_utc_with_millis() -> None:
    assert format_ts(T_MS) == "2026-11-28T20:54:57.437Z"
    assert parse_ts_ms(format_ts(T_MS)) == T_MS


def test_metric_sample_holds_ts_as_ts_ms() -> None:
    sample = MetricSample.model_validate(
        {
            "ts": "2026-11-28T20:54:57.437Z",
            "name": "system.cpu.utilization",
            "value": 0.93,
            "host": "web-1",
            "labels": {"cpu": "total"},
        }
    )
    assert sample.ts_ms == T_MS
    assert sample.labels == {"cpu": "total"}
    assert sample.service is None
