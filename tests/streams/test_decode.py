"""opsrules decode: one message value per line in, native records out, bad lines named."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.decode import run_decode
from streams.settings import load_settings

GOOD = b'{"ts": 1795899240, "name": "system.cpu.utilization", "value": 0.5, "host": "a"}'


def decode(text: bytes, topic: str = "metrics", fmt: str | None = None) -> tuple[int, list]:  # type: ignore[type-arg]
    out = io.StringIO()
    code = run_decode(load_settings(), topic, fmt, io.BytesIO(text), out)
    return code, [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_records_come_out_one_json_object_per_line_with_rfc3339_times() -> None:
    code, records = decode(GOOD + b"\n\n" + GOOD.replace(b'"a"', b'"b"') + b"\n")
    assert code == 0
    assert [(r["ts"], r["host"], r["value"]) for r in records] == [
        ("2026-11-28T20:54:00.000Z", "a", 0.5),
        ("2026-11-28T20:54:00.000Z", "b", 0.5),
    ]


def test_a_bad_line_is_named_on_stderr_and_the_rest_still_decodes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, records = decode(b"not json\n" + GOOD + b'\n{"ts": 1, "host": "a"}\n')
    assert code == 1
    assert [r["host"] for r in records] == ["a"]
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("line 1: malformed_json: ")
    assert err[1].startswith("line 3: invalid_schema: field 'name'")


def test_an_unknown_format_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = decode(GOOD, fmt="graphite-ish")
    assert code == 2
    assert "unknown format 'graphite-ish' for --topic metrics; one of: auto, native" in (
        capsys.readouterr().err
    )


def test_logs_decode_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b'{"ts": "2026-12-01T10:00:00Z", "severity_text": "ERROR", "body": "x"}\n')
    assert main(["decode", "--topic", "logs", str(path)]) == 0
    (record,) = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["ts"], record["severity_number"], record["body"]) == (
        "2026-12-01T10:00:00.000Z",
        17,
        "x",
    )


def test_a_missing_file_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--topic", "logs", "/nonexistent/x.jsonl"]) == 2
    assert "/nonexistent/x.jsonl: No such file or directory" in capsys.readouterr().err


def test_a_topic_format_setting_must_be_one_the_topic_reads() -> None:
    with pytest.raises(Exception, match="unknown format 'influx' for the metrics topic"):
        load_settings(format_metrics="influx")
    assert load_settings(format_logs="native").topic_format("logs") == "native"
