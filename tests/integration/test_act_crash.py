"""``opsrules act`` killed with SIGKILL at random points during 200 deliveries, and
restarted: every action is delivered, and an action is delivered again only if it was
in flight at a kill (its request had reached the server, its delivery was not yet on
the deliveries topic), always with the same Idempotency-Key."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from streams.topics import deliveries_topic, ensure_topics
from streams.worker_process import start_command, stop_worker
from tests.conftest import isolated_settings
from tests.integration.test_act import Hook, hook, send_actions  # noqa: F401  (the fixture)
from tests.kafka_io import consume, end_offsets, run
from tests.processors.executors.factories import make_action

pytestmark = pytest.mark.integration

ACTIONS = 200
KILLS = 4

RECEIVERS = """
receivers:
  - name: hook
    webhook: {url: "%s/hook"}
route:
  receiver: hook
"""


def recorded(settings, topic: str) -> set[str]:  # type: ignore[no-untyped-def]
    written = sum(run(end_offsets(settings, topic)).values())
    return {r.key for r in run(consume(settings, topic, expect=written, settle_s=0.2))}


def test_kill_9_during_200_deliveries_loses_none_and_repeats_only_what_was_in_flight(
    kafka_bootstrap: str,
    tmp_path: Path,
    hook: Hook,  # noqa: F811
) -> None:
    seed = int(os.environ.get("OPSRULES_CRASH_SEED", random.randrange(1 << 30)))
    print(f"OPSRULES_CRASH_SEED={seed}")
    rng = random.Random(seed)
    hook.delay_s = 0.02
    settings = isolated_settings(kafka_bootstrap, commit_interval_ms=100)
    run(ensure_topics(settings))
    receivers = tmp_path / "receivers.yaml"
    receivers.write_text(RECEIVERS % hook.url)
    ids = [f"action-{n:03d}" for n in range(ACTIONS)]
    run(send_actions(settings, [make_action(id=i, fingerprint=f"f-{i}") for i in ids]))
    log = tmp_path / "act.log"

    in_flight: Counter[str] = Counter()  # at how many kills each reached the server, unrecorded
    kill_points = sorted(rng.sample(range(10, ACTIONS - 10), KILLS))
    for n, point in enumerate(kill_points):
        process = start_command(settings, "act", "--receivers", str(receivers), log=log)
        hook.wait_for("/hook", point, timeout_s=120)
        time.sleep(rng.random() * 0.05)  # somewhere between two answers
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        received = {r["headers"]["Idempotency-Key"] for r in hook.at("/hook")}
        done = {key.removesuffix("/hook") for key in recorded(settings, deliveries_topic(settings))}
        in_flight.update(received - done)
        print(
            f"kill {n + 1} after {len(hook.at('/hook'))} requests: {len(received - done)} in flight"
        )

    process = start_command(settings, "act", "--receivers", str(receivers), log=log)
    try:
        deadline = time.monotonic() + 120
        while {r["headers"]["Idempotency-Key"] for r in hook.at("/hook")} != set(ids):
            assert time.monotonic() < deadline, "not every action was delivered"
            time.sleep(0.2)
        time.sleep(1)  # a repeat would come now
    finally:
        assert stop_worker(process) == 0, log.read_text()[-3000:]

    deliveries = Counter(r["headers"]["Idempotency-Key"] for r in hook.at("/hook"))
    repeated = {i: c - 1 for i, c in deliveries.items() if c > 1}
    print(
        f"{ACTIONS} actions, {KILLS} kills: {sum(deliveries.values())} requests, "
        f"{sum(repeated.values())} repeats, {len(in_flight)} in flight at the kills"
    )
    assert set(deliveries) == set(ids)  # none lost
    assert set(repeated) <= set(in_flight)  # only what was in flight
    # and once per kill it was in flight at (a repeat can be in flight at the next kill)
    assert all(count <= in_flight[i] for i, count in repeated.items())
