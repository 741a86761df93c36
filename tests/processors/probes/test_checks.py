"""What a probe's answer means, as a HealthCheck record."""

from __future__ import annotations

from typing import Any

import pytest

from processors.probes.checks import command_status, http_status, record, tcp_status
from processors.probes.targets import Probe
from processors.records import HealthCheck


def probe(**fields: Any) -> Probe:
    return Probe.model_validate({"name": "p", "service": "checkout", **fields})


HTTP = probe(http={"url": "http://127.0.0.1:8080/healthz"})


@pytest.mark.parametrize(
    ("code", "body", "failure", "expected"),
    [
        (200, b"ok", "", ("pass", "")),
        (302, b"", "", ("pass", "")),
        (503, b"down", "", ("fail", "HTTP 503, expected 2xx or 3xx")),
        (0, b"", "no answer within 5s", ("fail", "no answer within 5s")),
    ],
)
def test_http_answers(code: int, body: bytes, failure: str, expected: tuple[str, str]) -> None:
    assert http_status(HTTP, code, body, failure) == expected


def test_http_expectations_of_status_and_body() -> None:
    strict = probe(http={"url": "http://h/", "expect_status": [200, 204], "contains": '"up"'})
    assert http_status(strict, 302, b"", "") == ("fail", "HTTP 302, expected 200, 204")
    assert http_status(strict, 200, b'{"status": "up"}', "") == ("pass", "")
    assert http_status(strict, 200, b"{}", "") == (
        "fail",
        "HTTP 200, but the body does not contain '\"up\"'",
    )


@pytest.mark.parametrize(
    ("code", "stdout", "expected"),
    [
        (0, b"DISK OK - free space: / 40%\nperfdata", ("pass", "DISK OK - free space: / 40%")),
        (1, b"DISK WARNING - 15% free\n", ("warn", "DISK WARNING - 15% free")),
        (2, b"DISK CRITICAL\n", ("fail", "DISK CRITICAL")),
        (3, b"", ("fail", "exit code 3")),
    ],
)
def test_a_command_reads_as_a_monitoring_plugin(
    code: int, stdout: bytes, expected: tuple[str, str]
) -> None:
    assert command_status(code, stdout, "") == expected


def test_tcp_and_records() -> None:
    db = probe(tcp={"host": "127.0.0.1", "port": 5432}, warn_latency="100ms")
    assert tcp_status("") == ("pass", "")
    status, message = tcp_status("127.0.0.1:5432: Connection refused")
    made = record(db, status, 1.5, message, 1_000, "probe-1")
    assert made == {
        "ts": 1_000,
        "service": "checkout",
        "instance": "127.0.0.1:5432",  # what it checks, by default
        "check": "p",  # the probe's name, by default
        "status": "fail",
        "latency_ms": 1.5,
        "host": "probe-1",
        "message": "127.0.0.1:5432: Connection refused",
    }
    slow = record(db, "pass", 250.0, "", 1_000, "probe-1")
    assert (slow["status"], slow["message"]) == ("warn", "slow: 250 ms, over warn_latency 100 ms")
    assert HealthCheck.model_validate(made).status == "fail"  # the native shape
