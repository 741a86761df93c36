from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.formats import FormatError
from processors.formats.otlp_metrics import decode_metrics
from processors.records import MetricSample

FIXTURES = Path(__file__).parent / "fixtures" / "otlp"
TS_MS = 1544712660300  # the official example's timeUnixNano, 1544712660300000000
HOST_TS_MS = 1735689600000


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())  # type: ignore[no-any-return]


def sample(name: str, value: float, labels: dict[str, str], **overrides: Any) -> dict[str, Any]:
    fields = {
        "ts_ms": TS_MS,
        "name": name,
        "value": value,
        "host": "my.service",
        "service": "my.service",
        "unit": "1",
        "labels": labels,
    }
    return fields | overrides


def export(*metrics: dict[str, Any], resource: list[Any] | None = None) -> dict[str, Any]:
    """An export of ``metrics`` from host ``h`` (or the given resource attributes)."""
    attributes = resource if resource is not None else [kv("host.name", "h")]
    return {
        "resourceMetrics": [
            {"resource": {"attributes": attributes}, "scopeMetrics": [{"metrics": list(metrics)}]}
        ]
    }


def kv(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def gauge(*points: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {"name": name, "gauge": {"dataPoints": list(points)}}


def point(**fields: Any) -> dict[str, Any]:
    return {"timeUnixNano": "1000000000000000000", "asDouble": 1.5} | fields


def test_the_official_example_decodes_to_a_sample_per_point_and_histogram_statistic() -> None:
    histogram = {"my.histogram.attr": "some value", "temporality": "delta"}
    assert decode_metrics(load("metrics.json")) == [
        sample(
            "my.counter",
            5.0,
            {"my.counter.attr": "some value", "temporality": "delta", "monotonic": "true"},
        ),
        sample("my.gauge", 10.0, {"my.gauge.attr": "some value"}),
        sample("my.histogram.count", 3.0, histogram, unit=None),
        sample("my.histogram.sum", 3.0, histogram),
        sample("my.histogram.min", 1.0, histogram),
        sample("my.histogram.max", 1.0, histogram),
        sample("my.histogram.bucket", 1.0, histogram | {"le": "1"}, unit=None),
        sample("my.histogram.bucket", 3.0, histogram | {"le": "+Inf"}, unit=None),
    ]


def test_every_decoded_sample_is_a_valid_native_metric() -> None:
    for name in ("metrics.json", "hostmetrics.json"):
        for fields in decode_metrics(load(name)):
            MetricSample.model_validate(fields)


def test_hostmetrics_give_the_canonical_samples_the_shipped_host_rules_read() -> None:
    linux = {"os.type": "linux"}

    def host(name: str, value: float, labels: dict[str, str], unit: str = "1") -> dict[str, Any]:
        return sample(name, value, linux | labels, ts_ms=HOST_TS_MS, host="web-1", service=None)

    cumulative = {"temporality": "cumulative"}
    assert decode_metrics(load("hostmetrics.json")) == [
        host(
            "system.cpu.time",
            12345.5,
            {"cpu": "cpu0", "state": "idle", "monotonic": "true"} | cumulative,
        )
        | {"unit": "s", "cumulative": True},
        host("system.cpu.utilization", 1 - 0.125, {"cpu": "cpu0"}),
        host("system.cpu.utilization.user", 0.75, {"cpu": "cpu0", "state": "user"}),
        host("system.cpu.utilization", 1 - 0.0625, {"cpu": "cpu1"}),
        host(
            "system.memory.usage",
            7516192768.0,
            {"state": "used", "monotonic": "false"} | cumulative,
        )
        | {"unit": "By"},
        host("system.memory.utilization", 0.875, {"state": "used"}),
        host("system.memory.utilization.free", 0.0625, {"state": "free"}),
        host(
            "system.filesystem.utilization",
            0.96875,
            {"device": "/dev/sda1", "mode": "rw", "mountpoint": "/", "type": "ext4"},
        ),
    ]


@pytest.mark.parametrize(
    ("resource", "host", "service"),
    [
        ([kv("host.name", "h"), kv("service.name", "s"), kv("service.instance.id", "i")], "h", "s"),
        ([kv("service.name", "s"), kv("service.instance.id", "i")], "i", "s"),
        ([kv("service.name", "s")], "s", "s"),
    ],
)
def test_the_host_is_host_name_else_the_service_instance_else_the_service(
    resource: list[Any], host: str, service: str
) -> None:
    [decoded] = decode_metrics(export(gauge(point()), resource=resource))
    assert (decoded["host"], decoded["service"]) == (host, service)
    # host.name and service.name are the sample's own fields; the rest are labels.
    instance = {"service.instance.id": "i"} if len(resource) > 1 else {}
    assert decoded["labels"] == instance


def test_resource_attributes_are_labels_under_the_points_own() -> None:
    resource = [kv("host.name", "h"), kv("k8s.pod.name", "web-7"), kv("cpu", "from-resource")]
    points = point(attributes=[kv("cpu", "cpu3"), {"key": "n", "value": {"intValue": "7"}}])
    [decoded] = decode_metrics(export(gauge(points), resource=resource))
    assert decoded["labels"] == {"k8s.pod.name": "web-7", "cpu": "cpu3", "n": "7"}


def test_attribute_values_of_every_kind_become_label_text() -> None:
    attributes = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i", "value": {"intValue": 10}},
        {"key": "d", "value": {"doubleValue": 0.5}},
        {"key": "b", "value": {"boolValue": False}},
        {
            "key": "a",
            "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "2"}]}},
        },
        {"key": "m", "value": {"kvlistValue": {"values": [kv("k", "v")]}}},
        {"key": "y", "value": {"bytesValue": "AQI="}},
        {"key": "e", "value": {}},
    ]
    [decoded] = decode_metrics(export(gauge(point(attributes=attributes))))
    assert decoded["labels"] == {
        "s": "x",
        "i": "10",
        "d": "0.5",
        "b": "false",
        "a": '["x",2]',
        "m": '{"k":"v"}',
        "y": "AQI=",
        "e": "",
    }


def test_int_points_and_int_sums_keep_their_value() -> None:
    big = point(asInt="9007199254740993")
    del big["asDouble"]
    total = {
        "name": "requests",
        "unit": "{request}",
        "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [big]},
    }
    [decoded] = decode_metrics(export(total))
    assert decoded["value"] == 9007199254740992.0  # the nearest double
    assert decoded["unit"] == "{request}"
    assert decoded["labels"] == {"temporality": "cumulative", "monotonic": "true"}
    assert decoded["cumulative"] is True


def test_a_point_flagged_without_a_recorded_value_gives_no_sample() -> None:
    stale = point(flags=1, asDouble="NaN")
    assert decode_metrics(export(gauge(stale, point(asDouble=2.0)))) == [
        sample("g", 2.0, {}, ts_ms=10**12, host="h", service=None, unit=None)
    ]


def test_summaries_and_exponential_histograms_give_their_statistics() -> None:
    summary = {
        "name": "rpc.duration",
        "unit": "ms",
        "summary": {
            "dataPoints": [
                point(
                    count="4",
                    sum=10.0,
                    quantileValues=[{"quantile": 0.5, "value": 2.0}, {"quantile": 1, "value": 5}],
                )
            ]
        },
    }
    exponential = {
        "name": "latency",
        "unit": "s",
        "exponentialHistogram": {
            "aggregationTemporality": 1,
            "dataPoints": [
                point(count=2, sum=0.5, scale=3, positive={"offset": 1, "bucketCounts": [1, 1]})
            ],
        },
    }
    base = {"ts_ms": 10**12, "host": "h", "service": None}
    delta = {"temporality": "delta"}
    total = {"cumulative": True}  # a summary's count and sum are running totals
    assert decode_metrics(export(summary, exponential)) == [
        base | {"name": "rpc.duration.count", "value": 4.0, "unit": None, "labels": {}} | total,
        base | {"name": "rpc.duration.sum", "value": 10.0, "unit": "ms", "labels": {}} | total,
        base | {"name": "rpc.duration", "value": 2.0, "unit": "ms", "labels": {"quantile": "0.5"}},
        base | {"name": "rpc.duration", "value": 5.0, "unit": "ms", "labels": {"quantile": "1"}},
        base | {"name": "latency.count", "value": 2.0, "unit": None, "labels": delta},
        base | {"name": "latency.sum", "value": 0.5, "unit": "s", "labels": delta},
    ]


def test_histogram_buckets_are_cumulative_with_prometheus_bounds() -> None:
    histogram = {
        "name": "h",
        "histogram": {
            "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "dataPoints": [
                point(count="6", bucketCounts=["1", 2, "3"], explicitBounds=[0.005, 10.0])
            ],
        },
    }
    buckets = [s for s in decode_metrics(export(histogram)) if s["name"] == "h.bucket"]
    assert [(s["labels"]["le"], s["value"]) for s in buckets] == [
        ("0.005", 1.0),
        ("10", 3.0),
        ("+Inf", 6.0),
    ]


