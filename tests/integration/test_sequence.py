"""Sequences on a real broker with four partitions per topic and two workers: steps from
different topics, keyed by different things, meet on the signals topic by join key.

Security events are keyed by source address, metrics by host, so a host's steps start
on different partitions (and workers); each step is re-sent keyed by host, and the join
of that host happens in exactly one partition of ops.signals. The actions must be
exactly those of the offline run of the same records (same ids)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.rules.compiler import compile_rulebook
from processors.rules.loader import load_rules
from streams.firehose import FIREHOSE_GROUP
from streams.offline import run_offline
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic, ensure_topics
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import encode, send
from tests.kafka_io import Received, committed_offsets, consume, reader, run

pytestmark = pytest.mark.integration

S = 1000
M = 60 * S

RULES = """
rules:
  - id: cpu_then_intrusion
    type: sequence
    source: signal
    group_by: [host]
    sequence:
      ordered: true
      timeframe: 10m
      steps:
        - {source: metric, match: 'name == "system.cpu.utilization" and value > 0.95'}
        - source: security
          match: event.category == "intrusion_detection"
          fields: {host: host.name}
  # A window signal as a step: it reaches ops.signals a window (and a grace) after its
  # records, keyed by host, and is re-sent as a step by the signals router.
  - id: cpu_hot
    source: metric
    match: name == "system.cpu.utilization"
    window: {size: 1m, stat: max, grace: 5s}
    condition: value > 0.95
    group_by: [host]
  - id: hot_window_and_login
    type: sequence
    source: signal
    group_by: [host]
    sequence:
      ordered: false
      timeframe: 5m
      grace: 2m
      steps:
        - {source: signal, match: 'kind == "window" and "cpu_hot" in rules and values.max > 0.95'}
        - source: security
          match: event.category == "authentication" and event.outcome == "success"
          fields: {host: host.name}
"""

HOSTS = [f"h-{i}" for i in range(8)]


def records(start_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, Kafka key, value), in time order. h-0..h-3 complete cpu_then_intrusion;
    h-4: the intrusion first (wrong order); h-5: 11 minutes apart; h-6: CPU only;
    h-7: an intrusion only. Every host with hot CPU also logs in within 5 minutes
    after its hot minute, except h-6."""
    out: list[tuple[str, str, dict[str, Any]]] = []

    def cpu(at_ms: int, host: str, value: float) -> None:
        sample = {"ts": at_ms, "name": "system.cpu.utilization", "value": value, "host": host}
        out.append(("metrics", host, sample))

    def security(at_ms: int, host: str, ip: str, **fields: Any) -> None:
        out.append(("security", ip, {"ts": at_ms, "host.name": host, "source.ip": ip, **fields}))

    for i, host in enumerate(HOSTS):
        ip = f"203.0.113.{50 + i}"  # the security topic's key: not the host
        for minute in range(16):  # background: cool CPU every minute, on every host
            cpu(start_ms + minute * M + 5 * S, host, 0.3)
        hot_ms = start_ms + 2 * M + i * S
        if host != "h-7":
            cpu(hot_ms, host, 0.97)
        if host in ("h-0", "h-1", "h-2", "h-3"):
            security(hot_ms + (i + 1) * M, host, ip, **{"event.category": "intrusion_detection"})
        elif host == "h-4":
            security(hot_ms - M, host, ip, **{"event.category": "intrusion_detection"})
        elif host in ("h-5", "h-7"):
            security(hot_ms + 11 * M, host, ip, **{"event.category": "intrusion_detection"})
        if host != "h-6":
            login = {"event.category": "authentication", "event.outcome": "success"}
            security(hot_ms + 2 * M, host, ip, **login)
    out.sort(key=lambda r: int(r[2]["ts"]))
    return out


def expected_actions(settings: OpsrulesSettings, recs: list[tuple[str, str, Any]]) -> list[Any]:
    loaded = load_rules([settings.rules_dir])
    assert loaded.ok, [str(e) for e in loaded.errors]
    offline = run_offline(compile_rulebook(loaded.rules), [(r, v) for r, _, v in recs])
    return offline.actions


