"""collectd write_kafka's JSON and Graphite formats (processors/formats/collectd.py):
documented payloads to exact samples, the host metrics they map, bad payloads named,
and Graphite names as collectd's formatter escapes them (property test)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import NOT_JSON, FormatError, Payload
from processors.formats import registry as formats_registry
from processors.formats.collectd import GRAPHITE, JSON
from streams.codec import Rejected
from streams.ingest import Limits, decode_input

FIXTURES = Path(__file__).parent / "fixtures" / "collectd"
T_MS = 1_480_063_672_125
HOST = "web-01.example.org"


def json_payload(raw: bytes) -> Payload:
    return Payload(raw, orjson.loads(raw))


def line_payload(raw: bytes) -> Payload:
    return Payload(raw, NOT_JSON)


def sample(name: str, value: float, labels: dict[str, str], **over: Any) -> dict[str, Any]:
    return {"ts_ms": T_MS, "name": name, "value": value, "host": HOST, "labels": labels, **over}


def gauge(**labels: str) -> dict[str, str]:
    return {**labels, "dstype": "gauge"}


JSON_EXPECTED = [
    [
        sample("collectd.cpu.percent.idle", 97.5, gauge(type_instance="idle")),
        sample("system.cpu.utilization", 0.025, {}),
    ],
    [
        sample("collectd.memory.percent.used", 91.5, gauge(type_instance="used")),
        sample("system.memory.utilization", 0.915, {"state": "used"}),
    ],
    [
        sample(
            "collectd.df.percent_bytes.used",
            42.25,
            gauge(plugin_instance="root", type_instance="used"),
        ),
        sample("system.filesystem.utilization", 0.4225, {"mountpoint": "/"}),
    ],
    [
        sample(
            "collectd.df.percent_bytes.used",
            97.0,
            gauge(plugin_instance="var-lib", type_instance="used"),
        ),
        sample("system.filesystem.utilization", 0.97, {"mountpoint": "/var/lib"}),
    ],
    [
        sample("collectd.load.load.shortterm", 0.5, gauge()),
        sample("collectd.load.load.midterm", 0.41, gauge()),
        sample("collectd.load.load.longterm", 0.3, gauge()),
    ],
    [
        sample(
            "collectd.interface.if_octets.rx",
            123456789.0,
            {"plugin_instance": "eth0", "dstype": "derive"},
        ),
        sample(
            "collectd.interface.if_octets.tx",
            987654321.0,
            {"plugin_instance": "eth0", "dstype": "derive"},
        ),
    ],
    # ReportByCpu true: one CPU is not the host's utilisation
    [sample("collectd.cpu.percent.idle", 12.5, gauge(plugin_instance="0", type_instance="idle"))],
    [sample("collectd.memory.memory.used", 1.5e9, gauge(type_instance="used"))],
    [sample("collectd.processes.fork_rate", 7.0, {"dstype": "derive"})],
]


def test_the_json_fixture_decodes_to_exact_samples() -> None:
    lines = (FIXTURES / "json.txt").read_bytes().splitlines()
    assert len(lines) == len(JSON_EXPECTED)
    for raw, expected in zip(lines, JSON_EXPECTED, strict=True):
        payload = json_payload(raw)
        assert JSON.detect(payload)
        assert JSON.decode(payload, "metric") == expected


def test_a_json_null_gauge_is_passed_on_as_nan_for_ingest_to_refuse() -> None:
    raw = (FIXTURES / "json.txt").read_bytes().splitlines()[0].replace(b"97.5", b"null")
    (only, _) = JSON.decode(json_payload(raw), "metric")
    assert only["name"] == "collectd.cpu.percent.idle" and math.isnan(only["value"])


def test_several_value_lists_in_one_array_are_all_read() -> None:
    first, second = (FIXTURES / "json.txt").read_bytes().splitlines()[:2]
    raw = first[:-1] + b"," + second[1:]
    assert JSON.decode(json_payload(raw), "metric") == JSON_EXPECTED[0] + JSON_EXPECTED[1]


VALUE_LIST = orjson.loads((FIXTURES / "json.txt").read_bytes().splitlines()[0])[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": ["97.5"]}, "[0].values[0]: expected a number, got string '97.5'"),
        ({"values": [1, 2]}, "[0]: values, dstypes and dsnames must be as long as each other"),
        ({"values": []}, "must be as long as each other (one per data source), not 0, 1 and 1"),
        ({"dstypes": ["rate"]}, "[0].dstypes[0]: 'rate' is none of absolute, counter, derive"),
        ({"dsnames": [""]}, "[0].dsnames[0]: expected a name"),
        ({"values": 97.5}, "[0].values: expected an array, got float"),
        ({"time": "1480063672"}, "[0].time: expected epoch seconds, got string"),
        ({"time": None}, "[0].time: expected epoch seconds, got null"),
        ({"host": ""}, "[0].host: expected a non-empty string"),
        ({"plugin": None}, "[0].plugin: expected a non-empty string, got null"),
        ({"type_instance": 3}, "[0].type_instance: expected a string, got int"),
    ],
)
def test_a_bad_value_list_is_named(change: dict[str, Any], message: str) -> None:
    raw = orjson.dumps([{**VALUE_LIST, **change}])
    with pytest.raises(FormatError) as caught:
        JSON.decode(json_payload(raw), "metric")
    assert message in str(caught.value)


def test_the_second_value_list_is_named_by_its_index() -> None:
    raw = orjson.dumps([VALUE_LIST, "cpu"])
    with pytest.raises(FormatError, match=r"^\[1\]: expected an object \(a value list\)"):
        JSON.decode(json_payload(raw), "metric")


@pytest.mark.parametrize(
    "raw",
    [b"{}", b"[]", b"[1]", b'[{"values":[1],"dstypes":["gauge"]}]', b'{"values":[1]}'],
)
def test_json_that_is_not_a_value_list_array_is_not_claimed(raw: bytes) -> None:
    assert not JSON.detect(json_payload(raw))


def test_a_json_array_reaches_the_format_through_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """ingest's native path refuses a JSON array, then hands it to the formats parsed."""
    monkeypatch.setattr(formats_registry, "FOREIGN", (JSON,))
    monkeypatch.setitem(formats_registry.FORMATS, JSON.name, JSON)
    limits = Limits(max_record_bytes=1 << 20, max_future_skew_ms=2**62, max_age_ms=2**62)
    raw = (FIXTURES / "json.txt").read_bytes().splitlines()[0]
    records = decode_input("metric", raw, limits, T_MS)
    assert not isinstance(records, Rejected)
    assert [(r["name"], r["value"]) for r in records] == [
        ("collectd.cpu.percent.idle", 97.5),
        ("system.cpu.utilization", 0.025),
    ]
    nan = raw.replace(b"97.5", b"null")
    assert decode_input("metric", nan, limits, T_MS) == Rejected(
        "non_finite_value",
        "collectd_json, record 1 of 2: field 'value': Input should be a finite number",
    )


