"""The OpenTelemetry Collector's ``kafka`` exporter: OTLP exports, ``otlp_json`` and
``otlp_proto`` (the exporter's default encoding), for the metric and log topics.

Each Kafka message is one whole ``ExportMetricsServiceRequest`` or
``ExportLogsServiceRequest`` (opentelemetry-collector-contrib,
``exporter/kafkaexporter/README.md``): :mod:`otlp_metrics` and :mod:`otlp_logs` say what
it becomes. A metrics export on a log topic (or logs on a metric topic, or traces on
either) is a FormatError that names where it belongs.

Recognition (``auto``): ``otlp_json`` is a JSON object with ``resourceMetrics``,
``resourceLogs`` or ``resourceSpans``. ``otlp_proto`` is binary, and binary is
ambiguous, so it is claimed only by a strict test: a value that is not a JSON object,
begins with the tag of field 1 (``0x0a``: protobuf writes fields in order, and field 1
is the repeated resources of both requests), parses as a metrics or a logs export
request, and holds at least one metric (each named, with data) or log record (each with
a time). For a value that does not begin with ``0x0a`` (every text line format's) the
test is one byte compared, so ``otlp_proto`` can be tried before the text formats, whose
cheap tests look at bytes after a newline and could take a binary export for text; the
parse it costs otherwise (10 µs for 100 points) is small beside the decode. A topic
that carries only the Collector's output is best set to its encoding outright
(``OPSRULES_FORMAT_METRICS=otlp_proto``).
"""

from __future__ import annotations

from typing import Any

from processors.formats import Format, FormatError, Payload, otlp_proto
from processors.formats.otlp_logs import decode_logs
from processors.formats.otlp_metrics import decode_metrics

# The top-level key of each signal's export, and the source of its opsrules topic.
_EXPORTS = {"resourceMetrics": "metric", "resourceLogs": "log", "resourceSpans": "trace"}
_SIGNALS = {"metric": "metrics", "log": "logs", "trace": "traces"}
_SOURCES = frozenset({"metric", "log"})


def _detect_json(payload: Payload) -> bool:
    obj = payload.obj
    return obj is not None and (
        "resourceMetrics" in obj or "resourceLogs" in obj or "resourceSpans" in obj
    )


def _decode_json(payload: Payload, source: str) -> list[dict[str, Any]]:
    obj = payload.obj
    if obj is None:
        hint = " (the exporter's default encoding is otlp_proto)" * (payload.raw[:1] == b"\n")
        raise FormatError(f"an otlp_json export is a JSON object{hint}")
    if source == "metric" and "resourceMetrics" in obj:
        return decode_metrics(obj)
    if source == "log" and "resourceLogs" in obj:
        return decode_logs(obj)
    found = next((kind for key, kind in _EXPORTS.items() if key in obj), None)
    if found is None:
        raise FormatError(f"an OTLP {_SIGNALS[source]} export has {_key(source)}")
    raise _elsewhere(found, source)


def _detect_proto(payload: Payload) -> bool:
    if payload.obj is not None or payload.raw[:1] != b"\n":
        return False
    for source in ("metric", "log"):
        try:
            if otlp_proto.has_data(otlp_proto.parse(payload.raw, source), source):
                return True
        except FormatError:
            continue
    return False


def _decode_proto(payload: Payload, source: str) -> list[dict[str, Any]]:
    if payload.obj is not None and _detect_json(payload):
        raise FormatError("this is OTLP/JSON: set the topic's format to otlp_json (or auto)")
    try:
        return _proto(payload.raw, source)
    except FormatError:
        other = "log" if source == "metric" else "metric"
        try:
            elsewhere = bool(_proto(payload.raw, other))
        except FormatError:
            elsewhere = False
        if elsewhere:
            raise _elsewhere(other, source) from None
        raise


def _proto(raw: bytes, source: str) -> list[dict[str, Any]]:
    request = otlp_proto.parse(raw, source)
    if source == "metric":
        return decode_metrics(otlp_proto.metrics_shape(request))
    return decode_logs(otlp_proto.logs_shape(request))


def _elsewhere(found: str, source: str) -> FormatError:
    """The error for an export of signal ``found`` on a topic of ``source``."""
    if found == "trace":
        where = "opsrules reads no traces: leave traces out of this exporter's pipelines"
    else:
        where = f"send it to the {_SIGNALS[found]} topic (the exporter's {_SIGNALS[found]}.topic)"
    return FormatError(f"an OTLP {_SIGNALS[found]} export on a {source} topic; {where}")


def _key(source: str) -> str:
    return "resourceMetrics" if source == "metric" else "resourceLogs"


OTLP_JSON = Format(
    "otlp_json",
    _SOURCES,
    _detect_json,
    _decode_json,
    "OpenTelemetry Collector kafka exporter, encoding otlp_json (OTLP/JSON)",
)
OTLP_PROTO = Format(
    "otlp_proto",
    _SOURCES,
    _detect_proto,
    _decode_proto,
    "OpenTelemetry Collector kafka exporter, encoding otlp_proto (its default; binary)",
)
