"""What a check's answer means: the HealthCheck record (``ops.health``'s native shape)
of one run of a probe, from what came back. Pure; the shell measures and sends."""

from __future__ import annotations

from typing import Any, Literal

from processors.probes.targets import Probe

Status = Literal["pass", "warn", "fail"]
MAX_MESSAGE_CHARS = 512


def record(
    probe: Probe, status: Status, latency_ms: float, message: str, ts_ms: int, host: str
) -> dict[str, Any]:
    """The HealthCheck of one run; a pass slower than ``warn_latency`` is a warn."""
    if (
        status == "pass"
        and probe.warn_latency_ms is not None
        and latency_ms > probe.warn_latency_ms
    ):
        status = "warn"
        message = f"slow: {latency_ms:.0f} ms, over warn_latency {probe.warn_latency_ms} ms"
    out: dict[str, Any] = {
        "ts": ts_ms,
        "service": probe.service,
        "instance": probe.instance or probe.target,
        "check": probe.check or probe.name,
        "status": status,
        "latency_ms": round(latency_ms, 3),
        "host": host,
    }
    if status != "pass" and message:
        out["message"] = message[:MAX_MESSAGE_CHARS]
    return out


def http_status(probe: Probe, code: int, body: bytes, failure: str) -> tuple[Status, str]:
    """``failure``: why no answer came (a timeout, a refused connection)."""
    http = probe.http
    assert http is not None
    if failure:
        return "fail", failure
    expected = code in http.expect_status if http.expect_status else 200 <= code < 400
    if not expected:
        want = ", ".join(map(str, http.expect_status)) if http.expect_status else "2xx or 3xx"
        return "fail", f"HTTP {code}, expected {want}"
    if http.contains is not None and http.contains.encode() not in body:
        return "fail", f"HTTP {code}, but the body does not contain {http.contains!r}"
    return "pass", ""


def tcp_status(failure: str) -> tuple[Status, str]:
    return ("fail", failure) if failure else ("pass", "")


def command_status(code: int, stdout: bytes, failure: str) -> tuple[Status, str]:
    """A monitoring plugin's exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (failed)."""
    if failure:
        return "fail", failure
    first = stdout.decode("utf-8", "replace").strip().splitlines()[:1]
    text = first[0] if first else ""
    if code == 0:
        return "pass", text
    if code == 1:
        return "warn", text or "exit code 1 (warning)"
    return "fail", text or f"exit code {code}"