# --- Graphite -----------------------------------------------------------------------

GRAPHITE_EXPECTED = [
    # (host, name, labels) of collectd's own formatter test cases, in order
    ("example@com", "collectd.test.single", {}),
    ("example@com", "collectd.test.single.bar", {"plugin_instance": "foo", "type_instance": "bar"}),
    ("example@com", "collectd.test.single.bar", {"type_instance": "bar"}),
    ("example@com", "collectd.test.single", {"plugin_instance": "foo"}),
    (
        "example@com",
        "collectd.test.single.test@@@hello@",
        {"plugin_instance": "foo@@test@", "type_instance": "test@@@hello@"},
    ),
    ("example@com", "collectd.test.single.bar", {"plugin_instance": "foo", "type_instance": "bar"}),
    (
        "example@com",
        "collectd.test.single.b@a@r",
        {"plugin_instance": "f@o@o", "type_instance": "b@a@r"},
    ),
    ("foo.example@com", "collectd.test.single", {}),  # GraphitePrefix "foo." joins the host
    ("example.com", "collectd.test.single", {}),
    (
        "example.com",
        "collectd.test.single.b.a.r",
        {"plugin_instance": "f.o.o", "type_instance": "b.a.r"},
    ),
    ("example.com", "collectd.test.single", {}),
    ("example_com", "collectd.test.single", {}),
]


