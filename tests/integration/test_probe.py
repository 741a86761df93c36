"""opsrules probe on a real broker: its results are HealthChecks on the health topic,
keyed by service, and the shipped service_down rule (made quick: 5 s windows, no `for`)
fires in a real worker when the probed service stops answering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from processors.records import HealthCheck
from streams.topics import ensure_topics
from streams.worker_process import start_command, start_worker, stop_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.pipeline import collect_outputs
from tests.integration.test_real_shippers import _actions, everything, wait_for_actions
from tests.kafka_io import run

pytestmark = pytest.mark.integration


@pytest.fixture
def service() -> Iterator[dict[str, Any]]:
    """A service on 127.0.0.1 whose /healthz answers 200 until ``state["up"]`` is false."""
    state: dict[str, Any] = {"up": True}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if state["up"] else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/healthz"
    yield state
    httpd.shutdown()
    httpd.server_close()


def targets(path: Path, url: str) -> Path:
    path.write_text(
        "probes:\n"
        f'  - {{name: checkout_http, service: checkout, http: {{url: "{url}"}}, interval: 1s}}\n'
    )
    return path


def quick_service_down(directory: Path) -> None:
    """rules/services.yaml's service_down with 5 s windows (1 s grace) and no `for`."""
    shipped = yaml.safe_load((REPO / "rules" / "services.yaml").read_text())
    [rule] = [r for r in shipped["rules"] if r["id"] == "service_down"]
    rule["window"] = {**rule["window"], "size": "5s", "grace": "1s"}
    rule.pop("for")
    directory.mkdir()
    text = yaml.safe_dump({"macros": shipped["macros"], "rules": [rule]}, sort_keys=False)
    (directory / "services.yaml").write_text(text)


def test_probe_once_sends_one_health_check_per_probe(
    kafka_bootstrap: str, tmp_path: Path, service: dict[str, Any]
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    run(ensure_topics(settings))
    log = tmp_path / "probe.log"
    process = start_command(
        settings, "probe", "--targets", str(targets(tmp_path / "probes.yaml", service["url"])),
        "--once", log=log,
    )  # fmt: skip
    assert process.wait(timeout=60) == 0, log.read_text()
    [record] = everything(settings, settings.topic(settings.topic_health))
    assert record.key == "checkout"
    check = HealthCheck.model_validate_json(record.value)
    assert (check.service, check.check, check.status) == ("checkout", "checkout_http", "pass")
    assert "1 check(s) sent" in log.read_text()


def test_a_probed_service_that_stops_answering_fires_service_down(
    kafka_bootstrap: str, tmp_path: Path, service: dict[str, Any]
) -> None:
    quick_service_down(tmp_path / "rules")
    settings = isolated_settings(kafka_bootstrap, rules_dir=tmp_path / "rules")
    run(ensure_topics(settings))
    worker = start_worker(settings, log=tmp_path / "worker.log")
    probe = start_command(
        settings, "probe", "--targets", str(targets(tmp_path / "probes.yaml", service["url"])),
        log=tmp_path / "probe.log",
    )  # fmt: skip
    try:
        time.sleep(3)  # some passing checks first
        service["up"] = False
        wait_for_actions(settings, {("service_down", "heal"), ("service_down", "alert")})
    finally:
        assert stop_worker(probe) == 0, (tmp_path / "probe.log").read_text()[-3000:]
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    checks = [
        HealthCheck.model_validate_json(r.value)
        for r in everything(settings, settings.topic(settings.topic_health))
    ]
    assert {c.status for c in checks} == {"pass", "fail"}
    assert {c.message for c in checks if c.status == "fail"} == {"HTTP 503, expected 2xx or 3xx"}
    out = run(collect_outputs(settings))
    assert out.deadletters == []
    assert sorted(_actions(out)) == [
        ("service_down", "alert", "firing", {"service": "checkout"}),
        ("service_down", "heal", "firing", {"service": "checkout"}),
    ]
