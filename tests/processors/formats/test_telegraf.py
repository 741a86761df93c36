"""processors/formats/telegraf.py: Telegraf's documented payloads decode to exactly the
expected samples, bad ones are named, and any point the line-protocol spec can write
decodes back to its names, labels and values."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import NOT_JSON, Format, FormatError, Payload, registry
from processors.formats import host_metrics as hm
from processors.formats.telegraf import TELEGRAF_INFLUX, TELEGRAF_JSON, epoch_ms
from processors.records import MetricSample
from streams.codec import Rejected
from streams.ingest import Limits, decode_input
from tests.hypothesis_profiles import ci_examples

from .line_protocol_reference import Line, lines

FIXTURES = Path(__file__).parent / "fixtures" / "telegraf"
NO_HOST = "no host tag; Telegraf's omit_hostname must be false, or set a host tag"
NO_NUMBER = "no numeric field (string fields are skipped: a sample is a number)"


def payload(raw: bytes | str) -> Payload:
    raw = raw.encode() if isinstance(raw, str) else raw
    try:
        return Payload(raw, orjson.loads(raw))
    except orjson.JSONDecodeError:
        return Payload(raw, NOT_JSON)


def influx(raw: bytes | str) -> list[dict[str, Any]]:
    return TELEGRAF_INFLUX.decode(payload(raw), "metric")


def as_json(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return TELEGRAF_JSON.decode(payload(orjson.dumps(raw)), "metric")


def sample(
    name: str, value: float, labels: dict[str, str], ts_ms: int, host: str
) -> dict[str, Any]:
    return {"ts_ms": ts_ms, "name": name, "value": value, "host": host, "labels": labels}


# (fixture, its format, its expected records): see fixtures/telegraf/README.md.
CASES = [
    ("cpu.influx", TELEGRAF_INFLUX, "cpu.expected.json"),
    ("mem.influx", TELEGRAF_INFLUX, "mem.expected.json"),
    ("disk.influx", TELEGRAF_INFLUX, "disk.expected.json"),
    ("system.influx", TELEGRAF_INFLUX, "system.expected.json"),
    ("docker.influx", TELEGRAF_INFLUX, "docker.expected.json"),
    ("docker.json", TELEGRAF_JSON, "docker_json.expected.json"),
    ("host.json", TELEGRAF_JSON, "host_json.expected.json"),
]


@pytest.mark.parametrize(("fixture", "fmt", "expected"), CASES)
def test_documented_payloads_decode_to_the_expected_samples(
    fixture: str, fmt: Format, expected: str
) -> None:
    messages = (FIXTURES / fixture).read_bytes().splitlines()
    wanted = json.loads((FIXTURES / expected).read_text())
    assert len(messages) == len(wanted)
    for message, want in zip(messages, wanted, strict=True):
        assert fmt.detect(payload(message))
        if isinstance(want, dict):
            with pytest.raises(FormatError, match=f"^{re.escape(want['error'])}$"):
                fmt.decode(payload(message), "metric")
            continue
        got = fmt.decode(payload(message), "metric")
        assert got == want
        for record in got:  # each one a valid native sample
            MetricSample.model_validate(record)


def test_the_host_rules_names_come_from_telegrafs_cpu_mem_and_disk() -> None:
    line = (
        "cpu,cpu=cpu-total,host=web-1 usage_idle=3,usage_user=97 1700000000000000000\n"
        "mem,host=web-1 used_percent=91.5 1700000000000000000\n"
        "disk,device=sda1,fstype=ext4,host=web-1,path=/var used_percent=95 1700000000000000000"
    )
    canonical = [s for s in influx(line) if s["name"].startswith("system.")]
    assert canonical == [
        sample("system.cpu.utilization", 0.97, {}, 1_700_000_000_000, "web-1"),
        sample("system.memory.utilization", 0.915, {"state": "used"}, 1_700_000_000_000, "web-1"),
        sample(
            "system.filesystem.utilization",
            0.95,
            {"mountpoint": "/var"},
            1_700_000_000_000,
            "web-1",
        ),
    ]


def test_a_message_of_several_lines_gives_every_lines_samples_and_skips_strings() -> None:
    message = (FIXTURES / "system.influx").read_text()  # three lines, one of strings only
    assert [(s["name"], s["value"]) for s in influx(message)] == [
        ("system.load1", 3.72),
        ("system.load5", 2.4),
        ("system.load15", 2.1),
        ("system.n_users", 3.0),
        ("system.n_cpus", 4.0),
        ("system.uptime", 1249632.0),
    ]


def test_booleans_are_one_and_zero_and_unsigned_integers_floats() -> None:
    got = influx("m,host=h up=true,down=F,big=18446744073709551615u,neg=-3i 1700000000")
    assert [(s["name"], s["value"]) for s in got] == [
        ("m.up", 1.0),
        ("m.down", 0.0),
        ("m.big", 18446744073709551615.0),
        ("m.neg", -3.0),
    ]
    assert all(s["ts_ms"] == 1_700_000_000_000 for s in got)


def test_a_value_past_the_double_range_passes_through_for_ingest_to_refuse() -> None:
    (got,) = influx("m,host=h f=1e400 1700000000000000000")
    assert math.isinf(got["value"])


# (message, error): each names what is wrong and where, and what to do.
BAD_INFLUX = [
    ("cpu,host=h usage_idle=3", "line 1: no timestamp; a decoder has no clock to stamp the "
     "point with: remove influx_omit_timestamp from Telegraf's outputs.kafka"),
    ("cpu,cpu=cpu0 usage_idle=3 1700000000000000000", f"line 1: {NO_HOST}"),
    ("m,host=h f=1 1\nm,host=h usage_idle=x 1", "line 2: field 'usage_idle': 'x' is not a float, "
     'an integer (12i), an unsigned (12u), a boolean (t, true, f, false…) or a "quoted string"'),
    ("# header\n\nm,host=h f=1 1\r\nm,host=h f=1", "line 4: no timestamp; a decoder has no "
     "clock to stamp the point with: remove influx_omit_timestamp from Telegraf's outputs.kafka"),
    ('m,host=h s="only a string" 1', NO_NUMBER),
    ("# only a comment", NO_NUMBER),
    (b"m,host=h f=1 1 \xff", "not UTF-8 (byte 15); line protocol is UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "error"), BAD_INFLUX)
def test_a_bad_line_protocol_message_is_named(message: str | bytes, error: str) -> None:
    with pytest.raises(FormatError, match=f"^{re.escape(error)}$"):
        influx(message)


DOCKER = {"fields": {"n_images": 660}, "name": "docker", "tags": {"host": "raynor"}}


@pytest.mark.parametrize(
    ("timestamp", "ts_ms"),
    [
        (1458229140, 1_458_229_140_000),  # json_timestamp_units = "1s", the default
        (1458229140123, 1_458_229_140_123),  # "1ms"
        (1458229140123456, 1_458_229_140_123),  # "1us"
        (1458229140123456789, 1_458_229_140_123),  # "1ns"
        (1458229140.5, 1_458_229_140_500),
        ("2016-03-17T15:39:00Z", 1_458_229_140_000),  # json_timestamp_format, RFC 3339
        ("2016-03-17T16:39:00.25+01:00", 1_458_229_140_250),
    ],
)
def test_a_json_timestamp_is_read_in_any_unit_or_as_rfc_3339(timestamp: Any, ts_ms: int) -> None:
    (got,) = as_json({**DOCKER, "timestamp": timestamp})
    assert got == sample("docker.n_images", 660.0, {}, ts_ms, "raynor")


def test_json_booleans_count_and_strings_objects_arrays_and_nulls_are_skipped() -> None:
    fields = {"up": True, "down": False, "s": "x", "nested": {"a": 1}, "list": [1], "none": None}
    got = as_json({**DOCKER, "fields": fields, "timestamp": 1})
    assert [(s["name"], s["value"]) for s in got] == [("docker.up", 1.0), ("docker.down", 0.0)]


BAD_JSON = [
    ({**DOCKER}, "docker: no timestamp; Telegraf's JSON serializer writes one"),
    ({**DOCKER, "timestamp": True}, "docker: timestamp True is neither epoch time nor RFC 3339; "
     'leave json_timestamp_format unset, or set it to "2006-01-02T15:04:05Z07:00"'),
    ({**DOCKER, "timestamp": "Mon Jan 2 15:04:05 2006"}, "docker: timestamp 'Mon Jan 2 "
     "15:04:05 2006' is neither epoch time nor RFC 3339; leave json_timestamp_format unset, "
     'or set it to "2006-01-02T15:04:05Z07:00"'),
    ({**DOCKER, "timestamp": 1, "tags": {}}, f"docker: {NO_HOST}"),
    ({**DOCKER, "timestamp": 1, "tags": {"host": "h", "n": 1}},
     "docker: 'tags' must be an object of strings"),
    ({**DOCKER, "timestamp": 1, "fields": [1]}, "docker: 'fields' must be an object"),
    ({**DOCKER, "timestamp": 1, "name": ""}, "'name' (the measurement) must be a non-empty string"),
    ({**DOCKER, "timestamp": 1, "fields": {"s": "x"}}, NO_NUMBER),
    ({"metrics": [{**DOCKER, "timestamp": 1}, {**DOCKER, "timestamp": 1, "tags": {}}]},
     f"metric 2: docker: {NO_HOST}"),
    ({"metrics": [{**DOCKER, "timestamp": 1}, 3]},
     "metric 2: a metric is an object with fields, name, tags and timestamp"),
]  # fmt: skip


@pytest.mark.parametrize(("metric", "error"), BAD_JSON)
def test_a_bad_json_metric_is_named(metric: dict[str, Any], error: str) -> None:
    with pytest.raises(FormatError, match=f"^{re.escape(error)}$"):
        as_json(metric)


@pytest.mark.parametrize(
    ("number", "ms"),
    [
        (0, 0),
        (99_999_999_999, 99_999_999_999_000),  # seconds up to the year 5138
        (100_000_000_000, 100_000_000_000),  # then milliseconds
        (1_700_000_000_123, 1_700_000_000_123),
        (99_999_999_999_999, 99_999_999_999_999),
        (100_000_000_000_000, 100_000_000_000),  # then microseconds
        (1_700_000_000_123_456, 1_700_000_000_123),
        (99_999_999_999_999_999, 99_999_999_999_999),
        (100_000_000_000_000_000, 100_000_000_000),  # then nanoseconds
        (1_700_000_000_123_456_789, 1_700_000_000_123),
        (-1, -1000),  # before 1970: ingest refuses it as out of range
        (-1_700_000_000_123_456_789, -1_700_000_000_124),
    ],
)
def test_epoch_numbers_are_told_apart_by_magnitude(number: int, ms: int) -> None:
    assert epoch_ms(number) == ms


@pytest.mark.parametrize(
    ("raw", "claimed"),
    [
        ("cpu,host=a usage_idle=3 1700000000000000000", True),
        ("# Telegraf\n\ncpu,host=a usage_idle=3 1700000000000000000", True),
        ("cpu usage_idle=3", True),  # decoding names the missing timestamp and host tag
        ("cpu,host=a f=99999999999999999999i 1", True),  # and the number past 64 bits
        (r'my\ Measurement fieldKey="string value"', True),
        ("<34>1 2026-11-28T20:54:00.003Z web-1 sshd 8710 - - Failed password for root", False),
        ("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", False),
        ("servers.web-1.cpu.idle 83.2 1700000000", False),  # Graphite
        ("cpu,host=a usage_idle=abc 1", False),
        ("just text", False),
        ("# only a comment", False),
        ("", False),
        ('{"name": "cpu", "fields": {"a": 1}, "timestamp": 1}', False),  # JSON
        ('"cpu a=1 1"', False),  # a JSON string
        (b"cpu,host=\xff a=1 1", False),
    ],
)
def test_line_protocol_is_recognised_by_its_first_line(raw: str | bytes, claimed: bool) -> None:
    assert TELEGRAF_INFLUX.detect(payload(raw)) is claimed


@pytest.mark.parametrize(
    ("value", "claimed"),
    [
        ({**DOCKER, "timestamp": 1458229140}, True),
        ({"metrics": [{**DOCKER, "timestamp": 1458229140}]}, True),
        ({**DOCKER}, False),  # no timestamp
        ({**DOCKER, "timestamp": 1, "fields": 3}, False),
        ({"metrics": []}, False),
        ({"metrics": [3]}, False),
        ({"ts": 1, "name": "system.cpu.utilization", "value": 0.5, "host": "h"}, False),
        (
            {"name": "load1", "tags": {}, "timestamp": "2026-01-01T00:00:00Z", "kind": "absolute",
             "gauge": {"value": 1.0}},
            False,
        ),  # Vector
        ([{**DOCKER, "timestamp": 1}], False),
    ],
)  # fmt: skip
def test_json_is_recognised_by_name_fields_and_timestamp(value: Any, claimed: bool) -> None:
    assert TELEGRAF_JSON.detect(payload(orjson.dumps(value))) is claimed


def test_decoded_samples_pass_ingest_and_a_non_finite_value_is_its_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry.FORMATS, TELEGRAF_INFLUX.name, TELEGRAF_INFLUX)
    limits = Limits(max_record_bytes=1_048_576, max_future_skew_ms=2**62, max_age_ms=2**62)
    now_ms = 1_795_899_240_000
    good = (FIXTURES / "cpu.influx").read_bytes().splitlines()[3]
    decoded = decode_input("metric", good, limits, now_ms, TELEGRAF_INFLUX.name)
    assert not isinstance(decoded, Rejected) and len(decoded) == 12
    bad = decode_input("metric", b"m,host=h f=1e400 1", limits, now_ms, TELEGRAF_INFLUX.name)
    assert isinstance(bad, Rejected) and bad.reason == "non_finite_value"


NS = st.integers(10**17, 2**63 - 1)  # what Telegraf writes: nanoseconds


@ci_examples(200)
@given(
    points=st.lists(lines(timestamps=NS, host=True), min_size=1, max_size=3),
    comment=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_point_the_spec_can_write_decodes_to_its_names_labels_and_values(
    points: list[Line], comment: bool, newline: str
) -> None:
    message = newline.join(line.encode() for line in points)
    if comment:
        message = f"# written by the reference encoder{newline}{newline}{message}{newline}"
    expected = []
    for line in points:
        labels = {k: v for k, v in line.tags.items() if k != "host"}
        assert line.timestamp is not None
        for field in line.fields:
            if isinstance(field.value, str):
                continue  # string fields are skipped
            for name, value, sample_labels in hm.telegraf(
                line.measurement, field.key, float(field.value), labels
            ):
                expected.append(
                    (name, repr(value), line.tags["host"], sample_labels, epoch_ms(line.timestamp))
                )
    if not expected:
        with pytest.raises(FormatError, match=f"^{re.escape(NO_NUMBER)}$"):
            influx(message)
        return
    got = influx(message)
    assert [(s["name"], repr(s["value"]), s["host"], s["labels"], s["ts_ms"]) for s in got] == (
        expected
    )
