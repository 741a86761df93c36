"""Helpers for end-to-end tests: send a scenario, wait until the worker has drained
every topic, collect what came out."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from processors.records import Signal
from streams.decision_tier import DECISIONS_GROUP
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic
from streams.worker_process import start_worker
from tests.kafka_io import Received, committed_offsets, consume, end_offsets, produce, reader

M = 60_000


def aligned_start_ms(duration_ms: int) -> int:
    """A whole minute far enough back that the whole scenario is in the past."""
    now_ms = int(time.time() * 1000)
    return (now_ms - duration_ms - M) // M * M


async def send(settings: OpsrulesSettings, records: list[tuple[str, str, bytes]]) -> None:
    """``(role, key, value)`` in order, per topic."""
    by_topic: dict[str, list[tuple[str | None, bytes]]] = {}
    for role, key, value in records:
        by_topic.setdefault(settings.topic(getattr(settings, f"topic_{role}")), []).append(
            (key, value)
        )
    for topic, items in by_topic.items():
        await produce(settings, topic, items)


def encode(value: dict[str, object]) -> bytes:
    return orjson.dumps(value)


async def wait_for_signals(
    settings: OpsrulesSettings, ids: set[str], timeout_s: float = 120.0
) -> None:
    """Until every signal id in ``ids`` is on the signals topic, and the decision tier has
    consumed every signal there."""
    topic = settings.topic(settings.topic_signals)
    consumer = await reader(settings, topic)
    missing = set(ids)
    deadline = time.monotonic() + timeout_s
    try:
        while missing:
            assert time.monotonic() < deadline, f"{len(missing)} signals never arrived"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                missing.difference_update(_signal_id(r.value) for r in records)
    finally:
        await consumer.stop()
    while True:
        ends = {p: o for p, o in (await end_offsets(settings, topic)).items() if o}
        done = await committed_offsets(settings, settings.group_id(DECISIONS_GROUP), topic)
        if all(done.get(p, 0) >= o for p, o in ends.items()):
            return
        assert time.monotonic() < deadline, "the decision tier did not consume every signal"
        await asyncio.sleep(0.5)


def _signal_id(value: bytes | None) -> object:
    """The id of a signal; None for what a test wrote there that is not one."""
    try:
        return orjson.loads(value or b"")["id"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None


def surely_closed(signals: list[Signal], last_ts_ms: int) -> set[str]:
    """Ids of window signals that every partition's watermark must have closed: windows
    ending at least a minute (more than any grace) before the last record."""
    return {s.id for s in signals if s.kind == "window" and s.ts_ms <= last_ts_ms - M}


def worker_until_done(
    settings: OpsrulesSettings, expected: list[Signal], last_ts_ms: int, log: Path
) -> Outputs:
    """Run a worker until the windows every partition must close (from the offline run's
    ``expected`` signals) reached the decision tier; stop it with SIGTERM (exit 0);
    return every action and dead letter on the topics."""
    worker = start_worker(settings, log=log)
    try:
        asyncio.run(wait_for_signals(settings, surely_closed(expected, last_ts_ms)))
        out = asyncio.run(collect_outputs(settings))
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]
    return out


@dataclass(frozen=True)
class Outputs:
    actions: list[Received]
    deadletters: list[Received]


async def collect_outputs(settings: OpsrulesSettings) -> Outputs:
    actions: list[Received] = []
    for kind in ACTION_TYPES:
        actions += await _everything(settings, action_topic(settings, kind))
    letters = await _everything(settings, settings.topic(settings.topic_deadletter))
    return Outputs(actions, letters)


async def _everything(settings: OpsrulesSettings, topic: str) -> list[Received]:
    """Every record on ``topic`` now: read up to its end offsets (a fetch from a partition
    whose leader is still being elected may take longer than any fixed settle time)."""
    written = sum((await end_offsets(settings, topic)).values())
    return await consume(settings, topic, expect=written, settle_s=0.5)
