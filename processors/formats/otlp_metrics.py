"""OTLP metrics (an ``ExportMetricsServiceRequest`` in OTLP/JSON's shape) as native
metric samples: one message fans out into a sample per data point.

Follows opentelemetry-proto's ``metrics.proto`` (resource → scope → metric → data
points). Each sample has:

- ``name``: the metric's name, through :func:`host_metrics.otel` (the hostmetrics
  receiver's CPU and memory points of other states move to ``<name>.<state>``);
- ``ts_ms``: the point's ``timeUnixNano`` (required; not set is an error), truncated to ms;
- ``host``: the resource's ``host.name``, else ``service.instance.id``, else
  ``service.name`` (the hostmetrics receiver sets none of them: the resourcedetection
  processor adds ``host.name``); ``service``: ``service.name``; ``unit``: the metric's;
- ``labels``: the resource's other attributes, then the point's attributes over them
  (the more specific wins), as text (``true``/``false``, decimal numbers, lists and maps
  as JSON), as the Collector's ``resource_to_telemetry_conversion`` does; then ours over
  both: a sum's ``temporality`` (``delta``/``cumulative``) and ``monotonic``
  (``true``/``false``), a histogram's ``temporality``. Scope names are not kept;
- ``cumulative``: ``True`` on a sample that is a running total, which the firehose
  follows with its per-second rate ``<name>.rate`` (processors/firehose/counter_rates.py):
  the points of a cumulative monotonic sum, and the ``.count`` and ``.sum`` of a
  cumulative histogram or exponential histogram and of a summary (metrics.proto: a
  summary's count and sum are cumulative, and a distribution's sum is set only for
  non-negative values, so it never decreases). Absent otherwise: delta and
  non-monotonic sums, gauges, ``.min``, ``.max``, quantiles and buckets (a rule reads
  one series at a time, a bucket's rate alone says little, and each would hold a series
  of state).

Histograms give ``<name>.count``, ``<name>.sum``, ``<name>.min``, ``<name>.max`` (each
when set) and, as the Collector's Prometheus translation does, a ``<name>.bucket`` per
explicit bound with the bound in label ``le`` and the count of values at or below it,
then ``le="+Inf"`` with the point's count; counts past the bounds are not read (the
official example, examples/metrics.json, sends three counts for one bound). Exponential
histograms give count, sum, min and max (their up to 320 buckets are not expanded);
summaries give count, sum and ``<name>`` per quantile with label ``quantile``. Counts
have no unit. A point flagged ``FLAG_NO_RECORDED_VALUE`` (a staleness marker) carries no
value and gives no sample; a metric of a data type this module does not know gives none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from processors.formats import FormatError, host_metrics
from processors.formats.otlp_common import (
    HOST_NAME,
    SERVICE_INSTANCE,
    SERVICE_NAME,
    at,
    double,
    each,
    int64,
    items,
    labels,
    objects,
    resource_of,
    scopes,
    text,
    uint64,
)

Records = list[dict[str, Any]]
_NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK
_TEMPORALITY = {
    1: "delta",
    2: "cumulative",
    "AGGREGATION_TEMPORALITY_DELTA": "delta",
    "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative",
}


class _Series(NamedTuple):
    """What a metric's points share: its name and unit, the resource's identity, and the
    labels every point carries (the resource's) and that go over each point's (ours)."""

    name: str
    unit: str | None
    host: str
    service: str | None
    shared: dict[str, str]
    ours: dict[str, str]
    cumulative: bool  # its points (a sum) or their count and sum are running totals


def decode_metrics(export: dict[str, Any]) -> Records:
    """An export's samples, in order; a FormatError names the path of what is wrong."""
    out: Records = []
    each(export, "resourceMetrics", lambda resource_metrics: _resource(resource_metrics, out))
    return out


def _resource(resource_metrics: dict[str, Any], out: Records) -> None:
    attributes = resource_of(resource_metrics.get("resource"))
    host = attributes.get(HOST_NAME) or attributes.get(SERVICE_INSTANCE)
    host = host or attributes.get(SERVICE_NAME)
    if not host:
        raise FormatError(
            "resource: no host.name resource attribute; add the resourcedetection "
            "processor (detectors: [system]) to the Collector's metrics pipeline"
        )
    service = attributes.get(SERVICE_NAME)
    host, service = text(host), None if service is None else text(service)
    shared = {k: text(v) for k, v in attributes.items() if k != HOST_NAME and k != SERVICE_NAME}

    def scope_metrics(scope: dict[str, Any]) -> None:
        each(scope, "metrics", lambda metric: _metric(metric, host, service, shared, out))

    each(resource_metrics, scopes(resource_metrics, "Metrics"), scope_metrics)


def _metric(
    metric: dict[str, Any], host: str, service: str | None, shared: dict[str, str], out: Records
) -> None:
    name, unit = metric.get("name"), metric.get("unit") or None
    if name.__class__ is not str or not name:
        raise FormatError(f"name: {name!r} is not a metric name")
    if unit is not None and unit.__class__ is not str:
        raise FormatError(f"unit: {unit!r} is not a string")
    kind = next((k for k in _KINDS if metric.get(k) is not None), None)
    if kind is None:
        return  # no data, or a data type newer than this module
    data, one = metric[kind], _KINDS[kind]
    try:
        if data.__class__ is not dict:
            raise FormatError(f"expected an object, got {data!r}")
        ours = {}
        cumulative = kind == "summary"
        if kind in ("sum", "histogram", "exponentialHistogram"):
            ours["temporality"] = _temporality(data.get("aggregationTemporality"))
            cumulative = ours["temporality"] == "cumulative"
        if kind == "sum":
            monotonic = data.get("isMonotonic") is True
            ours["monotonic"] = "true" if monotonic else "false"
            cumulative = cumulative and monotonic
        series = _Series(name, unit, host, service, shared, ours, cumulative)
        each(data, "dataPoints", lambda point: one(point, series, out))
    except FormatError as exc:
        raise at(kind, exc) from None


def _temporality(value: Any) -> str:
    hashable = value.__class__ in (int, str, float)  # a list or an object is no enum
    found = _TEMPORALITY.get(value) if hashable else None
    if found is None:
        raise FormatError(
            f"aggregationTemporality: {value!r} is neither 1 (delta) nor 2 (cumulative)"
        )
    return found


def _time_ms(point: dict[str, Any]) -> int:
    ns = point.get("timeUnixNano")
    if ns.__class__ is int and ns > 0:
        return ns // 1_000_000
    if ns is None or ns == 0 or ns == "0":
        raise FormatError("timeUnixNano: not set; every data point has its time")
    return uint64(ns, "timeUnixNano") // 1_000_000


def _labels(point: dict[str, Any], series: _Series) -> dict[str, str] | None:
    """The point's labels, or None for a point without a value."""
    flags = point.get("flags")
    if flags and flags.__class__ is int and flags & _NO_RECORDED_VALUE:
        return None
    kvs = point.get("attributes")
    if kvs.__class__ is not list:
        kvs = items(point, "attributes")
    found = labels(kvs, "attributes", series.shared)
    if series.ours:
        found.update(series.ours)
    return found


def _number(point: dict[str, Any], series: _Series, out: Records) -> None:
    found = _labels(point, series)
    if found is None:
        return
    value = point.get("asDouble")
    if value.__class__ is not float:
        if value is not None:
            value = double(value, "asDouble")
        elif "asInt" in point:
            value = float(int64(point["asInt"], "asInt"))
        else:
            raise FormatError("no asDouble or asInt; a number data point has one")
    ts_ms, host, service, unit = _time_ms(point), series.host, series.service, series.unit
    for name, reading, labelled in host_metrics.otel(series.name, value, found):
        out.append(_sample(ts_ms, name, reading, host, service, unit, labelled, series.cumulative))


def _histogram(point: dict[str, Any], series: _Series, out: Records) -> None:
    found = _labels(point, series)
    if found is None:
        return
    ts_ms, name = _time_ms(point), series.name
    total = _statistics(point, ts_ms, series, found, out)
    counts = items(point, "bucketCounts")
    if not counts:
        return
    bounds = items(point, "explicitBounds")
    below, host, service = 0, series.host, series.service
    for index, (count, bound) in enumerate(zip(counts, bounds, strict=False)):
        below += uint64(count, f"bucketCounts[{index}]")
        le = {**found, "le": _bound(double(bound, f"explicitBounds[{index}]"))}
        out.append(_sample(ts_ms, f"{name}.bucket", float(below), host, service, None, le))
    every = {**found, "le": "+Inf"}
    out.append(_sample(ts_ms, f"{name}.bucket", total, host, service, None, every))


def _exponential(point: dict[str, Any], series: _Series, out: Records) -> None:
    found = _labels(point, series)
    if found is not None:
        _statistics(point, _time_ms(point), series, found, out)


def _summary(point: dict[str, Any], series: _Series, out: Records) -> None:
    found = _labels(point, series)
    if found is None:
        return
    ts_ms = _time_ms(point)
    _statistics(point, ts_ms, series, found, out)
    for index, quantile in objects(point, "quantileValues"):
        where = f"quantileValues[{index}]"
        q = double(quantile.get("quantile", 0), f"{where}.quantile")
        value = double(quantile.get("value", 0), f"{where}.value")
        labelled = {**found, "quantile": _bound(q)}
        out.append(
            _sample(ts_ms, series.name, value, series.host, series.service, series.unit, labelled)
        )


def _statistics(
    point: dict[str, Any], ts_ms: int, series: _Series, found: dict[str, str], out: Records
) -> float:
    """A distribution's ``.count`` (required; 0 when not set), and ``.sum``, ``.min``,
    ``.max`` when set; the count."""
    name, host, service, unit = series.name, series.host, series.service, series.unit
    count = float(uint64(point.get("count", 0), "count"))
    counter = series.cumulative
    out.append(_sample(ts_ms, f"{name}.count", count, host, service, None, found, counter))
    for field in ("sum", "min", "max"):
        if field in point:
            value = double(point[field], field)
            total = counter and field == "sum"
            labelled = dict(found)
            out.append(
                _sample(ts_ms, f"{name}.{field}", value, host, service, unit, labelled, total)
            )
    return count


def _sample(
    ts_ms: int,
    name: str,
    value: float,
    host: str,
    service: str | None,
    unit: str | None,
    labelled: dict[str, str],
    cumulative: bool = False,
) -> dict[str, Any]:
    sample = {
        "ts_ms": ts_ms,
        "name": name,
        "value": value,
        "host": host,
        "service": service,
        "unit": unit,
        "labels": labelled,
    }
    if cumulative:
        sample["cumulative"] = True
    return sample


def _bound(bound: float) -> str:
    """A bucket bound or quantile as Prometheus writes it: ``1``, ``0.005``, ``+Inf``."""
    if bound in (float("inf"), float("-inf")):
        return "+Inf" if bound > 0 else "-Inf"
    if bound.is_integer() and abs(bound) < 1e15:
        return str(int(bound))
    return repr(bound)


_KINDS: dict[str, Callable[[dict[str, Any], _Series, Records], None]] = {
    "gauge": _number,
    "sum": _number,
    "histogram": _histogram,
    "exponentialHistogram": _exponential,
    "summary": _summary,
}
