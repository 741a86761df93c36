"""``opsrules act`` with a real worker (decision tier only; window signals written to the
signals topic): a heal whose command fails is reported failed, the engine escalates it
to an incident, and act delivers the incident; after K failed heals the circuit breaker
holds the next one back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from processors.records import Signal
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics
from streams.worker_process import start_command, start_worker, stop_worker
from tests.conftest import isolated_settings
from tests.integration.test_act import Hook, hook  # noqa: F401  (the fixture)
from tests.kafka_io import consume, produce, run

pytestmark = pytest.mark.integration

M = 60_000

RULES = """
rules:
  - id: queue_stuck
    source: metric
    match: name == "queue"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {target: queue-consumer}
        circuit_breaker: {failures: 2, cool_off: 1h}
        verify:
          after: 30m
          escalate: {type: incident, severity: critical}
"""

RECEIVERS = """
receivers:
  - name: restart
    command: {argv: ["false"], timeout: 10s}
  - name: page
    webhook: {url: "%s/page"}
route:
  receiver: page
  routes:
    - match: {type: heal}
      receiver: restart
"""


@dataclass
class Loop:
    settings: OpsrulesSettings
    start_ms: int

    def fire(self, host: str, minute: int) -> None:
        start = self.start_ms + minute * M
        signal = Signal(
            id=f"q-{host}-{minute}",
            kind="window",
            key=host,
            rules=["queue_stuck"],
            group={"host": host},
            ts_ms=start + M,
            window_start_ms=start,
            values={"count": 1.0, "max": 5.0},
        )
        topic = self.settings.topic(self.settings.topic_signals)
        run(produce(self.settings, topic, [(signal.key, signal.model_dump_json().encode())]))

    def results_of(
        self, receiver: str, count: int, timeout_s: float = 60
    ) -> list[dict[str, object]]:
        """The results of ``receiver``, once there are ``count``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [r for r in self.records("actions_results", count) if r["receiver"] == receiver]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, found

    def records(self, role: str, expect: int) -> list[dict[str, object]]:
        topic = self.settings.topic(getattr(self.settings, f"topic_{role}"))
        found = run(consume(self.settings, topic, expect=expect, settle_s=1.0))
        return [r.json() for r in found]


@pytest.fixture
def loop(kafka_bootstrap: str, tmp_path: Path, hook: Hook) -> Iterator[Loop]:  # noqa: F811
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "loop.yaml").write_text(RULES)
    (tmp_path / "receivers.yaml").write_text(RECEIVERS % hook.url)
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules, commit_interval_ms=200)
    run(ensure_topics(settings))
    worker = start_worker(settings, "--no-firehose", log=tmp_path / "worker.log")
    receivers = str(tmp_path / "receivers.yaml")
    act = start_command(settings, "act", "--receivers", receivers, log=tmp_path / "act.log")
    try:
        yield Loop(settings, (int(time.time() * 1000) // M + 1) * M)
    finally:
        assert stop_worker(act) == 0, (tmp_path / "act.log").read_text()[-3000:]
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]


def test_a_failed_heal_escalates_to_an_incident_that_act_delivers(loop: Loop, hook: Hook) -> None:  # noqa: F811
    loop.fire("app-1", 0)
    [heal] = loop.records("actions_heal", expect=1)
    [result] = [
        r for r in loop.records("actions_results", expect=1) if r["action_id"] == heal["id"]
    ]
    assert (result["status"], result["receiver"]) == ("failed", "restart")
    assert result["error"] == "exit code 1"
    [incident] = loop.records("actions_incident", expect=1)
    assert incident["fingerprint"] == heal["fingerprint"]
    assert incident["decision"]["detail"]["escalates"] == heal["id"]  # type: ignore[index]
    [page] = hook.wait_for("/page", 1)
    assert orjson.loads(page["body"])["id"] == incident["id"]
    assert page["headers"]["Idempotency-Key"] == incident["id"]


def test_two_failed_heals_open_the_breaker_for_the_third(loop: Loop, hook: Hook) -> None:  # noqa: F811
    for n, host in enumerate(["app-1", "app-2"]):
        loop.fire(host, n)
        results = loop.results_of("restart", n + 1)
        assert [r["status"] for r in results] == ["failed"] * (n + 1)
    loop.fire("app-3", 2)
    decisions = loop.records("decisions", expect=3)
    third = [d for d in decisions if d.get("action_type") == "heal" and "app-3" in str(d)]
    assert third and third[-1]["outcome"] == "suppressed", third
    assert third[-1]["reason"] == "circuit_open"
    assert len(loop.records("actions_heal", expect=2)) == 2