async def all_actions(settings: OpsrulesSettings, expect: int) -> list[Received]:
    topic = action_topic(settings, "alert")
    got = await consume(settings, topic, expect=expect, timeout_s=120, settle_s=5)
    for kind in ACTION_TYPES:
        if kind != "alert":
            got += await consume(settings, action_topic(settings, kind), expect=0, settle_s=0.5)
    return got


def test_sequences_join_across_topics_partitions_and_workers(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(RULES)
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules_dir, partitions=4)
    start_ms = (int(time.time() * 1000) - 30 * M) // M * M
    recs = records(start_ms)
    expected = expected_actions(settings, recs)
    firing = {(a.rule_id, a.group["host"]) for a in expected if a.status == "firing"}
    assert firing == {
        *(("cpu_then_intrusion", h) for h in ("h-0", "h-1", "h-2", "h-3")),
        *(("cpu_hot", h) for h in HOSTS if h != "h-7"),
        *(("hot_window_and_login", h) for h in HOSTS if h not in ("h-6", "h-7")),
    }

    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in recs]))
    workers: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    try:
        for log in logs:
            workers.append(start_worker(settings, log=log))
        got = run(all_actions(settings, expect=len(expected)))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=60) for worker in workers]
    assert codes == [0, 0], "\n".join(log.read_text()[-2000:] for log in logs)
    ids = sorted(str(a.json()["id"]) for a in got)
    assert len(ids) == len(set(ids)), "an action was sent twice"
    by_id = {a.id: (a.rule_id, a.group, a.status, a.ts) for a in expected}
    got_by_id = {str(a.json()["id"]): a.json() for a in got}
    missing = [by_id[i] for i in by_id if i not in got_by_id]
    extra = [
        (v["rule_id"], v["group"], v["status"], v["ts"])
        for i, v in got_by_id.items()
        if i not in by_id
    ]
    assert (missing, extra) == ([], [])
    for action in got:
        assert action.key == action.json()["fingerprint"]


def test_a_pending_first_step_survives_kill_9(kafka_bootstrap: str, tmp_path: Path) -> None:
    """The join's state is not in a changelog: the firehose keeps the signals offset of
    a held step uncommitted, and a new worker rebuilds the join by reading it again."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(RULES.split("  # A window signal")[0])
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules_dir, partitions=4)
    start_ms = (int(time.time() * 1000) - 30 * M) // M * M
    hot = {"ts": start_ms, "name": "system.cpu.utilization", "value": 0.99, "host": "h-0"}
    intrusion = {
        "ts": start_ms + M,
        "event.category": "intrusion_detection",
        "host.name": "h-0",
        "source.ip": "198.51.100.9",
    }
    run(ensure_topics(settings))
    run(send(settings, [("metrics", "h-0", encode(hot))]))
    first = start_worker(settings, log=tmp_path / "first.log")
    try:
        step = run(wait_for_step(settings))
        time.sleep(4)  # the signals partition is read and commits run (every 1s)
        committed = run(committed_offsets(settings, settings.group_id(FIREHOSE_GROUP), step.topic))
        assert committed.get(step.partition, 0) <= step.offset  # held for the join
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    run(send(settings, [("security", "198.51.100.9", encode(intrusion))]))
    second = start_worker(settings, log=tmp_path / "second.log")
    try:
        got = run(all_actions(settings, expect=1))
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(timeout=60)
    assert code == 0, (tmp_path / "second.log").read_text()[-2000:]
    fired = [(a.json()["rule_id"], a.json()["group"], a.json()["status"]) for a in got]
    assert fired == [("cpu_then_intrusion", {"host": "h-0"}, "firing")]


async def wait_for_step(settings: OpsrulesSettings, timeout_s: float = 60) -> Received:
    consumer = await reader(settings, settings.topic(settings.topic_signals))
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if orjson.loads(r.value)["kind"] == "step":
                        return Received(r.topic, r.partition, r.offset, None, r.value, {})
    finally:
        await consumer.stop()
    raise AssertionError("no step signal arrived")