def test_collectds_own_graphite_test_names_decode_to_their_identifiers() -> None:
    lines = (FIXTURES / "graphite.txt").read_bytes().splitlines()
    assert len(lines) == len(GRAPHITE_EXPECTED)
    for raw, (host, name, labels) in zip(lines, GRAPHITE_EXPECTED, strict=True):
        payload = line_payload(raw + b"\r\n")
        assert GRAPHITE.detect(payload), raw
        value = 1337.0 if raw.startswith(b"example_com") else 42.0
        expected = {"ts_ms": 1_480_063_672_000, "name": name, "value": value}
        assert GRAPHITE.decode(payload, "metric") == [{**expected, "host": host, "labels": labels}]


def test_a_type_of_several_data_sources_is_one_message_of_one_line_each() -> None:
    raw = b"".join(
        f"web-01_example_org.load.load.{ds} {v} 1480063672\r\n".encode()
        for ds, v in (("shortterm", 0.5), ("midterm", 0.41), ("longterm", 0.3))
    )
    assert [(s["name"], s["value"], s["host"]) for s in GRAPHITE.decode(line_payload(raw), "")] == [
        ("collectd.load.load.shortterm", 0.5, "web-01_example_org"),
        ("collectd.load.load.midterm", 0.41, "web-01_example_org"),
        ("collectd.load.load.longterm", 0.3, "web-01_example_org"),
    ]


def test_graphite_host_metrics_map_like_json_ones() -> None:
    raw = b"web-01.example.org.cpu.percent-idle 97.5 1480063672\r\n"  # EscapeChar ".": dots kept
    assert GRAPHITE.decode(line_payload(raw), "metric") == [
        sample("collectd.cpu.percent.idle", 97.5, {"type_instance": "idle"}, ts_ms=T_MS - 125),
        sample("system.cpu.utilization", 0.025, {}, ts_ms=T_MS - 125),
    ]


def test_graphite_separate_instances_is_misread_as_documented() -> None:
    """collectd's GRAPHITE_SEPARATE_INSTANCES case: the instances read as host parts."""
    (only,) = GRAPHITE.decode(line_payload(b"example@com.test.foo.single.bar 42 1480063672"), "")
    assert (only["host"], only["name"]) == ("example@com.test.foo", "collectd.single.bar")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"web01.cpu.percent-idle 97.5\r\n", "line 1: expected '<name> <value> <epoch s>'"),
        (b"web01.cpu.percent-idle abc 1480063672", "line 1: value 'abc' is not a number"),
        (b"web01.cpu.percent-idle 1_000 1480063672", "line 1: value '1_000' is not a number"),
        (b"web01.cpu.percent-idle 1 -1", "line 1: time '-1' is not integer epoch seconds"),
        (b"web01.cpu.percent-idle 1 1480063672.5", "time '1480063672.5' is not integer"),
        (b"a.b.c 1 1\r\ncpu.idle 1 1", "line 2: metric 'cpu.idle': 2 dot-separated parts"),
        (b".cpu.percent 1 1", "metric '.cpu.percent': an empty host, plugin or type"),
        (b"test.single;host=web01 1 1", "a tagged name without host= or plugin="),
        (b"\r\n\r\n", "no line"),
        (b"web01.cpu.percent-idle 1 1 \xff", "not UTF-8 (byte 27)"),
    ],
)
def test_a_bad_graphite_line_is_named(raw: bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        GRAPHITE.decode(line_payload(raw), "metric")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        b"cpu,host=web01 usage_idle=97.5 1480063672000000000",  # line protocol
        b"docker field_1=30i 1458229140",
        b"<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - hi",  # syslog
        b"web01.cpu 97.5 1480063672",  # two parts: not collectd's
        b"web01.cpu.percent-idle 97.5",
    ],
)
def test_other_lines_are_not_claimed_as_graphite(raw: bytes) -> None:
    assert not GRAPHITE.detect(line_payload(raw))


