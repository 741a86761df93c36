"""Telegraf's ``[[outputs.kafka]]``, read as metric samples: its default
``data_format = "influx"`` (line protocol, ``line_protocol.py``) and ``data_format =
"json"`` (``{"fields": {…}, "name": …, "tags": {…}, "timestamp": …}``, and the batch
form ``{"metrics": […]}``; https://docs.influxdata.com/telegraf/v1/data_formats/output/).

- Each numeric field is one sample, ``<measurement>.<field>`` with its value as sent,
  plus the canonical sample of the host metrics ``host_metrics.py`` maps (``cpu``
  ``usage_idle`` → ``system.cpu.utilization``…). Integers and unsigned integers become
  floats; booleans 1.0 and 0.0. String fields are skipped (a sample is a number), and so
  are JSON fields that are objects or arrays (``json_nested_fields_include``); a message
  with no numeric field at all is an error.
- ``host`` is the ``host`` tag, which Telegraf adds unless ``omit_hostname = true``; the
  other tags are the sample's labels.
- Time: line protocol carries nanoseconds (Telegraf's serializer always writes them);
  JSON an integer in ``json_timestamp_units`` (default ``1s``), or with
  ``json_timestamp_format`` a formatted time, read when it is RFC 3339. Epoch numbers
  are told apart by magnitude (:func:`epoch_ms`), so any unit of 1s, 1ms, 1us or 1ns
  reads right; ``10ms`` and ``100ms`` (centi-, deciseconds) do not. A point without a
  time is an error: a pure decoder has no clock to stamp it with.
- One Kafka message is one metric (``outputs.kafka`` serializes metrics one by one), but
  a line-protocol message may hold several lines (``influx_max_line_bytes`` splits a
  metric into lines; producers may batch) and a JSON one the batch form: all are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from processors.formats import NOT_JSON, Format, FormatError, Payload
from processors.formats import host_metrics as hm
from processors.formats.line_protocol import is_line_protocol, parse_lines
from processors.timestamps import parse_ts_ms

_NO_HOST = "no host tag; Telegraf's omit_hostname must be false, or set a host tag"
_NO_NUMBER = "no numeric field (string fields are skipped: a sample is a number)"


def epoch_ms(number: int) -> int:
    """Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude
    (below 1e11 seconds, 1e14 milliseconds, 1e17 microseconds: each bound is the year
    5138 in its unit), as epoch milliseconds, rounded down. Nanoseconds before 1973
    would read as microseconds: no real clock sends them."""
    size = -number if number < 0 else number
    if size < 100_000_000_000:
        return number * 1000
    if size < 100_000_000_000_000:
        return number
    if size < 100_000_000_000_000_000:
        return number // 1000
    return number // 1_000_000


def _samples(
    measurement: str,
    tags: dict[str, str],
    fields: Iterable[tuple[str, Any]],
    ts_ms: int,
    out: list[dict[str, Any]],
) -> str | None:
    """Append a point's samples to ``out``; what is wrong with it, if anything (``tags``
    is the point's own dict: its ``host`` is taken out)."""
    host = tags.pop("host", None)
    for key, value in fields:
        kind = type(value)
        if kind is not float and kind is not int and kind is not bool:
            continue  # a string, or in JSON an object, an array, null
        if host is None:
            return _NO_HOST
        for name, number, labels in hm.telegraf(measurement, key, float(value), tags):
            out.append(
                {"ts_ms": ts_ms, "name": name, "value": number, "host": host, "labels": labels}
            )
    return None


def decode_influx(payload: Payload, source: str) -> list[dict[str, Any]]:
    """A line-protocol message → its samples; FormatError ``line N: …`` at a bad line."""
    try:
        text = payload.raw.decode()
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 (byte {exc.start}); line protocol is UTF-8") from None
    out: list[dict[str, Any]] = []
    for number, point in parse_lines(text):
        if point.timestamp is None:
            raise FormatError(
                f"line {number}: no timestamp; a decoder has no clock to stamp the point "
                "with: remove influx_omit_timestamp from Telegraf's outputs.kafka"
            )
        wrong = _samples(
            point.measurement, point.tags, point.fields, epoch_ms(point.timestamp), out
        )
        if wrong is not None:
            raise FormatError(f"line {number}: {wrong}")
    if not out:
        raise FormatError(_NO_NUMBER)
    return out


