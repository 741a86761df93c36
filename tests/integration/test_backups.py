"""The shipped backup checks in a real worker on a real broker: rules/backups.yaml's
``orders_backup``, alone, compiled into orders_backup_failed, _missed, _stuck and
_too_small, on ops.events records sent 3h40m in the past.

Every record is about orders-db and keyed by it, so all are on one partition in time
order, and event time alone drives its clock: the worker's idle timeout (10 minutes) is
longer than the test, so no clock moves on with wall time. The scenario, from t0:

- 0 and 1h: successful backups; none after, so the next was due by 2h10m (every 1h +
  grace 10m): orders_backup_missed at 2h10m, with its heal (run the backup again);
- 20m: a failed backup: orders_backup_failed at once;
- 30m: a successful backup of 1000 bytes (under 1 MiB): orders_backup_too_small;
- 1h30m: a backup started and never finished: orders_backup_stuck at 2h (30m later);
- every 10 minutes up to 3h30m: a change of orders-db, which moves the event clock past
  each deadline and its 10s grace.

The heal's verification (1h later, 3h10m) waits for the decision tier's clock, which
only signals move; none comes after 2h10m, so no escalation is sent during the test.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from processors.timestamps import format_ts
from streams.offline import run_offline
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
from tests.kafka_io import run

pytestmark = pytest.mark.integration

H = 60 * M
ENTITY = "orders-db"
GROUP = {"entity": ENTITY}
BIG = 5_000_000  # bytes: over min_size_bytes (1 MiB)


def events(t0_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, Kafka key, value) in time order."""

    def backup(
        at_ms: int, status: str, backup_id: str, **fields: Any
    ) -> tuple[int, dict[str, Any]]:
        return at_ms, {"type": "backup", "status": status, "backup_id": backup_id, **fields}

    timed = [
        backup(0, "succeeded", "b0", size_bytes=BIG),
        backup(20 * M, "failed", "b1", message="disk full"),
        backup(30 * M, "succeeded", "b2", size_bytes=1000),
        backup(1 * H, "succeeded", "b3", size_bytes=BIG),
        backup(1 * H + 30 * M, "started", "b4"),
        *((k * 10 * M, {"type": "change"}) for k in range(1, 22)),  # 10m .. 3h30m
    ]
    return [
        ("events", ENTITY, {"ts": t0_ms + at_ms, "entity": ENTITY, **fields})
        for at_ms, fields in sorted(timed, key=lambda t: t[0])
    ]


def test_the_shipped_backup_checks_fire_in_a_real_worker(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(REPO / "rules" / "backups.yaml", rules_dir / "backups.yaml")
    settings = isolated_settings(kafka_bootstrap, rules_dir=rules_dir, idle_timeout_s=600)
    t0 = aligned_start_ms(3 * H + 40 * M)
    records = events(t0)
    # the ids of the matches that wait for time (from the offline run of the same
    # records: they depend only on the rule, the key and the time, not on offsets)
    offline = run_offline(load_rulebook(settings), [(r, v) for r, _, v in records])
    timed = {s.rules[0]: s for s in offline.signals if s.kind == "match"}
    assert {rule: s.ts_ms - t0 for rule, s in timed.items()} == {
        "orders_backup_stuck": 2 * H,
        "orders_backup_missed": 2 * H + 10 * M,
    }
    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in records]))
    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        asyncio.run(wait_for_signals(settings, {s.id for s in timed.values()}, timeout_s=90))
        out = run(collect_outputs(settings))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert out.deadletters == []
    actions = [a.json() for a in out.actions]
    got = sorted(
        (
            a["ts"],
            a["rule_id"],
            a["type"],
            a["status"],
            a["severity"],
            a["group"],
            a["params"],
            a["summary"],
        )
        for a in actions
    )

    def at(offset_ms: int) -> str:
        return format_ts(t0 + offset_ms)

    missed = f"no successful backup of orders-db since {at(1 * H)}"
    assert got == [
        (
            at(20 * M),
            "orders_backup_failed",
            "alert",
            "firing",
            "warning",
            GROUP,
            {},
            "backup of orders-db failed: disk full",
        ),
        (
            at(30 * M),
            "orders_backup_too_small",
            "alert",
            "firing",
            "warning",
            GROUP,
            {},
            "backup of orders-db is only 1000 B",
        ),
        (
            at(2 * H),
            "orders_backup_stuck",
            "alert",
            "firing",
            "warning",
            GROUP,
            {},
            f"backup of orders-db started {at(1 * H + 30 * M)} and not finished after 30m",
        ),
        (at(2 * H + 10 * M), "orders_backup_missed", "alert", "firing", "error", GROUP, {}, missed),
        (
            at(2 * H + 10 * M),
            "orders_backup_missed",
            "heal",
            "firing",
            "error",
            GROUP,
            {"command": "run_backup", "target": ENTITY},
            missed,
        ),
    ]
    [heal] = [a for a in actions if a["type"] == "heal"]  # the heal's target: what it runs on
    assert heal["target"] == ENTITY
    assert heal["labels"] == {"team": "data", "entity": ENTITY}
