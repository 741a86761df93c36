"""Vector's ``kafka`` sink with ``encoding.codec = "json"`` or ``"native_json"``: log and
metric events (https://vector.dev/docs/reference/configuration/sinks/kafka/).

The shapes are Vector's serde of its events (``lib/vector-core/src/event/metric/``
``{data,value,tags}.rs``, ``lib/codecs/src/encoding/format/{json,native_json}.rs``):

- ``json``, a log: the event's fields. Every source sets ``timestamp`` (RFC 3339, ns) and
  ``source_type``; most set ``message`` and ``host``; the rest is the source's own
  (``file``; syslog's ``appname``, ``hostname``, ``severity``; ``kubernetes_logs``'
  ``kubernetes`` and ``stream``).
- ``json``, a metric: ``name``, ``namespace``?, ``tags``?, ``timestamp``?,
  ``interval_ms``?, ``kind`` (``absolute`` | ``incremental``) and exactly one value:
  ``counter{value}``, ``gauge{value}``, ``set{values}``,
  ``distribution{samples: [{value, rate}], statistic}``,
  ``aggregated_histogram{buckets: [{upper_limit, count}], count, sum}``,
  ``aggregated_summary{quantiles: [{quantile, value}], count, sum}``,
  ``sketch{AgentDDSketch: {bins, count, min, max, sum, avg}}``. A tag's value is a
  string, null (a bare tag) or, with ``metric_tag_values = "full"``, a list of them.
- ``native_json``: the same objects wrapped, ``{"log": {…}}`` or ``{"metric": {…}}``.

A log becomes a LogRecord: ``message`` the body, ``host`` the host, ``service`` from a
``service`` key, else syslog's ``appname``, ``kubernetes.container_name``, docker's
``container_name``, journald's ``SYSLOG_IDENTIFIER``; severity from a ``level`` or
``severity`` key (syslog's ``severity`` is a word), else journald's ``PRIORITY``, else
INFO 9; every other key under
``attributes`` (json_fields.py says why).

A metric becomes samples named ``<namespace>_<name>`` (host_metrics.py adds the
canonical host samples), on the host of ``tags.host``, labelled with the other tags and
``kind``: a counter's or gauge's value; a set's size; for a distribution
``<name>_count`` (the sum of rates), ``_sum`` (of value × rate), ``_min`` and ``_max``;
for a histogram or summary ``_count`` and ``_sum``, and a summary's quantiles under the
name itself with a ``quantile`` label (Prometheus's convention); for a sketch
``_count``, ``_sum``, ``_min``, ``_max``. A histogram's buckets are not sent on: Vector
has counted them cumulatively in some versions and per bucket in others
(``samples_to_buckets``), so no rule could read them safely. An incremental counter is
the increase since Vector's last report; an absolute one the running total (the ``kind``
label tells them apart). The running totals, an absolute counter and an absolute
histogram's or summary's ``_count`` and ``_sum`` (as a Prometheus scrape gives them),
are marked ``"cumulative": True``: the firehose follows each with its per-second rate
``<name>.rate`` (processors/firehose/counter_rates.py). Distributions and sketches are
not marked: they are normally incremental, and an absolute one is left as sent.
"""

from __future__ import annotations

from typing import Any

from processors.formats import Format, FormatError, Payload, host_metrics
from processors.formats.json_fields import (
    first_level,
    log_record,
    number_of,
    object_of,
    string_at,
    take_string,
    text_of,
    ts_ms_of,
)

KINDS = ("absolute", "incremental")
VALUES = (
    "counter",
    "gauge",
    "set",
    "distribution",
    "aggregated_histogram",
    "aggregated_summary",
    "sketch",
)
LEVEL_KEYS = ("level", "severity")
# Where a Vector source puts the program's name (after a ``service`` key): syslog's
# ``appname``, kubernetes_logs', docker_logs', journald's.
SERVICE_PATHS = (
    ("appname",),
    ("kubernetes", "container_name"),
    ("container_name",),
    ("SYSLOG_IDENTIFIER",),
)

