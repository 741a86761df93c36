"""auto: every documented payload of every format is recognised as that format, on each
topic it may arrive on, and native records stay native."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.formats import NOT_JSON, Payload
from processors.formats.registry import FOREIGN, FORMATS, NATIVE, format_names, recognise

FIXTURES = Path(__file__).parent / "fixtures"

# fixture files → (format, the sources it is read on); a file holds one message, or one
# per line (``per_line``)
LAYOUT: list[tuple[str, str, frozenset[str], bool]] = [
    ("telegraf/*.influx", "telegraf_influx", frozenset({"metric"}), False),
    ("telegraf/docker.json", "telegraf_json", frozenset({"metric"}), True),
    ("telegraf/host.json", "telegraf_json", frozenset({"metric"}), True),
    ("otlp/metrics.json", "otlp_json", frozenset({"metric"}), False),
    ("otlp/hostmetrics.json", "otlp_json", frozenset({"metric"}), False),
    ("otlp/logs.json", "otlp_json", frozenset({"log"}), False),
    ("collectd/json.txt", "collectd_json", frozenset({"metric"}), True),
    ("collectd/graphite.txt", "collectd_graphite", frozenset({"metric"}), True),
    ("syslog/rfc5424.log", "syslog", frozenset({"log"}), True),
    ("syslog/file_formats.log", "syslog", frozenset({"log"}), True),
    ("syslog/json_templates.jsonl", "syslog_json", frozenset({"log"}), True),
    ("falco/*.json", "falco", frozenset({"security", "log"}), False),
    ("filebeat/*.json", "filebeat", frozenset({"log", "security"}), False),
    ("fluentbit/*.json", "fluentbit", frozenset({"log"}), False),
    ("vector/*.json", "vector_json", frozenset(), False),  # sources from expected files
]


def _payload(raw: bytes) -> Payload:
    try:
        return Payload(raw, orjson.loads(raw))
    except orjson.JSONDecodeError:
        return Payload(raw, NOT_JSON)


def _vector_sources(path: Path) -> frozenset[str]:
    found = {p.name.split(".")[-3] for p in path.parent.glob(f"{path.stem}.*.expected.json")}
    return frozenset(found)


def _cases() -> list[Any]:
    out = []
    for pattern, name, sources, per_line in LAYOUT:
        for path in sorted(FIXTURES.glob(pattern)):
            if path.name.endswith(".expected.json"):
                continue
            on = sources or _vector_sources(path)
            raw = path.read_bytes()
            lines = raw.splitlines() if per_line else [raw.strip()]
            for number, line in enumerate(lines, 1):
                if not line.strip() or line.startswith(b"#"):
                    continue
                for source in sorted(on):
                    case_id = f"{path.parent.name}/{path.name}:{number}:{source}"
                    out.append(pytest.param(_payload(line.strip()), name, source, id=case_id))
    return out


@pytest.mark.parametrize(("payload", "name", "source"), _cases())
def test_each_documented_payload_is_recognised_as_its_format(
    payload: Payload, name: str, source: str
) -> None:
    found = recognise(payload, source)
    assert found is not None and found.name == name


def test_every_format_is_known_by_its_name_and_on_its_sources() -> None:
    assert [f.name for f in FOREIGN] == [n for n in FORMATS if n != "native"]
    for fmt in FOREIGN:
        for source in fmt.sources:
            assert fmt.name in format_names(source)


@pytest.mark.parametrize("source", ["metric", "log", "security", "health", "event"])
def test_a_native_record_is_native_on_every_topic(source: str) -> None:
    payload = _payload(b'{"ts": 1795899240, "name": "x", "message": "y", "rule": "z"}')
    assert recognise(payload, source) is NATIVE
