"""Fuzzing the producer formats: shippers' documented messages, mutated — truncated,
bytes flipped, JSON values swapped for hostile ones — through ``decode_input`` with
``auto`` and with the format named: usable records or a dead-letter reason, never an
exception (``processing_error`` is our bug)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.codec import DEFAULT_MAX_RECORD_BYTES, Rejected
from streams.ingest import Limits, decode_input
from tests.processors.formats.test_registry import _cases

from .properties import assert_rejected_well

LIMITS = Limits(
    max_record_bytes=DEFAULT_MAX_RECORD_BYTES, max_future_skew_ms=2**62, max_age_ms=2**62
)
# (message, format, source) of every documented payload
SEEDS = [(case.values[0].raw, case.values[1], case.values[2]) for case in _cases()]

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "NaN", "-Infinity", "1e400", "0x10", "+Inf", "9" * 40, "\x00"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:5]):
            out += _paths(child, (*path, index))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str, str]:
    raw, name, source = draw(st.sampled_from(SEEDS), label="seed")
    how = draw(st.sampled_from(["value", "truncate", "flip", "drop", "same"]), label="how")
    if how == "value":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            how = "flip"  # a text line: mutate its bytes instead
        else:
            path = draw(st.sampled_from(_paths(data)), label="path")
            new = draw(HOSTILE, label="new")
            # the standard library writes what orjson refuses: NaN, ints past 64 bits
            return json.dumps(_replaced(data, path, new)).encode(), name, source
    if how == "truncate" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1), label="at")], name, source
    if how == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1), label="at")
        byte = draw(st.integers(0, 255), label="byte")
        return raw[:at] + bytes([byte]) + raw[at + 1 :], name, source
    if how == "drop" and raw:
        at = draw(st.integers(0, len(raw) - 1), label="at")
        return raw[:at] + raw[at + 1 :], name, source
    return raw, name, source


@pytest.mark.parametrize("fmt", ["auto", "named"])
@given(case=mutated())
def test_a_mutated_shipper_message_decodes_or_gets_a_reason(
    fmt: str, case: tuple[bytes, str, str]
) -> None:
    raw, name, source = case
    decoded = decode_input(source, raw, LIMITS, 0, name if fmt == "named" else "auto")
    if isinstance(decoded, Rejected):
        assert_rejected_well(decoded, raw)
    else:
        assert decoded and all(isinstance(r["ts_ms"], int) for r in decoded)