def test_json_is_not_claimed_as_graphite() -> None:
    assert not GRAPHITE.detect(json_payload(b'"a.b.c 1 1"'))


# --- Graphite names as collectd escapes them (format_graphite.c, ported) --------------

_FORBIDDEN = ' \t"\\:!/()\n\r'


def _escaped(part: str, escape: str) -> str:
    """gr_copy_escape_part, then escape_graphite_string, on one part."""
    part = "".join(escape if c == "." or c.isspace() or ord(c) < 32 else c for c in part)
    return "".join(escape if c in _FORBIDDEN else c for c in part)


def graphite_message(vl: dict[str, Any], escape: str, always_append_ds: bool) -> bytes:
    """collectd's format_graphite for one value list (no prefix, instances joined)."""
    plugin = _escaped(vl["plugin"], escape)
    if vl["plugin_instance"]:
        plugin += "-" + _escaped(vl["plugin_instance"], escape)
    type_ = _escaped(vl["type"], escape)
    if vl["type_instance"]:
        type_ += "-" + _escaped(vl["type_instance"], escape)
    lines = []
    for ds, value in zip(vl["dsnames"], vl["values"], strict=True):
        name = f"{_escaped(vl['host'], escape)}.{plugin}.{type_}"
        if always_append_ds or len(vl["dsnames"]) > 1:
            name += f".{ds}"
        lines.append(f"{name} {value:.15g} {vl['time']}\r\n")
    return "".join(lines).encode()


_ASCII = st.characters(min_codepoint=1, max_codepoint=127)
_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0123456789"), min_size=1, max_size=12)


@st.composite
def value_lists(draw: st.DrawFn) -> dict[str, Any]:
    single = draw(st.booleans())
    dsnames = ["value"] if single else draw(st.lists(_WORD, min_size=2, max_size=3, unique=True))
    return {
        "host": draw(st.text(_ASCII, min_size=1, max_size=20)),
        "plugin": draw(_WORD),
        "plugin_instance": draw(st.text(_ASCII, max_size=12)),
        "type": draw(_WORD.filter(lambda t: t != "value")),
        "type_instance": draw(st.text(_ASCII, max_size=12)),
        "dsnames": dsnames,
        "values": draw(
            st.lists(st.floats(allow_nan=False), min_size=len(dsnames), max_size=len(dsnames))
        ),
        "time": draw(st.integers(0, 2**32 - 1)),
    }


@given(value_lists(), st.sampled_from("_@"), st.booleans())
def test_any_escaped_graphite_name_decodes_to_its_escaped_identifier(
    vl: dict[str, Any], escape: str, always_append_ds: bool
) -> None:
    decoded = GRAPHITE.decode(line_payload(graphite_message(vl, escape, always_append_ds)), "")
    several = len(vl["dsnames"]) > 1
    type_instance = _escaped(vl["type_instance"], escape)
    labels = {
        key: _escaped(vl[key], escape) for key in ("plugin_instance", "type_instance") if vl[key]
    }
    base = f"collectd.{vl['plugin']}.{vl['type']}" + (f".{type_instance}" if type_instance else "")
    own = [
        {
            "ts_ms": vl["time"] * 1000,
            "name": f"{base}.{ds}" if several else base,
            "value": float(f"{value:.15g}"),
            "host": _escaped(vl["host"], escape),
            "labels": labels,
        }
        for ds, value in zip(vl["dsnames"], vl["values"], strict=True)
    ]
    assert [s for s in decoded if s["name"].startswith("collectd.")] == own