def detect_influx(payload: Payload) -> bool:
    """Not JSON, and the first line that is not blank nor a comment is line protocol (a
    timestamp and a host tag aside: decoding names what they lack)."""
    if payload.data is not NOT_JSON:
        return False
    for raw_line in payload.raw.split(b"\n", 64)[:64]:  # a header of comments, at most
        line = raw_line.rstrip(b"\r").lstrip(b" ")
        if not line or line.startswith(b"#"):
            continue
        # Cheap first: a measurement, a space, an '=' after it.
        space = line.find(b" ")
        if space <= 0 or line.find(b"=", space) < 0:
            return False
        try:
            return is_line_protocol(line.decode())
        except UnicodeDecodeError:
            return False
    return False


def decode_json(payload: Payload, source: str) -> list[dict[str, Any]]:
    """A JSON metric, or the batch form's metrics → their samples; FormatError naming the
    metric (``metric 2: …``) and the part that is wrong."""
    obj = payload.obj
    if obj is None:
        raise FormatError("a Telegraf JSON metric is an object")
    out: list[dict[str, Any]] = []
    if "fields" not in obj and isinstance(obj.get("metrics"), list):
        for index, metric in enumerate(obj["metrics"], 1):
            try:
                _json_metric(metric, out)
            except FormatError as exc:
                raise FormatError(f"metric {index}: {exc}") from None
    else:
        _json_metric(obj, out)
    if not out:
        raise FormatError(_NO_NUMBER)
    return out


def _json_metric(metric: Any, out: list[dict[str, Any]]) -> None:
    if not isinstance(metric, dict):
        raise FormatError("a metric is an object with fields, name, tags and timestamp")
    name, fields, tags = metric.get("name"), metric.get("fields"), metric.get("tags", {})
    if not isinstance(name, str) or not name:
        raise FormatError("'name' (the measurement) must be a non-empty string")
    if not isinstance(fields, dict):
        raise FormatError(f"{name}: 'fields' must be an object")
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise FormatError(f"{name}: 'tags' must be an object of strings")
    wrong = _samples(name, dict(tags), fields.items(), _json_ts_ms(name, metric), out)
    if wrong is not None:
        raise FormatError(f"{name}: {wrong}")


def _json_ts_ms(name: str, metric: dict[str, Any]) -> int:
    """``timestamp``: epoch in ``json_timestamp_units`` (by magnitude) or RFC 3339."""
    stamp = metric.get("timestamp")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        return epoch_ms(stamp)
    if isinstance(stamp, float):
        return round(stamp * 1000) if abs(stamp) < 1e11 else epoch_ms(int(stamp))
    if isinstance(stamp, str):
        try:
            return parse_ts_ms(stamp)
        except ValueError:
            pass
    if stamp is None:
        raise FormatError(f"{name}: no timestamp; Telegraf's JSON serializer writes one")
    raise FormatError(
        f"{name}: timestamp {stamp!r} is neither epoch time nor RFC 3339; leave "
        'json_timestamp_format unset, or set it to "2006-01-02T15:04:05Z07:00"'
    )


def detect_json(payload: Payload) -> bool:
    """A JSON object with ``name``, ``fields`` (an object) and ``timestamp``, or a
    ``metrics`` list whose first item is one."""
    obj = payload.obj
    if obj is None:
        return False
    metrics = obj.get("metrics")
    if "fields" not in obj and isinstance(metrics, list) and metrics:
        obj = metrics[0]
        if not isinstance(obj, dict):
            return False
    return (
        isinstance(obj.get("name"), str)
        and isinstance(obj.get("fields"), dict)
        and ("timestamp" in obj)
    )


TELEGRAF_INFLUX = Format(
    "telegraf_influx",
    frozenset({"metric"}),
    detect_influx,
    decode_influx,
    'Telegraf outputs.kafka, data_format = "influx" (line protocol, the default)',
)
TELEGRAF_JSON = Format(
    "telegraf_json",
    frozenset({"metric"}),
    detect_json,
    decode_json,
    'Telegraf outputs.kafka, data_format = "json"',
)
