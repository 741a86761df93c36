"""Input topics → validated records, or a dead-letter reason.

Each input topic has a source name (the ``source:`` of rules) and a model. A metrics
record is either one sample or a batch (``"samples": [...]``), which expands into
samples. Timestamps outside ``[now - max_age, now + max_future_skew]`` are rejected
as ``timestamp_out_of_range``: a clock far off would otherwise hold windows open or
close them early.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic wants this one on Python < 3.12

from processors.formats import NOT_JSON, FormatError, Payload
from processors.formats.registry import FORMATS, NATIVE, recognise
from processors.records import SOURCE_MODELS, Signal
from processors.timestamps import format_ts, parse_ts_ms
from streams.codec import MAX_NESTING, Rejected, load_object, rejected_for_validation, too_deep

# topic role (settings.topic_<role>) → rule source
SOURCES = {
    "metrics": "metric",
    "logs": "log",
    "security": "security",
    "health": "health",
    "events": "event",
    # Read back only when a rule is on ``source: signal`` (anomaly signals; see
    # processors.firehose.anomaly_feed); the firehose skips the topic otherwise.
    "signals": "signal",
}
# Levels of objects and arrays a producer's record may nest: half of what the codec reads,
# so that a signal carrying the record (a level or two deeper) is read back too.
MAX_INPUT_NESTING = MAX_NESTING // 2


@dataclass(frozen=True, slots=True)
class Limits:
    max_record_bytes: int
    max_future_skew_ms: int
    max_age_ms: int


def as_mapping(record: BaseModel) -> dict[str, Any]:
    """The record's fields (and extra fields) for expressions."""
    extra = record.__pydantic_extra__
    return {**record.__dict__, **extra} if extra else record.__dict__


def signal_fields(signal: Signal) -> dict[str, Any]:
    """A signal as rules on ``source: signal`` see it: its fields, with its group and
    values also at the top level (``metric``, ``host``, ``score``…)."""
    return {**signal.values, **signal.group, **signal.__dict__}


class _BatchSampleFields(TypedDict):
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    ts: NotRequired[Any]
    ts_ms: NotRequired[int]
    cumulative: NotRequired[StrictBool]


class _MetricBatchFields(TypedDict):
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    ts: NotRequired[Any]
    ts_ms: NotRequired[int]
    host: Annotated[str, Field(min_length=1, max_length=255)]
    service: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    samples: Annotated[list[_BatchSampleFields], Field(min_length=1, max_length=100_000)]


_METRIC_BATCH: TypeAdapter[_MetricBatchFields] = TypeAdapter(_MetricBatchFields)


class _MetricSampleFields(TypedDict):
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    ts: NotRequired[Any]
    ts_ms: NotRequired[int]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: NotRequired[str | None]
    host: Annotated[str, Field(min_length=1, max_length=255)]
    service: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    cumulative: NotRequired[StrictBool]


_METRIC_SAMPLE: TypeAdapter[_MetricSampleFields] = TypeAdapter(_MetricSampleFields)
_METRIC_SAMPLES: TypeAdapter[list[_MetricSampleFields]] = TypeAdapter(list[_MetricSampleFields])


def decode_sample(data: dict[str, Any]) -> dict[str, Any] | Rejected:
    """``as_mapping(MetricSample.model_validate(data))`` without the model instance, as
    :func:`expand_batch` does for batches (measured: decoding was a quarter of the
    worker's time on one-sample records)."""
    try:
        sample: dict[str, Any] = dict(_METRIC_SAMPLE.validate_python(data))
    except ValidationError as exc:
        return rejected_for_validation(exc)
    try:
        ts_ms = _ts_ms(sample)
    except ValueError as exc:
        return Rejected("invalid_schema", f"field 'ts': {exc}")
    sample.pop("ts", None)
    sample["ts_ms"] = ts_ms
    sample.setdefault("unit", None)
    sample.setdefault("service", None)
    sample.setdefault("labels", {})
    return sample


