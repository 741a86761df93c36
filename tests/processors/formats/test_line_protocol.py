"""processors/formats/line_protocol.py: the InfluxDB references' examples read exactly,
every escaping case, bad lines named, and any point the spec can write reads back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given

from processors.formats import FormatError
from processors.formats.line_protocol import (
    Point,
    _simple,
    is_line_protocol,
    parse_line,
    parse_lines,
    scan,
)
from tests.hypothesis_profiles import ci_examples

from .line_protocol_reference import Line, lines

TS = 1465839830100400200


def typed(point: Point) -> tuple[object, ...]:
    """A point with its values' types, so that 1i, 1.0 and true never compare equal."""
    fields = [(key, type(value).__name__, repr(value)) for key, value in point.fields]
    return point.measurement, point.tags, fields, point.timestamp


# (line, measurement, tags, fields, timestamp): the examples of the v2 reference
# (content/influxdb/v2/reference/syntax/line-protocol.md), the v1 reference's special
# characters example and the v1 tutorial's "Special characters"
# (content/influxdb/v1/write_protocols/line_protocol_{reference,tutorial}.md).
SPEC_EXAMPLES = [
    (
        'myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000',
        "myMeasurement",
        {"tag1": "value1", "tag2": "value2"},
        [("fieldKey", "fieldValue")],
        1556813561098000000,
    ),
    (
        'measurementName fieldKey="field string value" 1556813561098000000',
        "measurementName",
        {},
        [("fieldKey", "field string value")],
        1556813561098000000,
    ),
    ("myMeasurement fieldKey=1.0", "myMeasurement", {}, [("fieldKey", 1.0)], None),
    ("myMeasurement fieldKey=1", "myMeasurement", {}, [("fieldKey", 1.0)], None),
    ("myMeasurement fieldKey=-1.234456e+78", "myMeasurement", {}, [("fieldKey", -1.234456e78)],
     None),
    ("myMeasurement fieldKey=1i", "myMeasurement", {}, [("fieldKey", 1)], None),
    ("myMeasurement fieldKey=12485903i", "myMeasurement", {}, [("fieldKey", 12485903)], None),
    ("myMeasurement fieldKey=-12485903i", "myMeasurement", {}, [("fieldKey", -12485903)], None),
    ("myMeasurement fieldKey=1u", "myMeasurement", {}, [("fieldKey", 1)], None),
    ("myMeasurement fieldKey=12485903u", "myMeasurement", {}, [("fieldKey", 12485903)], None),
    ("m f=-9223372036854775808i", "m", {}, [("f", -(2**63))], None),
    ("m f=9223372036854775807i", "m", {}, [("f", 2**63 - 1)], None),
    ("m f=0u", "m", {}, [("f", 0)], None),
    ("m f=18446744073709551615u", "m", {}, [("f", 2**64 - 1)], None),
    ("m f=1 -9223372036854775806", "m", {}, [("f", 1.0)], -9223372036854775806),
    ("m f=1 9223372036854775806", "m", {}, [("f", 1.0)], 9223372036854775806),
    (
        'myMeasurement fieldKey="this is a string"',
        "myMeasurement",
        {},
        [("fieldKey", "this is a string")],
        None,
    ),
    *[("myMeasurement fieldKey=" + b, "myMeasurement", {}, [("fieldKey", True)], None)
      for b in ("t", "T", "true", "True", "TRUE")],
    *[("myMeasurement fieldKey=" + b, "myMeasurement", {}, [("fieldKey", False)], None)
      for b in ("f", "F", "false", "False", "FALSE")],
    ('mymeas value="true"', "mymeas", {}, [("value", "true")], None),
    ('"mymeas" value=200', '"mymeas"', {}, [("value", 200.0)], None),
    (
        r'my\ Measurement fieldKey="string value"',
        "my Measurement",
        {},
        [("fieldKey", "string value")],
        None,
    ),
    (
        r'myMeasurement fieldKey="\"string\" within a string"',
        "myMeasurement",
        {},
        [("fieldKey", '"string" within a string')],
        None,
    ),
    (
        r"myMeasurement,tag\ Key1=tag\ Value1,tag\ Key2=tag\ Value2 fieldKey=100",
        "myMeasurement",
        {"tag Key1": "tag Value1", "tag Key2": "tag Value2"},
        [("fieldKey", 100.0)],
        None,
    ),
    (
        'myMeasurement,tagKey=🍭 fieldKey="Launch 🚀" 1556813561098000000',
        "myMeasurement",
        {"tagKey": "🍭"},
        [("fieldKey", "Launch 🚀")],
        1556813561098000000,
    ),
    (
        r'"measurement\ with\ quo⚡️es\ and\ emoji",'
        r'tag\ key\ with\ sp🚀ces=tag\,value\,with"commas" '
        r'field_k\ey="string field value, only \" need be esc🍭ped"',
        '"measurement with quo⚡️es and emoji"',
        {"tag key with sp🚀ces": 'tag,value,with"commas"'},
        [("field_k\\ey", 'string field value, only " need be esc🍭ped')],
        None,
    ),
    (f"weather,location=us-midwest temperature=82 {TS}", "weather",
     {"location": "us-midwest"}, [("temperature", 82.0)], TS),
    (f"weather,location=us-midwest temperature=82i {TS}", "weather",
     {"location": "us-midwest"}, [("temperature", 82)], TS),
    (f"weather,location=us-midwest too_hot=true {TS}", "weather",
     {"location": "us-midwest"}, [("too_hot", True)], TS),
    (rf"weather,location=us\,midwest temperature=82 {TS}", "weather",
     {"location": "us,midwest"}, [("temperature", 82.0)], TS),
    (rf"weather,location=us-midwest temp\=rature=82 {TS}", "weather",
     {"location": "us-midwest"}, [("temp=rature", 82.0)], TS),
    (rf"weather,location\ place=us-midwest temperature=82 {TS}", "weather",
     {"location place": "us-midwest"}, [("temperature", 82.0)], TS),
    (rf"wea\,ther,location=us-midwest temperature=82 {TS}", "wea,ther",
     {"location": "us-midwest"}, [("temperature", 82.0)], TS),
    (rf"wea\ ther,location=us-midwest temperature=82 {TS}", "wea ther",
     {"location": "us-midwest"}, [("temperature", 82.0)], TS),
    (rf'weather,location=us-midwest temperature="too\"hot\"" {TS}', "weather",
     {"location": "us-midwest"}, [("temperature", 'too"hot"')], TS),
    (f"we⛅️ther,location=us-midwest temper🔥ture=82 {TS}", "we⛅️ther",
     {"location": "us-midwest"}, [("temper🔥ture", 82.0)], TS),
]  # fmt: skip


