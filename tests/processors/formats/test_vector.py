from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError, Payload
from processors.formats.vector import VECTOR_JSON, decode

from .shipper_fixtures import ingested, message, payload_of


def test_native_json_wraps_the_same_log_as_json() -> None:
    wrapped = decode(message("vector", "native_json_log"), "log")
    assert wrapped == decode(message("vector", "file_source_log"), "log")


def test_a_filesystem_ratio_from_host_metrics_also_gives_the_canonical_sample() -> None:
    records = decode(message("vector", "host_metrics_filesystem_used_ratio"), "metric")
    assert [(r["name"], r["value"], r["labels"]) for r in records][1] == (
        "system.filesystem.utilization",
        0.42,
        {"mountpoint": "/mnt/data"},
    )


def metric(**fields: Any) -> Payload:
    event = {
        "name": "requests",
        "tags": {"host": "web-1"},
        "timestamp": "2026-01-01T00:00:00Z",
        "kind": "absolute",
        "counter": {"value": 1.0},
    }
    event.update(fields)
    return payload_of(orjson.dumps({k: v for k, v in event.items() if v is not None}))


@pytest.mark.parametrize(
    ("payload", "source", "message_part"),
    [
        # Vector's own serializer test payload (lib/codecs json.rs): no host tag
        (
            payload_of(
                b'{"name":"foos","namespace":"vector","tags":{"Key3":"Value3","key1":"value1",'
                b'"key2":"value2"},"timestamp":"2018-11-14T08:09:10.000000011Z",'
                b'"kind":"incremental","counter":{"value":100.0}}'
            ),
            "metric",
            "field 'tags.host': required",
        ),
        # ...and without a timestamp, as Vector writes a metric whose source gave none
        (
            payload_of(b'{"name":"users","kind":"incremental","set":{"values":["bob"]}}'),
            "metric",
            "field 'timestamp': required",
        ),
        (metric(counter={"value": "12"}), "metric", "field 'counter.value': expected a number"),
        (metric(counter=None), "metric", "exactly one of counter, gauge"),
        (metric(gauge={"value": 1.0}), "metric", "(found: counter, gauge)"),
        (metric(kind="delta", name="x"), "metric", "kind"),
        (metric(tags={"host": "h", "a": 1}), "metric", "field 'tags.a': expected a string"),
        (metric(timestamp="yesterday"), "metric", "field 'timestamp': 'yesterday' is neither"),
        (metric(namespace=7), "metric", "field 'namespace': expected a string"),
        (
            metric(counter=None, distribution={"samples": [{"value": 1, "rate": "x"}]}),
            "metric",
            "field 'distribution.samples.0.rate'",
        ),
        (
            payload_of(b'{"metric":{"name":"x","kind":"absolute","tags":{"host":"h"}}}'),
            "metric",
            "field 'metric.timestamp'",
        ),
        (payload_of(b'{"log":[1]}'), "log", "field 'log': expected an object"),
        (metric(), "log", "a Vector metric event on a log topic"),
        (message("vector", "file_source_log"), "metric", "a Vector log event on a metric topic"),
        (payload_of(b'{"source_type":"file","message":"m"}'), "log", "field 'timestamp'"),
        (payload_of(b"[1, 2]"), "log", "a Vector event is a JSON object"),
    ],
)
def test_a_bad_payload_is_refused_with_the_field_named(
    payload: Payload, source: str, message_part: str
) -> None:
    with pytest.raises(FormatError) as raised:
        decode(payload, source)
    assert message_part in str(raised.value)


def test_the_kind_label_tells_an_increment_from_a_running_total() -> None:
    [record] = decode(metric(kind="incremental"), "metric")
    assert record["labels"] == {"kind": "incremental"}


