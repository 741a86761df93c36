"""What every JSON shipper's format must do with the documented payloads of
fixtures/<format>/ (shipper_fixtures.py): decode each to exactly its expected records,
which ingest accepts; recognise each; take no other shipper's payload and no native
record for its own."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processors.formats import Format, Payload
from processors.formats.falco import FALCO
from processors.formats.filebeat import FILEBEAT
from processors.formats.fluentbit import FLUENTBIT
from processors.formats.vector import VECTOR_JSON

from .shipper_fixtures import Case, cases, ingested, others, payload_of, payloads

FORMATS = {"vector": VECTOR_JSON, "fluentbit": FLUENTBIT, "filebeat": FILEBEAT, "falco": FALCO}
NATIVE = [
    {"ts": "2026-01-01T00:00:00Z", "name": "system.cpu.utilization", "value": 0.9, "host": "h"},
    {"ts_ms": 1, "host": "h", "severity_text": "ERROR", "body": "boom"},
    {"ts": 1, "event": {"category": "authentication"}, "source": {"ip": "192.0.2.1"}},
]


def _each(of: Any) -> list[Any]:
    return [
        pytest.param(FORMATS[folder], *param.values, id=f"{folder}-{param.id or i}")
        for folder in FORMATS
        for i, param in enumerate(of(folder))
    ]


@pytest.mark.parametrize(("fmt", "case"), _each(cases))
def test_each_documented_payload_decodes_to_its_expected_records(fmt: Format, case: Case) -> None:
    records = fmt.decode(case.payload, case.source)
    assert records == case.expected
    assert ingested(case.source, records)


@pytest.mark.parametrize(("fmt", "payload"), _each(payloads))
def test_every_documented_payload_is_recognised(fmt: Format, payload: Payload) -> None:
    assert fmt.detect(payload)


@pytest.mark.parametrize(("fmt", "payload"), _each(others))
def test_no_other_shippers_payload_is_taken_for_its_own(fmt: Format, payload: Payload) -> None:
    assert not fmt.detect(payload)


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=list(FORMATS))
@pytest.mark.parametrize("record", NATIVE)
def test_native_records_are_not_taken_for_a_shippers(fmt: Format, record: dict[str, Any]) -> None:
    assert not fmt.detect(payload_of(orjson.dumps(record)))
