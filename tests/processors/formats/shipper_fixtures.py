"""The documented payloads of the JSON shippers (fixtures/<format>/, cited in each folder's
README.md) and what they decode to; shared by test_vector, test_fluentbit, test_filebeat
and test_falco.

A fixture is ``<case>.json``, one Kafka message value as the shipper writes it, and one
``<case>.<source>.expected.json`` per topic it may arrive on: the list of native
records' fields it decodes to there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.formats import NOT_JSON, Payload
from processors.records import SOURCE_MODELS
from streams.codec import Rejected
from streams.ingest import decode_sample

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Case:
    name: str  # <case>.<source>
    payload: Payload
    source: str
    expected: list[dict[str, Any]]


def payload_of(raw: bytes) -> Payload:
    try:
        return Payload(raw, orjson.loads(raw))
    except orjson.JSONDecodeError:
        return Payload(raw, NOT_JSON)


def message(folder: str, case: str) -> Payload:
    return payload_of((FIXTURES / folder / f"{case}.json").read_bytes().rstrip(b"\n"))


def cases(folder: str) -> list[Any]:
    """pytest params, one per expected file of ``folder``."""
    out = []
    for expected in sorted((FIXTURES / folder).glob("*.expected.json")):
        case, source = expected.name.removesuffix(".expected.json").rsplit(".", 1)
        records = orjson.loads(expected.read_bytes())
        out.append(pytest.param(Case(f"{case}.{source}", message(folder, case), source, records)))
    return out


def payloads(folder: str) -> list[Any]:
    """pytest params, one per message of ``folder``."""
    return [
        pytest.param(message(folder, path.stem), id=path.stem)
        for path in sorted((FIXTURES / folder).glob("*.json"))
        if not path.name.endswith(".expected.json")
    ]


def others(folder: str) -> list[Any]:
    """pytest params: every message of the other formats' fixture folders (theirs
    included, whatever their layout: one value per file, or one per line)."""
    out = []
    for path in sorted(FIXTURES.glob("*/*")):
        if path.parent.name == folder or path.name == "README.md":
            continue
        if path.name.endswith(".expected.json"):
            continue
        raw = path.read_bytes()
        whole = payload_of(raw.strip())
        lines = [raw.strip()] if whole.obj is not None else raw.splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip():
                name = f"{path.parent.name}/{path.name}:{number}"
                out.append(pytest.param(payload_of(line.strip()), id=name))
    return out


def ingested(source: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as ingest validates a format's output (streams/ingest.py ``_native``):
    a metric sample through ``decode_sample``, others through their source's model."""
    out = []
    for record in records:
        if source == "metric":
            sample = decode_sample(record)
            assert not isinstance(sample, Rejected), sample
            out.append(sample)
        else:
            out.append(SOURCE_MODELS[source].model_validate(record).model_dump())
    return out