def expand_batch(data: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
    """``MetricBatch.model_validate(data).expand()``, validated by pydantic-core into
    plain dicts instead of a model per sample (measured: 0.76M → 1.43M samples/s decoded
    and expanded; the model path was 40% of the firehose's time on 50-sample batches).
    Same fields, limits and dead-letter reasons as :class:`MetricBatch` (a test holds
    the two paths to the same results)."""
    try:
        batch = _METRIC_BATCH.validate_python(data)
    except ValidationError as exc:
        return rejected_for_validation(exc)
    try:
        ts_ms = _ts_ms(batch)
    except ValueError as exc:
        return Rejected("invalid_schema", f"field 'ts': {exc}")
    host, service = batch["host"], batch.get("service")
    labels = batch.get("labels")
    out = []
    for index, sample in enumerate(batch["samples"]):
        own = sample.get("labels") or {}
        try:
            sample_ms = _ts_ms(sample, ts_ms)
        except ValueError as exc:
            return Rejected("invalid_schema", f"field 'samples.{index}.ts': {exc}")
        fields = {
            "ts_ms": sample_ms,
            "name": sample["name"],
            "value": sample["value"],
            "unit": sample.get("unit"),
            "host": host,
            "service": service,
            "labels": {**labels, **own} if labels else own,
        }
        if sample.get("cumulative") is True:
            fields["cumulative"] = True
        out.append(fields)
    return out


def _ts_ms(fields: Mapping[str, Any], default: int | None = None) -> int:
    if "ts_ms" in fields:
        return int(fields["ts_ms"])
    if "ts" in fields:
        return parse_ts_ms(fields["ts"])
    if default is None:
        raise ValueError("required: epoch s/ms/ns or RFC 3339")
    return default


def decode_input(
    source: str, raw: bytes | None, limits: Limits, now_ms: int, fmt: str = "auto"
) -> list[dict[str, Any]] | Rejected:
    """One Kafka value → its records' fields (several for a metric batch or a shipper's
    message that fans out; each has ``ts_ms``), or why not. ``fmt`` is the topic's
    format (``OPSRULES_FORMAT_<TOPIC>``): ``auto`` recognises it per record
    (processors/formats/registry.py), ``native`` reads only our own records."""
    data = load_object(raw, limits.max_record_bytes, max_nesting=None)
    if data.__class__ is dict and fmt == "auto":
        if "ts" in data or "ts_ms" in data or "samples" in data:
            # the registry's native rule (registry.is_native), inline: the hot path, one parse
            return _native(source, data, raw, limits, now_ms)
    elif fmt == "native" or source == "signal":
        return _native(source, data, raw, limits, now_ms)
    if isinstance(data, Rejected):
        if raw is None or data.reason == "too_large":
            return data
        payload = Payload(raw, _json_or_not(raw))
    else:
        payload = Payload(raw if raw is not None else b"", data)
    found = FORMATS.get(fmt) if fmt != "auto" else recognise(payload, source)
    if found is None or found is NATIVE:
        return _native(source, data, raw, limits, now_ms)
    try:
        items = found.decode(payload, source)
    except FormatError as exc:
        return Rejected("invalid_schema", f"{found.name}: {exc}")
    if not items:  # callers take a decoded message to hold at least one record
        return Rejected("invalid_schema", f"{found.name}: the message holds no records")
    if source == "metric":
        samples = _samples(items)
        if samples is not None:
            return _in_time(samples, limits, now_ms) or samples
    records: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        one = _native(source, item, None, limits, now_ms)
        if isinstance(one, Rejected):
            where = f"{found.name}, record {index + 1} of {len(items)}"
            return Rejected(one.reason, f"{where}: {one.message}")
        records.extend(one)
    return records


def _samples(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """A format's metric samples validated in one call (measured: one pydantic call per
    sample halved OTLP's samples/s); on any error the caller goes sample by sample to
    name the first bad one (None)."""
    try:
        # pydantic-core builds new dicts: they are ours to complete in place
        samples = cast(list[dict[str, Any]], _METRIC_SAMPLES.validate_python(items))
        for fields in samples:
            if "ts" in fields:
                if "ts_ms" not in fields:
                    fields["ts_ms"] = parse_ts_ms(fields["ts"])
                del fields["ts"]
            elif "ts_ms" not in fields:
                raise ValueError("required: epoch s/ms/ns or RFC 3339")
            if "unit" not in fields:
                fields["unit"] = None
            if "service" not in fields:
                fields["service"] = None
            if "labels" not in fields:
                fields["labels"] = {}
        return samples
    except (ValidationError, ValueError):
        return None


def _json_or_not(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return NOT_JSON


def _native(
    source: str,
    data: dict[str, Any] | Rejected,
    raw: bytes | None,
    limits: Limits,
    now_ms: int,
) -> list[dict[str, Any]] | Rejected:
    """A native record's fields (``raw``: the bytes it was parsed from, if any, for the
    nesting check's shortcut)."""
    if isinstance(data, Rejected):
        return data
    batch = source == "metric" and "samples" in data
    if not batch:  # a batch expands into flat samples: nothing of its own nests
        deep = too_deep(data, MAX_NESTING if source == "signal" else MAX_INPUT_NESTING, raw)
        if deep is not None:
            return deep
    try:
        if source == "metric":
            if batch:
                expanded = expand_batch(data)
                if isinstance(expanded, Rejected):
                    return expanded
                records = expanded
            else:
                decoded = decode_sample(data)
                if isinstance(decoded, Rejected):
                    return decoded
                records = [decoded]
        elif source == "signal":
            records = [signal_fields(Signal.model_validate(data))]
        else:
            records = [as_mapping(SOURCE_MODELS[source].model_validate(data))]
    except ValidationError as exc:
        return rejected_for_validation(exc)
    # the time check inline, not through _in_time: one call less on the hot path (measured)
    low, high = now_ms - limits.max_age_ms, now_ms + limits.max_future_skew_ms
    for record in records:
        ts_ms: int = record["ts_ms"]
        if ts_ms > high or ts_ms < low:
            return _out_of_time(ts_ms, limits, now_ms)
    return records


def _in_time(records: list[dict[str, Any]], limits: Limits, now_ms: int) -> Rejected | None:
    """Why the records are refused for their times, or None."""
    low, high = now_ms - limits.max_age_ms, now_ms + limits.max_future_skew_ms
    for record in records:
        ts_ms: int = record["ts_ms"]
        if ts_ms > high or ts_ms < low:
            return _out_of_time(ts_ms, limits, now_ms)
    return None


def _out_of_time(ts_ms: int, limits: Limits, now_ms: int) -> Rejected:
    if ts_ms > now_ms:
        return Rejected(
            "timestamp_out_of_range",
            f"ts {format_ts(ts_ms)} is more than {limits.max_future_skew_ms // 1000}s "
            f"in the future (now {format_ts(now_ms)}); check the producer's clock",
        )
    return Rejected(
        "timestamp_out_of_range",
        f"ts {format_ts(ts_ms)} is more than {limits.max_age_ms // 1000}s old "
        f"(now {format_ts(now_ms)})",
    )
