"""The decision side on a real broker, with a running worker (decision tier only, signals
written straight to the signals topic): silences made with the CLI, maintenance
windows, inhibition across partitions, budgets, and the verify-then-escalate loop with
an ActionResult written to the results topic."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka.partitioner import murmur2

from processors.ids import fingerprint
from processors.records import Signal
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics, firing_alerts_topic
from streams.worker_process import settings_env, start_worker
from tests.conftest import isolated_settings
from tests.kafka_io import Received, consume, produce, run

pytestmark = pytest.mark.integration

M = 60_000
PARTITIONS = 4

RULES = """
maintenance_windows:
  - name: db_patching
    cron: "{cron}"
    duration: 3m
    matchers: [host=db-9]
inhibit_rules:
  - name: host_down_mutes_disks
    source_matchers: [alertname=host_down]
    target_matchers: [alertname=disk_full]
    equal: [host]
rules:
  - id: cpu_hot
    source: metric
    match: name == "cpu"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host]
  - id: host_down
    source: metric
    match: name == "up"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host]
  - id: disk_full
    source: metric
    match: name == "disk"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host, service]
  - id: queue_stuck
    source: metric
    match: name == "queue"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {{command: restart, target: "{{{{ host }}}}"}}
        budgets: [{{max: 1, per: 1h}}]
        verify:
          after: 30m
          escalate: {{type: incident, severity: critical}}
