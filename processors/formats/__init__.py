"""Producer formats: what shippers write to Kafka, read as our native records.

A :class:`Format` recognises one shipper's payload by its shape (``detect``) and turns
it into the fields of native records (``decode``): the JSON objects our own producers
send (processors/records.py: ``MetricSample``, ``LogRecord``, ``SecurityEvent``…),
which ingest then validates like any other record, so a foreign value passes the same
checks (finite values, time range, sizes) and gets the same dead-letter reasons. One
message may fan out into many records (an OTLP export, a Telegraf line with several
fields). Decoders are pure: bytes in, dicts out; no clock, no state.

``registry.py`` lists the formats each source reads and recognises a payload's format
(``auto``); each format is one module of this package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processors.errors import OpsrulesError


class FormatError(OpsrulesError, ValueError):
    """A payload of a known format that does not decode; the message says what is wrong
    where (``line 2: field 'usage_idle': …``)."""


class NotJson:
    """The ``data`` of a payload that is not JSON (line protocol, syslog lines)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON = NotJson()


@dataclass(frozen=True, slots=True)
class Payload:
    """One Kafka message value: its bytes, and its JSON value when it parsed as JSON."""

    raw: bytes
    data: Any  # the parsed JSON value, or NOT_JSON

    @property
    def obj(self) -> dict[str, Any] | None:
        """The JSON object, if the value is one."""
        return self.data if isinstance(self.data, dict) else None


@dataclass(frozen=True, slots=True)
class Format:
    """One producer's format: its name (``OPSRULES_FORMAT_<TOPIC>``), the sources it
    feeds, how to recognise a payload of it, and how to decode one into native records'
    fields (raising :class:`FormatError`)."""

    name: str
    sources: frozenset[str]
    detect: Callable[[Payload], bool]
    decode: Callable[[Payload, str], list[dict[str, Any]]]  # (payload, source)
    description: str = ""
