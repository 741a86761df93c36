"""``opsrules demo``: the whole loop on a real broker, in one command.

Starts (or reuses) the local Kafka, ensures the topics, runs ``opsrules worker`` with
the rules in ``rules/`` as a child process, plays a scenario (``streams/scenarios.py``)
into the input topics with event time running 60x, and shows the actions as they
arrive. Exits when every action the rules must produce for the scenario arrived (0),
on timeout (1) or on Ctrl-C; stops the worker cleanly and, unless ``--keep``, the
broker it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from processors.timestamps import parse_ts_ms
from streams import kafka_local
from streams.app import state_dir
from streams.offline import run_offline
from streams.scenarios import SCENARIOS, generate
from streams.settings import OpsrulesSettings
from streams.simulate import default_start_ms, run_simulation
from streams.topics import ACTION_TYPES, action_topic, ensure_topics, topic_partitions
from streams.worker import load_rulebook


def _say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp}  {message}", file=sys.stderr, flush=True)


@contextmanager
def _local_kafka(settings: OpsrulesSettings, keep: bool) -> Iterator[None]:
    """Reuse a broker that answers; else start the local one (and stop it afterwards)."""
    if kafka_local.answers(settings.bootstrap_servers):
        _say(f"using Kafka at {settings.bootstrap_servers}")
        yield
        return
    config = kafka_local.LocalKafkaConfig.from_settings(settings)
    if settings.bootstrap_servers != config.bootstrap:
        from processors.errors import KafkaUnavailableError

        raise KafkaUnavailableError(settings.bootstrap_servers, "not answering")
    state = kafka_local.up(config)
    try:
        yield
    finally:
        if state.started and not keep:
            kafka_local.down(config)
        elif state.started:
            _say(f"Kafka left running at {config.bootstrap}; stop it with `opsrules kafka down`")


@contextmanager
def _worker(settings: OpsrulesSettings) -> Iterator[subprocess.Popen[bytes]]:
    log_path = state_dir(settings) / "demo-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OPSRULES_BOOTSTRAP_SERVERS=settings.bootstrap_servers)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _say(f"worker started (pid {proc.pid}, log {log_path})")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            _say(f"worker stopped cleanly (exit {code})")
        else:
            _say(f"worker had exited with {proc.returncode}; see {log_path}")


_COLUMNS = "{:<8}  {:>6}  {:<8}  {:<8}  {:<8}  {:<20}  {:<18}  {}"


def _row(action: dict[str, Any], start_ms: int) -> str:
    offset_s = (parse_ts_ms(action["ts"]) - start_ms) // 1000
    group = ",".join(f"{k}={v}" for k, v in action["group"].items())
    return _COLUMNS.format(
        time.strftime("%H:%M:%S"),
        f"+{offset_s // 60}:{offset_s % 60:02d}",
        action["type"],
        action["status"],
        action["severity"],
        action["rule_id"],
        group,
        action["summary"],
    )


async def _watch(
    settings: OpsrulesSettings,
    scenario: str,
    timeout_s: float,
    speed: float | None,
    as_json: bool,
) -> int:
    """Send the scenario and print each action as it arrives, until the actions the
    rules must produce for it all arrived (0) or the timeout (1)."""
    start_ms = default_start_ms(int(time.time() * 1000))
    rulebook = load_rulebook(settings)
    expected = run_offline(
        rulebook, [(e.role, e.value) for e in generate(scenario, start_ms=start_ms)]
    ).actions
    topics = [action_topic(settings, kind) for kind in ACTION_TYPES]
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        # Start reading at today's end, so only this run's actions are shown.
        partitions = await topic_partitions(settings, topics)
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        _say(f"scenario {scenario}: {SCENARIOS[scenario].description}")
        _say(f"expecting {len(expected)} actions; event time runs {speed or 'max'}x")
        if not as_json:
            print(
                _COLUMNS.format(
                    "TIME", "EVENT", "TYPE", "STATUS", "SEVERITY", "RULE", "GROUP", "SUMMARY"
                ),
                flush=True,
            )
        sender = asyncio.create_task(
            run_simulation(settings, scenario, start_ms=start_ms, speed=speed, progress=_say)
        )
        wanted = {a.id for a in expected}
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while not wanted <= seen and time.monotonic() < deadline:
            if sender.done():
                sender.result()  # raise a send failure now
            for records in (await consumer.getmany(timeout_ms=250)).values():
                for record in records:
                    body = orjson.loads(record.value)
                    seen.add(body["id"])
                    print(record.value.decode() if as_json else _row(body, start_ms), flush=True)
        if not sender.done():
            sender.cancel()
        missing = wanted - seen
        if missing:
            _say(
                f"timed out after {timeout_s:.0f}s: {len(missing)} of {len(wanted)} actions "
                "did not arrive"
            )
            return 1
        _say(
            f"done: {len(seen)} actions for {scenario}"
            + (f" (the rules expected {len(wanted)})" if len(seen) != len(wanted) else "")
        )
        return 0
    finally:
        await consumer.stop()


def run_demo(
    settings: OpsrulesSettings,
    *,
    scenario: str = "cpu-saturation",
    timeout_s: float = 90.0,
    speed: float | None = 60.0,
    as_json: bool = False,
    keep: bool = False,
) -> int:
    # Right after topics are created aiokafka logs leader-election retries as errors;
    # the demo shows the records instead (the worker keeps its full log).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        with _local_kafka(settings, keep):
            created = asyncio.run(ensure_topics(settings))
            if created:
                _say(f"created {len(created)} topics")
            with _worker(settings):
                return asyncio.run(_watch(settings, scenario, timeout_s, speed, as_json))
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
