from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError
from processors.formats.otlp_common import INT64_MAX, INT64_MIN, UINT64_MAX, double, int64, uint64
from processors.formats.otlp_metrics import decode_metrics


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (0, 0),
        ("0", 0),
        (UINT64_MAX, UINT64_MAX),
        (str(UINT64_MAX), UINT64_MAX),
        (1.5e18, 1_500_000_000_000_000_000),  # an encoder that wrote a double
    ],
)
def test_uint64_reads_numbers_and_decimal_strings(value: Any, number: int) -> None:
    assert uint64(value, "f") == number


@pytest.mark.parametrize(
    "value", [-1, "-1", UINT64_MAX + 1, "1e3", " 1", "1_000", "١٢", 1.5, True, None, [], "0x10"]
)
def test_uint64_refuses_everything_else(value: Any) -> None:
    with pytest.raises(FormatError, match=r"^f: .* is not an unsigned 64-bit integer$"):
        uint64(value, "f")


@pytest.mark.parametrize("value", [INT64_MIN - 1, INT64_MAX + 1, str(INT64_MIN - 1), "--1"])
def test_int64_refuses_what_is_out_of_range(value: Any) -> None:
    with pytest.raises(FormatError, match=r"^f: .* is not a signed 64-bit integer$"):
        int64(value, "f")


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (1, 1.0),
        (0.5, 0.5),
        ("0.5", 0.5),
        ("-2", -2.0),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("1e3", 1000.0),
    ],
)
def test_double_reads_numbers_and_protobuf_json_strings(value: Any, number: float) -> None:
    assert double(value, "f") == number


def test_double_reads_nan_for_ingest_to_refuse() -> None:
    assert math.isnan(double("NaN", "f"))


@pytest.mark.parametrize("value", ["abc", "", " 1", "1_0", True, None, {}])
def test_double_refuses_what_is_not_a_number(value: Any) -> None:
    with pytest.raises(FormatError, match=r"^f: .* is not a number$"):
        double(value, "f")


def written(number: int | float, as_string: bool) -> Any:
    """``number`` as an OTLP/JSON encoder may write it: a JSON number or a string
    (infinities only as strings: JSON has no number for them)."""
    if isinstance(number, float) and math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if not as_string:
        return number
    return str(number) if isinstance(number, int) else repr(number)


@given(
    time_ns=st.integers(1, UINT64_MAX),
    value=st.one_of(st.floats(allow_nan=False), st.integers(INT64_MIN, INT64_MAX)),
    attribute=st.integers(INT64_MIN, INT64_MAX),
    strings=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_every_otlp_number_form_decodes_to_the_same_sample(
    time_ns: int, value: int | float, attribute: int, strings: tuple[bool, bool, bool]
) -> None:
    point = {
        "timeUnixNano": written(time_ns, strings[0]),
        "asInt" if isinstance(value, int) else "asDouble": written(value, strings[1]),
        "attributes": [{"key": "n", "value": {"intValue": written(attribute, strings[2])}}],
    }
    export = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "h"}}]},
                "scopeMetrics": [{"metrics": [{"name": "m", "gauge": {"dataPoints": [point]}}]}],
            }
        ]
    }
    [sample] = decode_metrics(orjson.loads(orjson.dumps(export)))  # as the bytes arrive
    assert sample["ts_ms"] == time_ns // 1_000_000
    assert sample["value"] == float(value)
    assert sample["labels"] == {"n": str(attribute)}