def sum_of(temporality: int, monotonic: bool) -> dict[str, Any]:
    return {
        "name": "requests",
        "sum": {
            "aggregationTemporality": temporality,
            "isMonotonic": monotonic,
            "dataPoints": [point()],
        },
    }


@pytest.mark.parametrize(
    ("metric", "running_totals"),
    [
        (sum_of(2, True), ["requests"]),
        (sum_of(2, False), []),  # an up-down counter: a decrease is no reset
        (sum_of(1, True), []),  # delta: each point is already an increase
        (gauge(point()), []),
        (
            {
                "name": "latency",
                "histogram": {
                    "aggregationTemporality": 2,
                    "dataPoints": [
                        point(
                            count="3",
                            sum=1.5,
                            min=0.1,
                            max=1.0,
                            bucketCounts=[1, 2],
                            explicitBounds=[0.5],
                        )
                    ],
                },
            },
            ["latency.count", "latency.sum"],  # not min, max or the buckets
        ),
        (
            {
                "name": "latency",
                "histogram": {
                    "aggregationTemporality": 1,
                    "dataPoints": [point(count="3", sum=1.5)],
                },
            },
            [],
        ),
        (
            {
                "name": "latency",
                "exponentialHistogram": {
                    "aggregationTemporality": 2,
                    "dataPoints": [point(count=2, sum=0.5, min=0.1)],
                },
            },
            ["latency.count", "latency.sum"],
        ),
    ],
)
def test_running_totals_are_marked_cumulative_for_the_firehose_to_rate(
    metric: dict[str, Any], running_totals: list[str]
) -> None:
    samples = decode_metrics(export(metric))
    assert [s["name"] for s in samples if s.get("cumulative") is True] == running_totals
    assert all(s.get("cumulative", True) is True for s in samples)  # no False: no key