@pytest.mark.parametrize(("line", "measurement", "tags", "fields", "timestamp"), SPEC_EXAMPLES)
def test_the_references_examples_read_exactly(
    line: str, measurement: str, tags: dict[str, str], fields: list[tuple[str, object]],
    timestamp: int | None,
) -> None:  # fmt: skip
    expected = Point(measurement, tags, fields, timestamp)  # type: ignore[arg-type]
    assert typed(parse_line(line)) == typed(expected)
    assert typed(scan(line)) == typed(expected)


# The v1 tutorial's backslashes in string field values, and what InfluxDB reads.
@pytest.mark.parametrize(
    ("written", "read"),
    [
        (r"too hot/cold", r"too hot/cold"),
        (r"too hot\cold", r"too hot\cold"),
        (r"too hot\\cold", r"too hot\cold"),
        (r"too hot\\\cold", r"too hot\\cold"),
        (r"too hot\\\\cold", r"too hot\\cold"),
        (r"too hot\\\\\cold", r"too hot\\\cold"),
    ],
)
def test_backslashes_in_a_string_value_read_as_the_tutorial_says(written: str, read: str) -> None:
    line = f'weather,location=us-midwest temperature_str="{written}" {TS}'
    assert parse_line(line).fields == [("temperature_str", read)]


# Escaping in names: only the characters the table lists are escaped; any other
# backslash is itself (the reference decoder, influxdata/line-protocol, agrees).
@pytest.mark.parametrize(
    ("line", "measurement", "tags", "key"),
    [
        (r"a\,b\ c=d x=1", "a,b c=d", {}, "x"),  # '=' needs no escape in a measurement
        (r"a\=b x=1", r"a\=b", {}, "x"),
        (r"m,k\,1\=2\ 3=v\,1\=2\ 3 f\,1\=2\ 3=1", "m", {"k,1=2 3": "v,1=2 3"}, "f,1=2 3"),
        (r"C:\dir,path=C:\Program\ Files f=1", r"C:\dir", {"path": r"C:\Program Files"}, "f"),
        (r"m\\,t=v f=1", "m\\,t=v", {}, "f"),  # a name cannot end in a backslash
        (r"m\\\,x f=1", "m\\\\,x", {}, "f"),
        ('m,t=v" f=1', "m", {"t": 'v"'}, "f"),
        ("m,t='v' 'f'=1", "m", {"t": "'v'"}, "'f'"),
    ],
)
def test_a_backslash_escapes_only_what_the_table_lists(
    line: str, measurement: str, tags: dict[str, str], key: str
) -> None:
    point = parse_line(line)
    assert (point.measurement, point.tags, [k for k, _ in point.fields]) == (
        measurement,
        tags,
        [key],
    )


def test_comments_blank_lines_and_crlf_are_skipped_and_lines_keep_their_numbers() -> None:
    text = "# This is a comment\r\n\r\n   \nm f=1 1\r\n  # indented comment\nn g=2i 2\n"
    assert [(n, p.measurement, p.timestamp) for n, p in parse_lines(text)] == [
        (4, "m", 1),
        (6, "n", 2),
    ]


