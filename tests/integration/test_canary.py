"""A canary analysis in a real worker on a real broker: the shipped ``checkout_canary``
(rules/canaries.yaml), alone, rolls back a canary that fails a third of its requests.

The records are those of the first case of rules/tests/canaries.yaml, sent 6 minutes in
the past from t0: a deploy of checkout 2.4.0 (over 2.3.1) started at t0 (ops.events,
keyed by checkout), and request durations of checkout, keyed by host (ops.metrics):
the baseline web-b1 one request every 3s from 0s to 4m57s, all 2xx; the canary web-c1
the same plus a 5xx every 6s from 0s to 4m54s. With the default partitioner the two
hosts are on two partitions of ops.metrics (0 and 1 of 4), each sending its own parts.

By hand: each minute, the baseline's 20 requests have an error ratio of 0, the
canary's 30 one of 10 / 30 = 0.33 (beyond any ratio of 0, and 0.33 >= 0.02): minutes 0
and 1 fail, two failures reach max_failures 2: a rollback at the end of minute 1, 2m.
Every request takes 0.1s on both sides, so latency_p99 passes. Event time alone drives
the clocks (the idle timeout, 10 minutes, is longer than the test): each metrics
partition's clock at 4m57s less the 10s grace sends its parts of minutes 0-3; the
signals partition that puts them together is at 4m (the last part's time), less the
grace and the merge's minute, 2m50s: minutes 0 and 1 are judged, the rest never is.

The deploy is sent and its part awaited on the signals topic before the samples are
sent, as a deploy precedes its samples in production: a deploy part that reached the
signals partition after the parts of its first minutes came due would find them
dropped (tests/processors/firehose/test_canaries.py, the xfail on a deploy part behind
its samples' parts).
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
ROLLBACK = "checkout_canary_rollback"
GROUP = {"entity": "checkout"}
Records = list[tuple[str, str, dict[str, Any]]]


def deploy_event(t0_ms: int) -> Records:
    """(role, Kafka key, value)."""
    deploy = {"type": "deploy", "entity": "checkout", "status": "started"}
    version = {"version": "2.4.0", "previous_version": "2.3.1", "strategy": "canary"}
    return [("events", "checkout", {"ts": t0_ms, **deploy, **version})]


def samples(t0_ms: int) -> Records:
    """Request durations of the baseline and the canary host, in time order."""

    def request(host: str, track: str, status_class: str, at_ms: int) -> dict[str, Any]:
        labels = {"track": track, "status_class": status_class}
        return {
            "ts": t0_ms + at_ms,
            "name": "http.server.request.duration",
            "service": "checkout",
            "host": host,
            "labels": labels,
            "value": 0.1,
        }

    timed = [
        *(request("web-b1", "baseline", "2xx", k * 3 * S) for k in range(100)),  # 0 .. 4m57s
        *(request("web-c1", "canary", "2xx", k * 3 * S) for k in range(100)),
        *(request("web-c1", "canary", "5xx", k * 6 * S) for k in range(50)),  # 0 .. 4m54s
    ]
    return [("metrics", r["host"], r) for r in sorted(timed, key=lambda r: r["ts"])]


def wait_for_deploy_part(settings: OpsrulesSettings, timeout_s: float = 60.0) -> None:
    """Until the deploy's part is on the signals topic."""
    topic = settings.topic(settings.topic_signals)
    deadline = time.monotonic() + timeout_s
    while True:
        values = [orjson.loads(r.value) for r in everything(settings, topic) if r.value]
        if any(v.get("kind") == "part" and "deploy" in (v.get("record") or {}) for v in values):
            return
        assert time.monotonic() < deadline, "the deploy's part never reached the signals topic"
        time.sleep(0.5)


def test_the_shipped_canary_rolls_back_a_failing_canary_in_a_real_worker(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(REPO / "rules" / "canaries.yaml", rules_dir / "canaries.yaml")
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules_dir, idle_timeout_s=600)
    t0 = aligned_start_ms(6 * M)
    deploys, requests = deploy_event(t0), samples(t0)
    # the rollback's id, from an offline run of the same records (it depends only on the
    # rule, the entity and the time): that offline run ends with time passing, so only
    # the verdict of minutes 0-1 is the worker's, and it is the only one
    offline = run_offline(load_rulebook(settings), [(r, v) for r, _, v in deploys + requests])
    [rollback] = [s for s in offline.signals if s.kind == "match"]
    assert (rollback.rules, rollback.ts_ms) == ([ROLLBACK], t0 + 2 * M)
    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in deploys]))
    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        wait_for_deploy_part(settings)
        run(send(settings, [(role, key, encode(value)) for role, key, value in requests]))
        asyncio.run(wait_for_signals(settings, {rollback.id}, timeout_s=90))
        out = run(collect_outputs(settings))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert out.deadletters == []
    actions = [a.json() for a in out.actions]
    summary = (
        "canary 2.4.0 of checkout failed: 2 of 2 intervals failed, reaching max_failures 2; "
        "rolling back to 2.3.1"
    )
    at = format_ts(t0 + 2 * M)
    assert sorted(
        (a["ts"], a["rule_id"], a["type"], a["status"], a["severity"], a["group"], a["summary"])
        for a in actions
    ) == [
        (at, ROLLBACK, "alert", "firing", "warning", GROUP, summary),
        (at, ROLLBACK, "heal", "firing", "warning", GROUP, summary),
    ]
    [heal] = [a for a in actions if a["type"] == "heal"]
    assert heal["params"] == {"command": "rollback", "target": "checkout", "to": "2.3.1"}
    assert heal["labels"] == {"team": "shop", "entity": "checkout"}
