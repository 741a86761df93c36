"""A deterministic corpus of hostile Kafka values for each input topic, to mix into a
valid stream: every value is either rejected with a reason or, when it is valid, harmless
(a metric, service, check or category that no shipped rule reads, stamped with the
event time of the valid record it follows, so it moves no watermark)."""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson

Make = Callable[[random.Random, int], bytes | None]

# Valid-looking bodies per role; ``ts`` is filled in. No shipped rule reads these.
HARMLESS: dict[str, dict[str, object]] = {
    "metrics": {"name": "fuzz.metric", "value": 0.5, "host": "fuzz-host"},
    "logs": {"service": "fuzz-svc", "severity_text": "INFO", "severity_number": 9, "body": "x"},
    "security": {"event.category": "fuzz", "event.outcome": "success", "source.ip": "10.0.0.9"},
    "health": {"service": "fuzz-svc", "instance": "i-1", "check": "http", "status": "pass"},
    "events": {"type": "fuzz", "entity": "fuzz-svc", "status": "succeeded"},
    # Signals are never harmless when valid (they name rules): only broken ones here.
    "signals": {"id": "fuzz", "kind": "window", "source": "metric"},
}


def _with(role: str, ts: object, **fields: object) -> bytes:
    return orjson.dumps({"ts": ts, **HARMLESS[role], **fields})


def _text(role: str, ts: int) -> str:
    return _with(role, ts).decode()


MAKERS: dict[str, Make] = {
    "deep_nesting": lambda r, ts: b"[" * 5000 + b"]" * 5000,
    "deep_objects": lambda r, ts: b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "ts_1e30": lambda r, ts: b'{"ts": 1e30, "name": "fuzz.metric", "value": 1, "host": "h"}',
    "ts_zero": lambda r, ts: b'{"ts": 0, "name": "fuzz.metric", "value": 1, "host": "h"}',
    "ts_negative": lambda r, ts: b'{"ts": -5, "name": "fuzz.metric", "value": 1, "host": "h"}',
    "ts_micros": lambda r, ts: b'{"ts": %d, "name": "m", "value": 1, "host": "h"}' % (ts * 1000),
    "ts_year_9999": lambda r, ts: b'{"ts": "9999-12-31T23:59:59Z", "body": "x"}',
    "ts_no_zone": lambda r, ts: b'{"ts": "2026-01-01T00:00:00", "name": "m", "value": 1}',
    "ts_bool": lambda r, ts: b'{"ts": true, "name": "m", "value": 1, "host": "h"}',
    "nan": lambda r, ts: _text("metrics", ts).replace("0.5", "NaN").encode(),
    "infinity": lambda r, ts: _text("metrics", ts).replace("0.5", "-Infinity").encode(),
    "1e400": lambda r, ts: _text("metrics", ts).replace("0.5", "1e400").encode(),
    "huge_int": lambda r, ts: _text("metrics", ts).replace("0.5", "9" * 5000).encode(),
    "lone_surrogate": lambda r, ts: b'{"ts": %d, "body": "\\ud800", "service": "s"}' % ts,
    "surrogate_bytes": lambda r, ts: b'{"ts": %d, "body": "\xed\xa0\x80"}' % ts,
    "nul_raw": lambda r, ts: b'{"ts": %d, "body": "a\x00b"}' % ts,
    "not_utf8": lambda r, ts: b'{"ts": %d, "body": "\xff\xfe"}' % ts,
    "utf16": lambda r, ts: _text("logs", ts).encode("utf-16"),
    "bom": lambda r, ts: b"\xef\xbb\xbf" + _with("logs", ts),
    "array_top": lambda r, ts: b"[" + _with("metrics", ts) + b"]",
    "string_top": lambda r, ts: b'"just a string"',
    "number_top": lambda r, ts: b"42",
    "null_top": lambda r, ts: b"null",
    "empty": lambda r, ts: b"",
    "whitespace": lambda r, ts: b"   \n ",
    "tombstone": lambda r, ts: None,
    "truncated": lambda r, ts: _with("metrics", ts)[: r.randrange(1, 40)],
    "random_bytes": lambda r, ts: r.randbytes(r.randrange(1, 300)),
    "labels_array": lambda r, ts: _with("metrics", ts, labels=["a", "b"]),
    "labels_nested": lambda r, ts: _with("metrics", ts, labels={"a": {"b": 1}}),
    "samples_object": lambda r, ts: orjson.dumps({"ts": ts, "host": "h", "samples": {"a": 1}}),
    "samples_empty": lambda r, ts: orjson.dumps({"ts": ts, "host": "h", "samples": []}),
    "value_bool": lambda r, ts: _with("metrics", ts, value=True, name="fuzz.bool"),
    "value_text": lambda r, ts: _with("metrics", ts, value="hot"),
    "host_number": lambda r, ts: _with("metrics", ts, host=12),
    "name_empty": lambda r, ts: _with("metrics", ts, name=""),
    "status_bad": lambda r, ts: _with("health", ts, status="dead"),
    "severity_text": lambda r, ts: _with("logs", ts, severity_number="high"),
    "duplicate_keys": lambda r, ts: b'{"ts": %d, "ts": "x", "value": 1}' % ts,
    "trailing_garbage": lambda r, ts: _with("metrics", ts) + b" trailing",
    "too_large": lambda r, ts: b'{"pad": "' + b"x" * 70_000 + b'"}',
}

# Valid and harmless, per topic role: processed, and changing no action.
HARMLESS_VALID: dict[str, dict[str, Make]] = {
    "metrics": {
        "ok_numbers_as_strings": lambda r, ts: _with("metrics", str(ts), value="0.25"),
        "ok_huge_labels": lambda r, ts: _with(
            "metrics", ts, labels={f"k{i}": "v" * 8 for i in range(2000)}
        ),
    },
    "logs": {
        "ok_ts_rfc3339_offset": lambda r, ts: _with("logs", _rfc3339_plus_14(ts)),
        "ok_nul_escaped": lambda r, ts: _with("logs", ts, body="a\u0000b\u2028"),
    },
    "health": {"ok_ts_nanos": lambda r, ts: _with("health", ts * 1_000_000)},
    "events": {
        "ok_ts_seconds_float": lambda r, ts: _with("events", ts / 1000),
        "ok_unicode": lambda r, ts: _with("events", ts, note="\u00fc \u20ac \U0001f600"),
    },
    "security": {"ok_ecs_arrays": lambda r, ts: _with("security", ts, **{"event.type": ["x"]})},
}


def _rfc3339_plus_14(ts_ms: int) -> str:
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(timezone(timedelta(hours=14)))
    return moment.isoformat(timespec="milliseconds")


def hostile(role: str, rng: random.Random, ts_ms: int) -> tuple[str, bytes | None]:
    """One hostile value for ``role``'s topic, stamped near ``ts_ms``: ``(kind, value)``."""
    makers = {**MAKERS, **HARMLESS_VALID.get(role, {})}
    kind = rng.choice(sorted(makers))
    return kind, makers[kind](rng, ts_ms)
