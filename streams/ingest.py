"""Input topics → validated records, or a dead-letter reason.

Each input topic has a source name (the ``source:`` of rules) and a model. A metrics
record is either one sample or a batch (``"samples": [...]``), which expands into
samples. Timestamps outside ``[now - max_age, now + max_future_skew]`` are rejected
as ``timestamp_out_of_range``: a clock far off would otherwise hold windows open or
close them early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from streams.codec import Rejected, load_object, rejected_for_validation
from streams.schemas import (
    HealthCheck,
    LogRecord,
    MetricBatch,
    MetricSample,
    OpsEvent,
    SecurityEvent,
    Signal,
    format_ts,
)

# topic role (settings.topic_<role>) → rule source
SOURCES = {
    "metrics": "metric",
    "logs": "log",
    "security": "security",
    "health": "health",
    "events": "event",
    # Read back only when a rule is on ``source: signal`` (anomaly signals; see
    # processors.anomaly_feed); the firehose skips the topic otherwise.
    "signals": "signal",
}
_MODELS: dict[str, type[BaseModel]] = {
    "log": LogRecord,
    "security": SecurityEvent,
    "health": HealthCheck,
    "event": OpsEvent,
    "signal": Signal,
}


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


def decode_input(
    source: str, raw: bytes | None, limits: Limits, now_ms: int
) -> list[dict[str, Any]] | Rejected:
    """One Kafka value → its records' fields (several for a metric batch; each has
    ``ts_ms``), or why not."""
    data = load_object(raw, limits.max_record_bytes)
    if isinstance(data, Rejected):
        return data
    try:
        if source == "metric":
            if "samples" in data:
                records = MetricBatch.model_validate(data).expand()
            else:
                records = [as_mapping(MetricSample.model_validate(data))]
        elif source == "signal":
            records = [signal_fields(Signal.model_validate(data))]
        else:
            records = [as_mapping(_MODELS[source].model_validate(data))]
    except ValidationError as exc:
        return rejected_for_validation(exc)
    low, high = now_ms - limits.max_age_ms, now_ms + limits.max_future_skew_ms
    for record in records:
        ts_ms: int = record["ts_ms"]
        if ts_ms > high:
            return Rejected(
                "timestamp_out_of_range",
                f"ts {format_ts(ts_ms)} is more than {limits.max_future_skew_ms // 1000}s "
                f"in the future (now {format_ts(now_ms)}); check the producer's clock",
            )
        if ts_ms < low:
            return Rejected(
                "timestamp_out_of_range",
                f"ts {format_ts(ts_ms)} is more than {limits.max_age_ms // 1000}s old "
                f"(now {format_ts(now_ms)})",
            )
    return records
