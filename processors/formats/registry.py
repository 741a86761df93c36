"""The formats each source reads, and recognising a payload's format (``auto``).

Recognition goes by shape, cheapest first: a JSON object with ``ts`` or ``ts_ms`` (or a
metric batch's ``samples``) is native; otherwise the first foreign format of the source
that claims it; a JSON object no format claims is read as native, so that its errors
name the native fields it lacks. A value that is not JSON and that no line format claims
is malformed.
"""

from __future__ import annotations

from typing import Any, get_args

from processors.formats import Format, FormatError, Payload, collectd, syslog, syslog_json
from processors.formats.falco import FALCO
from processors.formats.filebeat import FILEBEAT
from processors.formats.fluentbit import FLUENTBIT
from processors.formats.otlp import OTLP_JSON, OTLP_PROTO
from processors.formats.telegraf import TELEGRAF_INFLUX, TELEGRAF_JSON
from processors.formats.vector import VECTOR_JSON
from processors.records import Source

ALL_SOURCES = frozenset(get_args(Source))


def is_native(payload: Payload) -> bool:
    """A JSON object with ``ts``, ``ts_ms`` or ``samples`` (streams/ingest.py tests the
    same, inline, on its hot path)."""
    obj = payload.obj
    return obj is not None and ("ts" in obj or "ts_ms" in obj or "samples" in obj)


def _native_decode(payload: Payload, source: str) -> list[dict[str, Any]]:
    obj = payload.obj
    if obj is None:
        raise FormatError("a native record is a JSON object")
    return [obj]


NATIVE = Format(
    "native",
    ALL_SOURCES,
    is_native,
    _native_decode,
    "opsrules' own records (processors/records.py)",
)

# Foreign formats in the order ``auto`` tries them: binary first (one byte compared for
# text), then JSON shapes from the most to the least specific, then text lines.
# Filebeat before Fluent Bit (both stamp ``@timestamp``); Fluent Bit, whose records are
# the loosest shape, last of the JSON objects.
FOREIGN: tuple[Format, ...] = (
    OTLP_PROTO,
    OTLP_JSON,
    TELEGRAF_JSON,
    VECTOR_JSON,
    FALCO,
    collectd.JSON,
    syslog_json.TEMPLATES,
    FILEBEAT,
    FLUENTBIT,
    TELEGRAF_INFLUX,
    collectd.GRAPHITE,
    syslog.LINES,
)

FORMATS: dict[str, Format] = {f.name: f for f in (NATIVE, *FOREIGN)}


def format_names(source: str) -> list[str]:
    """What ``OPSRULES_FORMAT_<TOPIC>`` may say for a topic of ``source``."""
    return ["auto", *(f.name for f in FORMATS.values() if source in f.sources)]


def recognise(payload: Payload, source: str) -> Format | None:
    """The format of ``payload`` on a topic of ``source``; None when it is not JSON and no
    line format claims it."""
    if is_native(payload):
        return NATIVE
    for candidate in FOREIGN:
        if source in candidate.sources and candidate.detect(payload):
            return candidate
    return NATIVE if payload.obj is not None else None