def test_a_metric_without_data_or_of_an_unknown_type_gives_no_samples() -> None:
    assert decode_metrics(export({"name": "empty"}, {"name": "future", "newKind": {}})) == []


def test_unknown_fields_and_the_old_instrumentation_library_name_are_read() -> None:
    old = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [kv("host.name", "h")], "droppedAttributesCount": 0},
                "instrumentationLibraryMetrics": [{"metrics": [gauge(point(exemplars=[]))]}],
                "schemaUrl": "https://opentelemetry.io/schemas/1.9.0",
            }
        ]
    }
    assert [s["value"] for s in decode_metrics(old)] == [1.5]


def bad_export() -> dict[str, Any]:
    """Two scopes, the second with three metrics: errors go in its third metric."""
    metrics = [gauge(point(), name=f"m{i}") for i in range(3)]
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": [kv("host.name", "h")]},
                "scopeMetrics": [{"metrics": []}, {"metrics": metrics}],
            }
        ]
    }


WHERE = "resourceMetrics[0].scopeMetrics[1].metrics[2]"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["gauge"]["dataPoints"][0].update(asDouble="abc"),
            f"{WHERE}.gauge.dataPoints[0].asDouble: 'abc' is not a number",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(asDouble=True),
            f"{WHERE}.gauge.dataPoints[0].asDouble: True is not a number",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].pop("asDouble"),
            f"{WHERE}.gauge.dataPoints[0]: no asDouble or asInt; a number data point has one",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(timeUnixNano="12x"),
            f"{WHERE}.gauge.dataPoints[0].timeUnixNano: '12x' is not an unsigned 64-bit integer",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(timeUnixNano=-1),
            f"{WHERE}.gauge.dataPoints[0].timeUnixNano: -1 is not an unsigned 64-bit integer",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(timeUnixNano=str(2**64)),
            f"{WHERE}.gauge.dataPoints[0].timeUnixNano: '{2**64}' is not an unsigned "
            "64-bit integer",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].pop("timeUnixNano"),
            f"{WHERE}.gauge.dataPoints[0].timeUnixNano: not set; every data point has its time",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(
                attributes=[kv("a", "b"), {"key": "n", "value": {"intValue": "x"}}]
            ),
            f"{WHERE}.gauge.dataPoints[0].attributes[1].value.intValue: 'x' is not a signed "
            "64-bit integer",
        ),
        (
            lambda m: m["gauge"]["dataPoints"][0].update(attributes=[{"value": {}}]),
            f"{WHERE}.gauge.dataPoints[0].attributes[0]: expected "
            "{'key': str, 'value': AnyValue}",
        ),
        (
            lambda m: m["gauge"].update(dataPoints={"asDouble": 1}),
            f"{WHERE}.gauge.dataPoints: expected a list, got an object",
        ),
        (
            lambda m: m["gauge"]["dataPoints"].append(7),
            f"{WHERE}.gauge.dataPoints[1]: expected an object, got a number",
        ),
        (lambda m: m.update(name=""), f"{WHERE}.name: '' is not a metric name"),
        (
            lambda m: m.update(gauge=None, sum={"dataPoints": [point()]}),
            f"{WHERE}.sum.aggregationTemporality: None is neither 1 (delta) nor 2 (cumulative)",
        ),
        (
            lambda m: m.update(
                gauge=None,
                histogram={
                    "aggregationTemporality": 1,
                    "dataPoints": [point(bucketCounts=[1, -1, 0], explicitBounds=[1, 2])],
                },
            ),
            f"{WHERE}.histogram.dataPoints[0].bucketCounts[1]: -1 is not an unsigned "
            "64-bit integer",
        ),
    ],
)
def test_a_bad_export_names_the_path_of_what_is_wrong(change: Any, message: str) -> None:
    payload = bad_export()
    change(payload["resourceMetrics"][0]["scopeMetrics"][1]["metrics"][2])
    with pytest.raises(FormatError) as raised:
        decode_metrics(payload)
    assert str(raised.value) == message


def test_a_resource_without_any_name_says_to_add_the_resourcedetection_processor() -> None:
    with pytest.raises(FormatError, match=r"^resourceMetrics\[0\]\.resource: no host\.name"):
        decode_metrics(export(gauge(point()), resource=[kv("os.type", "linux")]))


def test_a_bad_resource_attribute_is_named() -> None:
    resource = [kv("host.name", "h"), {"key": "x", "value": {"boolValue": "yes"}}]
    with pytest.raises(FormatError) as raised:
        decode_metrics(export(gauge(point()), resource=resource))
    assert str(raised.value) == (
        "resourceMetrics[0].resource.attributes[1].value.boolValue: 'yes' is not true or false"
    )


def test_decoding_does_not_change_the_export() -> None:
    payload = load("hostmetrics.json")
    before = copy.deepcopy(payload)
    decode_metrics(payload)
    assert payload == before