@pytest.mark.parametrize(
    ("payload", "running_totals"),
    [
        (metric(), ["requests"]),  # an absolute counter
        (metric(kind="incremental"), []),
        (metric(counter=None, gauge={"value": 1.0}), []),
        (
            metric(counter=None, aggregated_histogram={"buckets": [], "count": 2, "sum": 1.0}),
            ["requests_count", "requests_sum"],
        ),
        (
            metric(
                kind="incremental",
                counter=None,
                aggregated_histogram={"buckets": [], "count": 2, "sum": 1.0},
            ),
            [],
        ),
        (
            metric(
                counter=None,
                aggregated_summary={
                    "quantiles": [{"quantile": 0.5, "value": 1}],
                    "count": 2,
                    "sum": 1.0,
                },
            ),
            ["requests_count", "requests_sum"],  # not the quantile
        ),
        (metric(counter=None, distribution={"samples": [{"value": 1, "rate": 2}]}), []),
        (  # the canonical sample of a host ratio is not marked, even from a counter
            metric(
                name="filesystem_used_ratio",
                namespace="host",
                tags={"host": "h", "mountpoint": "/"},
            ),
            ["host_filesystem_used_ratio"],
        ),
    ],
)
def test_running_totals_are_marked_cumulative_for_the_firehose_to_rate(
    payload: Payload, running_totals: list[str]
) -> None:
    records = decode(payload, "metric")
    assert [r["name"] for r in records if r.get("cumulative") is True] == running_totals
    assert all(r.get("cumulative", True) is True for r in records)  # no False: no key
    validated = ingested("metric", records)  # the mark survives validation
    assert [s["name"] for s in validated if s.get("cumulative") is True] == running_totals


def test_a_log_level_key_gives_the_severity_and_leaves_the_attributes() -> None:
    raw = orjson.dumps(
        {"timestamp": "2026-01-01T00:00:00Z", "source_type": "docker_logs", "level": "WARN",
         "message": "slow", "container_name": "api", "service": "checkout"}
    )  # fmt: skip
    [record] = decode(payload_of(raw), "log")
    assert (record["severity_text"], record["severity_number"]) == ("WARN", 13)
    assert record["service"] == "checkout"  # an explicit service wins over container_name
    assert record["attributes"] == {"source_type": "docker_logs", "container_name": "api"}


def test_a_journald_record_reads_its_priority_and_identifier() -> None:
    raw = orjson.dumps(
        {"timestamp": "2026-01-01T00:00:00Z", "source_type": "journald", "host": "h",
         "message": "oom", "PRIORITY": "2", "SYSLOG_IDENTIFIER": "kernel"}
    )  # fmt: skip
    [record] = decode(payload_of(raw), "log")
    assert (record["service"], record["severity_text"], record["severity_number"]) == (
        "kernel",
        "crit",
        21,
    )


samples = st.lists(
    st.tuples(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        st.integers(min_value=0, max_value=1000),
    ),
    max_size=20,
)


@given(samples=samples)
def test_a_distribution_gives_its_count_sum_min_and_max(
    samples: list[tuple[float, int]],
) -> None:
    payload = metric(
        counter=None,
        distribution={
            "samples": [{"value": v, "rate": r} for v, r in samples],
            "statistic": "summary",
        },
    )
    got = {r["name"]: r["value"] for r in decode(payload, "metric")}
    seen = [v for v, r in samples if r > 0]
    expected = {
        "requests_count": float(sum(r for _, r in samples)),
        "requests_sum": sum(v * r for v, r in samples),
    }
    if seen:
        expected |= {"requests_min": min(seen), "requests_max": max(seen)}
    assert got.keys() == expected.keys()
    assert got == pytest.approx(expected)


tag_values = st.one_of(
    st.none(), st.text(max_size=8), st.lists(st.one_of(st.none(), st.text(max_size=8)))
)


@given(tags=st.dictionaries(st.text(min_size=1, max_size=8), tag_values, max_size=6))
def test_every_tag_form_vector_writes_becomes_a_string_label(tags: dict[str, Any]) -> None:
    [record] = decode(metric(tags={**tags, "host": "web-1"}), "metric")
    assert all(isinstance(v, str) for v in record["labels"].values())
    assert set(record["labels"]) == set(tags) - {"host"} | {"kind"}


def test_the_format_is_named_vector_json_for_metrics_and_logs() -> None:
    assert (VECTOR_JSON.name, VECTOR_JSON.sources) == ("vector_json", {"metric", "log"})