def test_runs_of_spaces_separate_the_sections() -> None:
    assert parse_line("  m,t=v   f=1,g=2    12   ") == Point(
        "m", {"t": "v"}, [("f", 1.0), ("g", 2.0)], 12
    )


# (line, the error's message): each names what is wrong where.
BAD_LINES = [
    (",t=v f=1", "expected a measurement name, found ','"),
    ("m", "measurement 'm': no field set (a point needs a field)"),
    ("m,t=v", "measurement 'm': no field set (a point needs a field)"),
    ("m, f=1", "expected a tag key after ',', found ' '"),
    ("m,t f=1", "tag 't': expected '=' and its value"),
    ("m,t= f=1", "tag 't': expected a value (omit a tag with none), found ' '"),
    ("m,t=v=w f=1", "unexpected '=' after the tags (escape it with a backslash)"),
    ("m f", "field 'f': expected '=' and its value"),
    ("m =1", "expected a field key, found '='"),
    ("m f=", "field 'f': no value after '='"),
    ("m f=1,", "expected a field key, found the end of the line"),
    ("m f=abc", "field 'f': 'abc' is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ("m f=1.2.3", "field 'f': '1.2.3' is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ("m f=nan", "field 'f': 'nan' is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ("m f=1_000", "field 'f': '1_000' is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ("m f=yes", "field 'f': 'yes' is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ("weather,location=us-midwest temperature='too warm'",
     "field 'temperature': \"'too\" is not a float, an integer (12i), an unsigned (12u), "
     'a boolean (t, true, f, false…) or a "quoted string"'),
    ('m f="abc', "field 'f': string value not closed by '\"'"),
    (r'm f="abc\"', "field 'f': string value not closed by '\"'"),
    ('m f="a"b', "field 'f': unexpected 'b' after its value"),
    ("m f=1 12a", "timestamp '12a': not an integer (Telegraf writes epoch ns)"),
    ('weather,location=us-midwest temperature=82 "1465839830100400200"',
     "timestamp '\"1465839830100400200\"': not an integer (Telegraf writes epoch ns)"),
    ("m f=1 1 2", "timestamp '1 2': not an integer (Telegraf writes epoch ns)"),
]  # fmt: skip
OUT_OF_RANGE = "out of range for a 64-bit integer"
# Numbers of the right form past their 64 bits: still line protocol (a payload of them
# is recognised, and decoding names the number).
RANGE_ERRORS = [
    ("m f=9223372036854775808i", f"field 'f': '9223372036854775808i' is {OUT_OF_RANGE}"),
    ("m f=-9223372036854775809i", f"field 'f': '-9223372036854775809i' is {OUT_OF_RANGE}"),
    ("m f=18446744073709551616u", f"field 'f': '18446744073709551616u' is {OUT_OF_RANGE}"),
    ("m f=-1u", f"field 'f': '-1u' is {OUT_OF_RANGE}"),
    ("m f=1" + "0" * 5000 + "i", f"field 'f': '1{'0' * 36}…' is {OUT_OF_RANGE}"),
    ("m f=1 9223372036854775807", None),
    ("m f=1 9223372036854775808", f"timestamp '9223372036854775808': {OUT_OF_RANGE}"),
    ("m f=1 -9223372036854775809", f"timestamp '-9223372036854775809': {OUT_OF_RANGE}"),

]  # fmt: skip


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_line_is_named_with_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(FormatError, match=f"^line 2: {re.escape(message)}$"):
        list(parse_lines("ok f=1 1\n" + line))
    assert not is_line_protocol(line)


@pytest.mark.parametrize(("line", "message"), RANGE_ERRORS)
def test_a_number_past_64_bits_is_named_but_the_line_is_still_line_protocol(
    line: str, message: str | None
) -> None:
    assert is_line_protocol(line)
    if message is None:  # the edge itself reads
        assert parse_line(line).timestamp == 2**63 - 1
        return
    with pytest.raises(FormatError, match=f"^line 1: {re.escape(message)}$"):
        list(parse_lines(line))


@ci_examples(300)
@given(line=lines())
def test_any_point_the_spec_can_write_reads_back_exactly(line: Line) -> None:
    written = line.encode()
    expected = Point(
        line.measurement, line.tags, [(f.key, f.value) for f in line.fields], line.timestamp
    )
    assert typed(parse_line(written)) == typed(expected)
    assert typed(scan(written)) == typed(expected)  # the fast path and the scanner agree
    assert is_line_protocol(written)
    if "\\" not in written and '"' not in written and line.separator == " ":
        assert _simple(written) is not None  # a common line never falls to the scanner


TELEGRAF = Path(__file__).parent / "fixtures" / "telegraf"


def test_telegrafs_documented_lines_take_the_fast_path() -> None:
    documented = [
        line
        for name in ("cpu.influx", "mem.influx", "disk.influx", "system.influx")
        for line in (TELEGRAF / name).read_text().splitlines()
        if '"' not in line
    ]
    assert len(documented) == 11
    for line in documented:
        fast = _simple(line)
        assert fast is not None and typed(fast) == typed(scan(line))