"""


@dataclass
class Worker:
    settings: OpsrulesSettings
    log: Path
    start_ms: int  # a whole minute, a little ahead of the wall clock
    process: subprocess.Popen[bytes]

    def window(self, rule: str, group: dict[str, str], minute: int, value: float) -> Signal:
        start = self.start_ms + minute * M
        return Signal(
            id=f"{rule}-{'-'.join(group.values())}-{minute}",
            kind="window",
            key="|".join(group.values()),
            rules=[rule],
            group=group,
            ts_ms=start + M,
            window_start_ms=start,
            values={"count": 1.0, "max": value},
        )

    def send(self, *signals: Signal) -> None:
        topic = self.settings.topic(self.settings.topic_signals)
        run(produce(self.settings, topic, [(s.key, s.model_dump_json().encode()) for s in signals]))

    def records(self, topic: str, expect: int) -> list[Received]:
        found: list[Received] = run(consume(self.settings, topic, expect=expect, settle_s=1.0))
        return found

    def actions(self, kind: str, expect: int) -> list[dict[str, object]]:
        topic = self.settings.topic(f"ops.actions.{kind}")
        return [r.json() for r in self.records(topic, expect)]

    def decisions(self, key: str, expect: int) -> list[dict[str, object]]:
        topic = self.settings.topic(self.settings.topic_decisions)
        return [r.json() for r in self.records(topic, expect) if r.key == key][:expect]

    def wait_for_log(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.log.read_text()}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    folder = tmp_path_factory.mktemp("decisions")
    start_ms = (int(time.time() * 1000) // M + 1) * M
    opens = datetime.fromtimestamp((start_ms + 10 * M) / 1000, UTC)  # db_patching opens
    rules = folder / "rules"
    rules.mkdir()
    (rules / "features.yaml").write_text(RULES.format(cron=f"{opens.minute} {opens.hour} * * *"))
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules, partitions=PARTITIONS)
    run(ensure_topics(settings))
    log = folder / "worker.log"
    process = start_worker(settings, "--no-firehose", log=log)
    handle = Worker(settings, log, start_ms, process)
    try:
        handle.wait_for_log("restored")
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        assert code == 0, log.read_text()[-3000:]


def opsrules(settings: OpsrulesSettings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def partition_of(key: str) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def test_a_silence_added_with_the_cli_mutes_a_running_worker(worker: Worker) -> None:
    settings = worker.settings
    silence_id = opsrules(
        settings,
        "silence",
        "add",
        "--matcher",
        "host=web-1",
        "--matcher",
        "alertname=cpu_hot",
        "--duration",
        "2h",
        "--comment",
        "replacing a fan",
        "--created-by",
        "ci",
    ).strip()
    worker.wait_for_log(f"silence {silence_id}")
    listed = opsrules(settings, "silence", "list")
    assert silence_id in listed and "active" in listed and "replacing a fan" in listed

    worker.send(
        worker.window("cpu_hot", {"host": "web-1"}, 0, 2),
        worker.window("cpu_hot", {"host": "web-2"}, 0, 2),
    )
    alerts = worker.actions("alert", expect=1)
    assert [a["group"] for a in alerts] == [{"host": "web-2"}]
    (muted,) = worker.decisions(fingerprint("cpu_hot", {"host": "web-1"}), expect=1)
    assert muted["reason"] == "silenced"
    assert muted["suppressed_by"]["silence_id"] == silence_id  # type: ignore[index]
    assert muted["suppressed_by"]["comment"] == "replacing a fan"  # type: ignore[index]

    opsrules(settings, "silence", "expire", silence_id)
    assert silence_id not in opsrules(settings, "silence", "list")
    assert silence_id in opsrules(settings, "silence", "list", "--all")


def test_a_maintenance_window_mutes_until_it_closes(worker: Worker) -> None:
    group = {"host": "db-9"}
    # db_patching is open over minutes 10-12 (by event time); windows end a minute later
    worker.send(*(worker.window("cpu_hot", group, minute, 2) for minute in (9, 10, 11, 12)))
    key = fingerprint("cpu_hot", group)
    decisions = worker.decisions(key, expect=2)
    assert [(d["reason"], d["because"]) for d in decisions] == [
        ("maintenance", "firing"),
        (None, "unmuted"),  # still firing when the window closed
    ]
    assert decisions[0]["suppressed_by"]["maintenance_window"] == "db_patching"  # type: ignore[index]
    sent = [a for a in worker.actions("alert", expect=2) if a["fingerprint"] == key]
    assert [a["ts"] for a in sent] == [decisions[1]["ts"]]


def test_a_firing_alert_inhibits_one_on_another_partition(worker: Worker) -> None:
    source = {"host": "web-7"}
    service = next(
        s
        for s in ("api", "web", "db", "cache", "queue")
        if partition_of(f"web-7|{s}") != partition_of("web-7")
    )
    target = {"host": "web-7", "service": service}
    worker.send(worker.window("host_down", source, 20, 2))
    firing = worker.records(firing_alerts_topic(worker.settings), expect=1)
    source_key = fingerprint("host_down", source)
    assert any(r.key == source_key for r in firing)

    worker.send(worker.window("disk_full", target, 21, 2))
    (muted,) = worker.decisions(fingerprint("disk_full", target), expect=1)
    assert muted["reason"] == "inhibited"
    assert muted["suppressed_by"] == {  # type: ignore[comparison-overlap]
        "inhibit_rule": "host_down_mutes_disks",
        "inhibited_by": source_key,
        "source_rule": "host_down",
    }


def test_a_budget_holds_back_the_second_heal_and_a_failed_heal_escalates(worker: Worker) -> None:
    first, second = {"host": "app-1"}, {"host": "app-2"}
    worker.send(worker.window("queue_stuck", first, 30, 2))
    (heal,) = [h for h in worker.actions("heal", expect=1) if h["group"] == first]
    worker.send(worker.window("queue_stuck", second, 31, 2))
    (over,) = worker.decisions(fingerprint("queue_stuck", second), expect=1)
    assert over["reason"] == "budget"
    assert over["suppressed_by"] == {  # type: ignore[comparison-overlap]
        "budget": "1 per 1h",
        "by": "rule",
        "subject": "queue_stuck",
        "used": 1,
    }
    assert len(worker.actions("heal", expect=1)) == 1

    report = {
        "ts": worker.start_ms + 33 * M,
        "action_id": heal["id"],
        "status": "failed",
        "executor": "argv",
        "message": "exit status 1",
    }
    results = worker.settings.topic(worker.settings.topic_actions_results)
    run(produce(worker.settings, results, [(str(heal["id"]), orjson.dumps(report))]))
    (incident,) = worker.actions("incident", expect=1)
    assert incident["severity"] == "critical"
    assert incident["fingerprint"] == heal["fingerprint"]
    assert incident["decision"]["detail"]["escalates"] == heal["id"]  # type: ignore[index]
    assert "exit status 1" in incident["decision"]["detail"]["why"]  # type: ignore[index]
    assert incident["incident_id"] == incident["id"]
