"""Fuzzing the timestamps of processors/timestamps.py: ``parse_ts_ms`` raises nothing but
ValueError (which validation turns into a dead-letter reason), ``format_ts`` is total."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from processors.timestamps import format_ts, parse_ts_ms

from .strategies import HOSTILE_VALUES, TIMESTAMPS, Raw

# datetime's range in epoch milliseconds: 0001-01-01 to 9999-12-31T23:59:59.999
FIRST_MS, LAST_MS = -62_135_596_800_000, 253_402_300_799_999


@given(st.one_of(TIMESTAMPS, HOSTILE_VALUES))
def test_parse_ts_ms_returns_epoch_ms_or_raises_value_error(value: object) -> None:
    if isinstance(value, Raw):
        value = value.text.decode("utf-8", "replace")  # a JSON token, as a string
    try:
        ts_ms = parse_ts_ms(value)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(ts_ms, int) and not isinstance(ts_ms, bool)


@given(st.one_of(st.integers(), st.integers(-(2**64), 2**64), st.integers(FIRST_MS, LAST_MS)))
def test_format_ts_is_total(ts_ms: int) -> None:
    text = format_ts(ts_ms)
    assert isinstance(text, str) and text


@given(st.integers(FIRST_MS, LAST_MS))
def test_format_ts_round_trips_every_millisecond_datetime_holds(ts_ms: int) -> None:
    text = format_ts(ts_ms)
    assert text.endswith("Z") and len(text) == len("2026-11-28T20:54:00.000Z")
    assert parse_ts_ms(text) == ts_ms


@given(st.integers(1, 10**12).flatmap(lambda ms: st.sampled_from([ms, ms / 1000])))
def test_parse_ts_ms_agrees_with_datetime_in_seconds_and_millis(value: float) -> None:
    """Epoch seconds (below 1e11) and milliseconds (below 1e14) read as such."""
    ts_ms = parse_ts_ms(value)
    seconds = ts_ms / 1000
    assert datetime.fromtimestamp(seconds, tz=UTC).year >= 1970
    assert abs(ts_ms - (value * 1000 if value < 1e11 else value)) <= 1
