"""opsrules probe's checks against servers and programs on this machine, and its
schedule, without Kafka (the dry-run sink prints the records)."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from processors.probes.targets import Probe
from processors.records import HealthCheck
from streams.probe import Prober, Sink, offset_s, probe_loop
from tests.conftest import isolated_settings


@pytest.fixture
def server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/healthz" else 503
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def probe(name: str, **kind: Any) -> Probe:
    return Probe.model_validate({"name": name, "service": "svc", **kind})


def run_once(probes: list[Probe]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with Prober(probes, "probe-host") as prober:
            return [await prober.run(p) for p in probes]

    return asyncio.run(go())


def test_each_kind_of_check_against_this_machine(server: str) -> None:
    port = closed_port()
    probes = [
        probe("up", http={"url": f"{server}/healthz", "contains": "ok"}),
        probe("down", http={"url": f"{server}/broken"}),
        probe("gone", http={"url": f"http://127.0.0.1:{port}/", "timeout": "2s"}),
        probe("listening", tcp={"host": "127.0.0.1", "port": int(server.rsplit(":", 1)[1])}),
        probe("refused", tcp={"host": "127.0.0.1", "port": port}),
        probe(
            "plugin",
            command={"argv": [sys.executable, "-c", "print('QUEUE WARNING 120'); exit(1)"]},
        ),
    ]
    results = run_once(probes)
    for result in results:
        HealthCheck.model_validate(result)  # the native shape
    got = {r["check"]: (r["status"], r.get("message", "")) for r in results}
    assert got["up"] == ("pass", "")
    assert got["down"] == ("fail", "HTTP 503, expected 2xx or 3xx")
    assert got["gone"][0] == "fail" and "ClientConnectorError" in got["gone"][1]
    assert got["listening"] == ("pass", "")
    assert got["refused"][0] == "fail" and f"127.0.0.1:{port}" in got["refused"][1]
    assert got["plugin"] == ("warn", "QUEUE WARNING 120")
    assert {r["host"] for r in results} == {"probe-host"}
    assert results[0]["instance"] == server.removeprefix("http://")


def test_the_loop_runs_each_probe_every_interval_until_stopped(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    probes = [probe("fast", http={"url": f"{server}/healthz"}, interval="1s")]
    settings = isolated_settings("127.0.0.1:1")  # a dry run sends nothing

    async def go() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(2.5 + offset_s(probes[0]), stop.set)
        async with Sink(settings, dry_run=True) as sink, Prober(probes, "h") as prober:
            return await probe_loop(probes, sink, prober, stop, once=False)

    runs = asyncio.run(go())
    printed = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert runs == len(printed) == 3  # at its offset, then 1 s and 2 s later
    assert {p["status"] for p in printed} == {"pass"}


def test_offsets_spread_probes_over_their_interval_and_stay_put() -> None:
    a, b = probe("a", tcp={"host": "h", "port": 1}), probe("b", tcp={"host": "h", "port": 1})
    assert 0 <= offset_s(a) < 30 and 0 <= offset_s(b) < 30
    assert offset_s(a) != offset_s(b)
    assert offset_s(a) == offset_s(probe("a", tcp={"host": "other", "port": 2}))
