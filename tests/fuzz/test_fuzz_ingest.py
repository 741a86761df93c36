"""Fuzzing streams/ingest.py: ``decode_input`` of every source gives records the rest of
the pipeline can use, or a dead-letter reason; never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.records import Signal
from streams.codec import DEFAULT_MAX_RECORD_BYTES, Rejected, encode
from streams.ingest import SOURCES, Limits, decode_input
from tests.hypothesis_profiles import ci_examples

from .properties import assert_rejected_well
from .strategies import NOW_MS, VALID_INPUTS, padded_to, record_bytes

LIMITS = Limits(
    max_record_bytes=DEFAULT_MAX_RECORD_BYTES,
    max_future_skew_ms=300_000,
    max_age_ms=604_800_000,
)
# Each generator of VALID_INPUTS, and the source it is decoded as.
CASES = {name: "metric" if name == "batch" else name for name in VALID_INPUTS}
assert set(CASES.values()) == set(SOURCES.values())


def assert_usable(records: list[dict[str, Any]]) -> None:
    """Records the firehose can route: each has an integer ``ts_ms`` in the accepted
    range, and can travel on inside a signal (record rules and rule types send it)."""
    assert records
    for record in records:
        ts_ms = record["ts_ms"]
        assert isinstance(ts_ms, int) and not isinstance(ts_ms, bool)
        assert NOW_MS - LIMITS.max_age_ms <= ts_ms <= NOW_MS + LIMITS.max_future_skew_ms
        signal = Signal(id="fuzz", kind="record", key="k", ts_ms=ts_ms, record=record)
        assert encode(signal)


@pytest.mark.parametrize("case", list(CASES))
@given(data=st.data())
def test_decode_input_gives_usable_records_or_a_reason(case: str, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(st.none(), record_bytes(case)), label="raw")
    decoded = decode_input(CASES[case], raw, LIMITS, NOW_MS)
    if isinstance(decoded, Rejected):
        assert_rejected_well(decoded, raw)
    else:
        assert_usable(decoded)


@pytest.mark.parametrize("case", list(CASES))
@ci_examples(3)
@given(data=st.data())
def test_a_record_at_the_size_limit_is_decoded_and_one_past_it_is_too_large(
    case: str, data: st.DataObject
) -> None:
    size = data.draw(st.sampled_from([-1, 0, 1]), label="past the limit") + LIMITS.max_record_bytes
    valid = data.draw(VALID_INPUTS[case], label="valid")
    raw = padded_to(valid, "id" if case == "signal" else "padding", size)
    assert len(raw) == size
    decoded = decode_input(CASES[case], raw, LIMITS, NOW_MS)
    if size > LIMITS.max_record_bytes:
        assert isinstance(decoded, Rejected) and decoded.reason == "too_large"
        assert_rejected_well(decoded, raw)
    elif isinstance(decoded, Rejected):
        assert_rejected_well(decoded, raw)  # valid but for the timestamp window or a value
        assert decoded.reason != "too_large"
    else:
        assert_usable(decoded)
