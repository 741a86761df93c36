from __future__ import annotations

import pytest

from processors.records import MetricSample
from processors.timestamps import format_ts, parse_ts_ms

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


@pytest.mark.parametrize(
    ("ts_ms", "text"),
    [
        # a float of epoch seconds (the old way) said .997 here
        (15_533_899_199_998, "2462-04-01T11:59:59.998Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        # outside datetime's years: OverflowError explaining a dead letter of ts 1e30
        (253_402_300_800_000, "epoch+253402300800000ms"),
        (-62_135_596_800_001, "epoch-62135596800001ms"),
        (10**30, "epoch+1000000000000000000000000000000ms"),
    ],
)
def test_format_ts_is_exact_and_total(ts_ms: int, text: str) -> None:
    assert format_ts(ts_ms) == text
    if not text.startswith("epoch"):
        assert parse_ts_ms(text) == ts_ms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2462-04-01T11:59:59.998Z", 15_533_899_199_998),  # a float said ...997
        ("0001-01-01T00:00:00+23:59", -62_135_683_140_000),
        ("9999-12-31T23:59:59-23:59", 253_402_387_139_000),
        ("2026-11-28T20:54:57.4375Z", T_MS + 1),  # half a millisecond: to even
        (10**30, 10**24),  # nanoseconds, exact for an int
        (10**400, None),  # an int past float range: OverflowError before
        (float("inf"), None),
        ("\ud800", None),
    ],
)
def test_parse_ts_ms_at_the_edges(value: object, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_ts_ms(value)
    else:
        assert parse_ts_ms(value) == expected
