"""An autoscaler in a real worker on a real broker: rules/autoscalers.yaml, alone, whose
``checkout_autoscale`` keeps checkout's hosts at 60% CPU, on metric samples sent 4
minutes in the past.

The samples are keyed by host, as the collector keys them, so the three hosts' samples
are on two partitions of the metrics topic (web-1 and web-3 on one, web-2 on another),
each partition sending its part of a window to the signals partition of the
autoscaler's key. Event time alone drives the clocks: the worker's idle timeout (10
minutes) is longer than the test.

1. web-1..3 at 0.9 CPU every 10s from 0s to 2m50s. Each input partition's clock (2m50s)
   less the 10s grace passes the ends of the windows [0, 1m) and [1m, 2m): their parts
   go out. The signals partition decides a window when its clock (the parts' window ends,
   2m) is 1m10s past its end: none yet.
2. Once the parts of both windows from both partitions are on the signals topic, one
   memory sample per host at 3m50s (not checkout's CPU: it moves the clocks, nothing
   more). The parts of [2m, 3m) move the signals partition's clock to 3m: [0, 1m) is
   decided with every partition's part in, whatever order the worker reads them in.

[0, 1m): 3 replicas at 0.9, ratio 1.5, desired ceil(3 × 1.5) = 5, within HPA's default
scale-up limit max(ceil(3 × 2), 3 + 4) = 7: one scale action at 1m, from 3 to 5.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from processors.timestamps import format_ts
from streams.offline import run_offline
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics
from streams.worker import load_rulebook
from streams.worker_process import start_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.pipeline import (
    M,
    aligned_start_ms,
    collect_outputs,
    encode,
    send,
    wait_for_signals,
)
from tests.integration.test_real_shippers import everything
from tests.kafka_io import run

pytestmark = pytest.mark.integration

S = 1000
RULE_ID = "checkout_autoscale"
HOSTS = ("web-1", "web-2", "web-3")


def cpu_samples(t0_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, Kafka key, value): the hosts at 0.9 CPU every 10s, 0s to 2m50s, in time order."""
    return [
        (
            "metrics",
            host,
            {
                "ts": t0_ms + k * 10 * S,
                "name": "system.cpu.utilization",
                "service": "checkout",
                "host": host,
                "value": 0.9,
            },
        )
        for k in range(18)
        for host in HOSTS
    ]


def clock_movers(t0_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    at_ms = t0_ms + 3 * M + 50 * S
    memory = {"ts": at_ms, "name": "system.memory.utilization", "service": "checkout"}
    return [("metrics", host, {**memory, "host": host, "value": 0.5}) for host in HOSTS]


def wait_for_parts(
    settings: OpsrulesSettings, origins: set[str], starts_ms: set[int], timeout_s: float = 60
) -> None:
    """Until the autoscaler's part of each window in ``starts_ms`` from each origin is on
    the signals topic."""
    topic = settings.topic(settings.topic_signals)
    want = {(origin, start) for origin in origins for start in starts_ms}
    deadline = time.monotonic() + timeout_s
    while True:
        seen = set()
        for received in everything(settings, topic):
            part = orjson.loads(received.value)
            if part["kind"] == "part" and part["key"] == RULE_ID:
                seen.add((part["record"]["origin"], part["window_start_ms"]))
        if want <= seen:
            return
        assert time.monotonic() < deadline, f"parts {sorted(want - seen)} never arrived"
        time.sleep(0.3)


def test_an_autoscaler_scales_hot_hosts_on_several_partitions_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(REPO / "rules" / "autoscalers.yaml", rules_dir / "autoscalers.yaml")
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules_dir, idle_timeout_s=600)
    assert settings.partitions > 1  # the metrics topic has several partitions
    t0 = aligned_start_ms(4 * M)
    hot, movers = cpu_samples(t0), clock_movers(t0)
    # the match's id, from an offline run (it depends on the autoscaler and the window's
    # end only); the offline run lets time pass at the end: later windows want 5 again
    offline = run_offline(load_rulebook(settings), [(r, v) for r, _, v in hot + movers])
    [match] = [s for s in offline.signals if s.kind == "match"]
    assert match.ts_ms == t0 + M and match.record is not None
    assert (match.record["current"], match.record["replicas"]) == (3, 5)

    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in hot]))
    metrics_topic = settings.topic(settings.topic_metrics)
    partitions = {r.key: r.partition for r in everything(settings, metrics_topic)}
    assert set(partitions) == set(HOSTS)
    assert len(set(partitions.values())) >= 2, partitions  # the hosts on several partitions
    origins = {f"{metrics_topic}/{partition}" for partition in partitions.values()}
    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        wait_for_parts(settings, origins, {t0, t0 + M})
        run(send(settings, [(role, key, encode(value)) for role, key, value in movers]))
        asyncio.run(wait_for_signals(settings, {match.id}, timeout_s=60))
        out = run(collect_outputs(settings))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert out.deadletters == []
    actions = [a.json() for a in out.actions]
    assert [
        (a["ts"], a["rule_id"], a["type"], a["status"], a["params"], a["labels"], a["summary"])
        for a in actions
    ] == [
        (
            format_ts(t0 + M),
            RULE_ID,
            "scale",
            "firing",
            {"target": "checkout", "replicas": 5, "from": 3},
            {"team": "shop"},
            "scale checkout from 3 to 5 replicas (metric 0.9 over target 0.6: 3 → 5)",
        )
    ]
    params = actions[0]["params"]
    assert type(params["replicas"]) is int and type(params["from"]) is int  # numbers, not text