Statistic = tuple[str, float, dict[str, str]]  # (name suffix, value, extra labels)
# The statistics (name suffixes) of an absolute metric that are running totals, by value.
RUNNING_TOTALS = {
    "counter": ("",),
    "aggregated_histogram": ("_count", "_sum"),
    "aggregated_summary": ("_count", "_sum"),
}


def detect(payload: Payload) -> bool:
    """A ``native_json`` wrapper, a metric (``kind`` + ``name``), or a log (``source_type``
    + ``timestamp``, which every Vector source sets)."""
    obj = payload.obj
    if obj is None:
        return False
    if len(obj) == 1:
        return isinstance(obj.get("log"), dict) or isinstance(obj.get("metric"), dict)
    if obj.get("kind") in KINDS and "name" in obj:
        return True
    return "source_type" in obj and "timestamp" in obj


def decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    obj = payload.obj
    if obj is None:
        raise FormatError("a Vector event is a JSON object")
    where = ""
    if len(obj) == 1 and ("log" in obj or "metric" in obj):  # native_json
        ((wrapper, inner),) = obj.items()
        event = object_of(inner, wrapper)
        is_metric, where = wrapper == "metric", f"{wrapper}."
    else:
        event = obj
        is_metric = "name" in event and (
            event.get("kind") in KINDS or any(key in event for key in VALUES)
        )
    if is_metric:
        if source != "metric":
            raise FormatError(
                f"a Vector metric event on a {source} topic: point the sink that sends "
                "metrics at the metrics topic"
            )
        return _metric(event, where)
    if source != "log":
        raise FormatError(
            f"a Vector log event on a {source} topic: point the sink that sends logs at "
            "the logs topic"
        )
    return [_log(event, where)]


def _log(event: dict[str, Any], where: str) -> dict[str, Any]:
    ts_ms = ts_ms_of(event.get("timestamp"), f"{where}timestamp")
    rest = dict(event)
    del rest["timestamp"]
    body = text_of(rest.pop("message", None))
    host = take_string(rest, "host") or string_at(rest, "hostname")
    level_key, severity = first_level(rest, LEVEL_KEYS)
    if level_key is not None:
        del rest[level_key]
    service = take_string(rest, "service") or next(
        (found for path in SERVICE_PATHS if (found := string_at(rest, *path))), None
    )
    return log_record(
        ts_ms=ts_ms, body=body, host=host, service=service, severity=severity, attributes=rest
    )


def _metric(event: dict[str, Any], where: str) -> list[dict[str, Any]]:
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise FormatError(f"field '{where}name': expected the metric's name, got {name!r}")
    namespace = event.get("namespace")
    if isinstance(namespace, str) and namespace:
        name = f"{namespace}_{name}"
    elif namespace is not None:
        raise FormatError(f"field '{where}namespace': expected a string, got {namespace!r}")
    ts_ms = ts_ms_of(event.get("timestamp"), f"{where}timestamp")
    kind = event.get("kind")
    if kind not in KINDS:
        raise FormatError(f"field '{where}kind': expected absolute or incremental, got {kind!r}")
    labels = _tags(event.get("tags"), f"{where}tags")
    host = labels.pop("host", "")
    if not host:
        raise FormatError(
            f"field '{where}tags.host': required (samples are keyed by host); host_metrics "
            "sets it, elsewhere add it in a remap transform: .tags.host = get_hostname!()"
        )
    labels["kind"] = kind
    key = _value_key(event)
    totals = RUNNING_TOTALS.get(key, ()) if kind == "absolute" else ()
    out = []
    for suffix, value, extra in _statistics(event, key, f"{where}{key}"):
        tags = {**labels, **extra} if extra else labels
        own = name + suffix
        for sample_name, sample_value, sample_labels in host_metrics.vector(own, value, tags):
            sample = {
                "ts_ms": ts_ms,
                "name": sample_name,
                "value": sample_value,
                "host": host,
                "labels": sample_labels,
            }
            if suffix in totals and sample_name == own:  # not a canonical host sample
                sample["cumulative"] = True
            out.append(sample)
    return out


