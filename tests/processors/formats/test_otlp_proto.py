"""Exports built with opentelemetry-proto's own messages, serialised by protobuf to the
binary encoding and to JSON, decode to the same native records (issue 13 asks for
payloads generated this way rather than by hand)."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import NOT_JSON, FormatError, Payload
from processors.formats.otlp import OTLP_JSON, OTLP_PROTO

pytest.importorskip(
    "opentelemetry.proto", reason="otlp_proto needs opentelemetry-proto (pip install it)"
)
from google.protobuf.json_format import MessageToDict, MessageToJson
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2 as common
from opentelemetry.proto.logs.v1 import logs_pb2 as logs
from opentelemetry.proto.metrics.v1 import metrics_pb2 as metrics
from opentelemetry.proto.resource.v1 import resource_pb2

NS = 1_735_689_600_000_000_000
CUMULATIVE = metrics.AGGREGATION_TEMPORALITY_CUMULATIVE
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")


def kv(key: str, **value: Any) -> common.KeyValue:
    return common.KeyValue(key=key, value=common.AnyValue(**value))


RESOURCE = resource_pb2.Resource(
    attributes=[
        kv("host.name", string_value="web-1"),
        kv("service.name", string_value="api"),
        kv("os.type", string_value="linux"),
    ]
)
EVERY_KIND = [
    kv("s", string_value="x"),
    kv("i", int_value=-(2**63)),
    kv("d", double_value=0.1),
    kv("b", bool_value=True),
    kv("y", bytes_value=b"\x01\x02"),
    kv("a", array_value=common.ArrayValue(values=[common.AnyValue(int_value=2**62)])),
    kv("m", kvlist_value=common.KeyValueList(values=[kv("k", string_value="v")])),
]


def metrics_request() -> Any:
    points = [
        metrics.NumberDataPoint(
            time_unix_nano=NS, as_double=0.125, attributes=[kv("cpu", string_value="cpu0"),
                                                             kv("state", string_value="idle")]
        ),
        metrics.NumberDataPoint(time_unix_nano=NS, as_int=0, attributes=EVERY_KIND),
        metrics.NumberDataPoint(time_unix_nano=NS, flags=1),  # no recorded value
    ]  # fmt: skip
    histogram = metrics.HistogramDataPoint(
        time_unix_nano=NS, count=6, sum=7.5, min=0.5, max=4.0,
        bucket_counts=[1, 2, 3], explicit_bounds=[1.0, 2.5],
    )  # fmt: skip
    exponential = metrics.ExponentialHistogramDataPoint(
        time_unix_nano=NS, count=3, sum=1.5, scale=2,
        positive=metrics.ExponentialHistogramDataPoint.Buckets(offset=1, bucket_counts=[3]),
    )  # fmt: skip
    summary = metrics.SummaryDataPoint(
        time_unix_nano=NS, count=2, sum=3.0,
        quantile_values=[metrics.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=2.5)],
    )  # fmt: skip
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics.ResourceMetrics(
                resource=RESOURCE,
                scope_metrics=[
                    metrics.ScopeMetrics(
                        scope=common.InstrumentationScope(name="cpuscraper", version="1"),
                        metrics=[
                            metrics.Metric(
                                name="system.cpu.utilization", unit="1",
                                gauge=metrics.Gauge(data_points=points[:1]),
                            ),
                            metrics.Metric(
                                name="requests", unit="{request}",
                                sum=metrics.Sum(
                                    aggregation_temporality=CUMULATIVE, is_monotonic=True,
                                    data_points=points[1:],
                                ),
                            ),
                            metrics.Metric(
                                name="latency", unit="s",
                                histogram=metrics.Histogram(
                                    aggregation_temporality=CUMULATIVE, data_points=[histogram]
                                ),
                            ),
                            metrics.Metric(
                                name="size", unit="By",
                                exponential_histogram=metrics.ExponentialHistogram(
                                    aggregation_temporality=CUMULATIVE, data_points=[exponential]
                                ),
                            ),
                            metrics.Metric(
                                name="rpc", unit="ms",
                                summary=metrics.Summary(data_points=[summary]),
                            ),
                        ],
                    )
                ],
            )
        ]
    )  # fmt: skip


def logs_request() -> Any:
    records = [
        logs.LogRecord(
            time_unix_nano=NS, severity_number=logs.SEVERITY_NUMBER_ERROR2,
            severity_text="Error", body=common.AnyValue(string_value="disk full"),
            attributes=EVERY_KIND, trace_id=TRACE_ID, span_id=SPAN_ID,
            event_name="disk.alert",
        ),
        logs.LogRecord(
            observed_time_unix_nano=NS + 10**6,
            body=common.AnyValue(kvlist_value=common.KeyValueList(values=[kv("n", int_value=1)])),
        ),
    ]  # fmt: skip
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs.ResourceLogs(
                resource=RESOURCE,
                scope_logs=[
                    logs.ScopeLogs(
                        scope=common.InstrumentationScope(name="app.db", version="2.0"),
                        log_records=records,
                    )
                ],
            )
        ]
    )


def otlp_json(message: Any) -> bytes:
    """OTLP/JSON proper: protobuf's JSON with integer enums and hex ids (the OTLP spec)."""

    def hexed(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId") else hexed(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hexed(v) for v in node]
        return node

    return orjson.dumps(hexed(MessageToDict(message, use_integers_for_enums=True)))


def decoded(message: Any, source: str) -> list[list[dict[str, Any]]]:
    """The message decoded from the binary encoding, OTLP/JSON, and protobuf's own JSON
    mapping (base64 ids, enum names)."""
    raw = message.SerializeToString()
    out = [OTLP_PROTO.decode(Payload(raw, NOT_JSON), source)]
    for text in (otlp_json(message), MessageToJson(message).encode()):
        out.append(OTLP_JSON.decode(Payload(text, orjson.loads(text)), source))
    return out


def test_a_metrics_export_decodes_the_same_from_proto_and_from_json() -> None:
    proto, *jsons = decoded(metrics_request(), "metric")
    for other in jsons:
        assert other == proto
    base = {"ts_ms": NS // 10**6, "host": "web-1", "service": "api"}
    linux, cumulative = {"os.type": "linux"}, {"os.type": "linux", "temporality": "cumulative"}
    total = {"cumulative": True}  # a running total, for the firehose to rate
    every_kind = {
        "s": "x",
        "i": str(-(2**63)),
        "d": "0.1",
        "b": "true",
        "y": "AQI=",
        "a": f"[{2**62}]",
        "m": '{"k":"v"}',
    }
    assert proto == [
        base | {"name": "system.cpu.utilization", "value": 0.875, "unit": "1",
                "labels": linux | {"cpu": "cpu0"}},
        base | {"name": "requests", "value": 0.0, "unit": "{request}",
                "labels": cumulative | every_kind | {"monotonic": "true"}} | total,
        base | {"name": "latency.count", "value": 6.0, "unit": None,
                "labels": cumulative} | total,
        base | {"name": "latency.sum", "value": 7.5, "unit": "s", "labels": cumulative} | total,
        base | {"name": "latency.min", "value": 0.5, "unit": "s", "labels": cumulative},
        base | {"name": "latency.max", "value": 4.0, "unit": "s", "labels": cumulative},
        base | {"name": "latency.bucket", "value": 1.0, "unit": None,
                "labels": cumulative | {"le": "1"}},
        base | {"name": "latency.bucket", "value": 3.0, "unit": None,
                "labels": cumulative | {"le": "2.5"}},
        base | {"name": "latency.bucket", "value": 6.0, "unit": None,
                "labels": cumulative | {"le": "+Inf"}},
        base | {"name": "size.count", "value": 3.0, "unit": None, "labels": cumulative} | total,
        base | {"name": "size.sum", "value": 1.5, "unit": "By", "labels": cumulative} | total,
        base | {"name": "rpc.count", "value": 2.0, "unit": None, "labels": linux} | total,
        base | {"name": "rpc.sum", "value": 3.0, "unit": "ms", "labels": linux} | total,
        base | {"name": "rpc", "value": 2.5, "unit": "ms", "labels": linux | {"quantile": "0.99"}},
    ]  # fmt: skip


def test_a_logs_export_decodes_the_same_from_proto_and_from_json() -> None:
    proto, *jsons = decoded(logs_request(), "log")
    for other in jsons:
        assert other == proto
    base = {
        "host": "web-1",
        "service": "api",
        "resource": {"os.type": "linux"},
        "scope": {"name": "app.db", "version": "2.0"},
    }
    assert proto == [
        base
        | {
            "ts_ms": NS // 10**6,
            "severity_number": 18,
            "severity_text": "Error",
            "body": "disk full",
            "attributes": {
                "s": "x",
                "i": -(2**63),
                "d": 0.1,
                "b": True,
                "y": "AQI=",
                "a": [2**62],
                "m": {"k": "v"},
                "trace_id": TRACE_ID.hex(),
                "span_id": SPAN_ID.hex(),
                "event.name": "disk.alert",
            },
        },
        base
        | {
            "ts_ms": NS // 10**6 + 1,
            "severity_number": 9,
            "body": '{"n":1}',
            "attributes": {},
        },
    ]


@pytest.mark.parametrize(
    ("message", "source", "belongs"),
    [(metrics_request, "log", "metrics"), (logs_request, "metric", "logs")],
)
def test_an_export_on_the_other_signals_topic_says_where_it_belongs(
    message: Any, source: str, belongs: str
) -> None:
    raw = message().SerializeToString()
    with pytest.raises(FormatError, match=f"^an OTLP {belongs} export on a {source} topic; "):
        OTLP_PROTO.decode(Payload(raw, NOT_JSON), source)


def test_auto_claims_proto_exports_of_either_signal() -> None:
    for message in (metrics_request(), logs_request()):
        assert OTLP_PROTO.detect(Payload(message.SerializeToString(), NOT_JSON))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\n",
        b"cpu,host=a usage_idle=3 1",
        b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed",
        b"\n\x00",  # an empty ResourceMetrics: parses, holds nothing
        metrics_service_pb2.ExportMetricsServiceRequest(
            resource_metrics=[metrics.ResourceMetrics(resource=RESOURCE)]
        ).SerializeToString(),  # a resource without metrics
    ],
)
def test_auto_does_not_claim_binary_that_holds_no_export(raw: bytes) -> None:
    assert not OTLP_PROTO.detect(Payload(raw, NOT_JSON))