def _tags(tags: object, field: str) -> dict[str, str]:
    """Tag values as strings: a bare tag (null) is "", a list (``metric_tag_values =
    "full"``) its last string, as Vector's own single-value view reads it."""
    if tags is None:
        return {}
    out: dict[str, str] = {}
    for key, value in object_of(tags, field).items():
        if isinstance(value, str):
            out[key] = value
        elif value is None:
            out[key] = ""
        elif isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
            out[key] = next((v for v in reversed(value) if v is not None), "")
        else:
            raise FormatError(
                f"field '{field}.{key}': expected a string, null or a list of them, got {value!r}"
            )
    return out


def _value_key(event: dict[str, Any]) -> str:
    present = [key for key in VALUES if key in event]
    if len(present) != 1:
        found = ", ".join(present) or "none"
        raise FormatError(
            f"a Vector metric has exactly one of {', '.join(VALUES)} (found: {found})"
        )
    return present[0]


def _statistics(event: dict[str, Any], key: str, field: str) -> list[Statistic]:
    value = object_of(event[key], field)
    if key in ("counter", "gauge"):
        return [("", number_of(value.get("value"), f"{field}.value"), {})]
    if key == "set":
        values = value.get("values")
        if not isinstance(values, list):
            raise FormatError(f"field '{field}.values': expected a list, got {values!r}")
        return [("", float(len(values)), {})]
    if key == "distribution":
        return _distribution(value.get("samples"), f"{field}.samples")
    if key == "sketch":
        return _sketch(value, field)
    out: list[Statistic] = [
        ("_count", number_of(value.get("count"), f"{field}.count"), {}),
        ("_sum", number_of(value.get("sum"), f"{field}.sum"), {}),
    ]
    if key == "aggregated_summary":
        quantiles = value.get("quantiles")
        if not isinstance(quantiles, list):
            raise FormatError(f"field '{field}.quantiles': expected a list, got {quantiles!r}")
        for index, item in enumerate(quantiles):
            at = f"{field}.quantiles.{index}"
            item = object_of(item, at)
            q = number_of(item.get("quantile"), f"{at}.quantile")
            out.append(("", number_of(item.get("value"), f"{at}.value"), {"quantile": f"{q:g}"}))
    return out


def _distribution(samples: object, field: str) -> list[Statistic]:
    if not isinstance(samples, list):
        raise FormatError(f"field '{field}': expected a list, got {samples!r}")
    count = total = 0.0
    seen: list[float] = []
    for index, sample in enumerate(samples):
        sample = object_of(sample, f"{field}.{index}")
        value = number_of(sample.get("value"), f"{field}.{index}.value")
        rate = number_of(sample.get("rate"), f"{field}.{index}.rate")
        count += rate
        total += value * rate
        if rate > 0:
            seen.append(value)
    out: list[Statistic] = [("_count", count, {}), ("_sum", total, {})]
    if seen:
        out += [("_min", min(seen), {}), ("_max", max(seen), {})]
    return out


def _sketch(value: dict[str, Any], field: str) -> list[Statistic]:
    if len(value) != 1 or not isinstance(value.get("AgentDDSketch"), dict):
        raise FormatError(f"field '{field}': expected {{\"AgentDDSketch\": {{…}}}}")
    sketch, at = value["AgentDDSketch"], f"{field}.AgentDDSketch"
    count = number_of(sketch.get("count"), f"{at}.count")
    out: list[Statistic] = [("_count", count, {})]
    if count > 0:  # an empty sketch's min and max are f64::MAX and f64::MIN
        out += [
            (f"_{stat}", number_of(sketch.get(stat), f"{at}.{stat}"), {})
            for stat in ("sum", "min", "max")
        ]
    else:
        out.append(("_sum", 0.0, {}))
    return out


VECTOR_JSON = Format(
    "vector_json",
    frozenset({"metric", "log"}),
    detect,
    decode,
    "Vector's kafka sink, encoding.codec json or native_json: logs and metrics",
)