def test_auto_does_not_claim_json_for_proto() -> None:
    text = otlp_json(metrics_request())
    assert not OTLP_PROTO.detect(Payload(text, orjson.loads(text)))
    with pytest.raises(FormatError, match="set the topic's format to otlp_json"):
        OTLP_PROTO.decode(Payload(text, orjson.loads(text)), "metric")


def test_garbage_for_otlp_proto_is_a_format_error() -> None:
    with pytest.raises(FormatError, match=r"^not an OTLP protobuf export request \("):
        OTLP_PROTO.decode(Payload(b"\xff\xff\xff", NOT_JSON), "metric")


@given(raw=st.binary(max_size=200))
def test_any_bytes_are_claimed_or_not_and_decode_or_raise_a_format_error(raw: bytes) -> None:
    payload = Payload(b"\n" + raw, NOT_JSON)
    assert OTLP_PROTO.detect(payload) in (True, False)
    for source in ("metric", "log"):
        with contextlib.suppress(FormatError):
            OTLP_PROTO.decode(payload, source)


@given(
    time_ns=st.integers(1, 2**64 - 1),
    value=st.one_of(st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1)),
)
def test_proto_and_json_agree_on_every_number_form(time_ns: int, value: float | int) -> None:
    if isinstance(value, int):
        point = metrics.NumberDataPoint(time_unix_nano=time_ns, as_int=value)
    else:
        point = metrics.NumberDataPoint(time_unix_nano=time_ns, as_double=value)
    message = metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics.ResourceMetrics(
                resource=RESOURCE,
                scope_metrics=[
                    metrics.ScopeMetrics(
                        metrics=[metrics.Metric(name="n", gauge=metrics.Gauge(data_points=[point]))]
                    )
                ],
            )
        ]
    )
    proto, *jsons = decoded(message, "metric")
    assert [(s["ts_ms"], s["value"]) for s in proto] == [(time_ns // 10**6, float(value))]
    for other in jsons:
        assert other == proto
