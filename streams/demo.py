"""``opsrules demo``: the whole loop on a real broker, in one command.

Starts (or reuses) the local Kafka, ensures the topics, runs ``opsrules worker`` as a
child process, sends a short CPU ramp to the metrics topic, and shows the signals and
actions as they arrive. Exits when the expected actions arrived (0), on timeout (1) or
on Ctrl-C; stops the worker cleanly and, unless ``--keep``, the broker it started.
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

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from processors.skeleton import SKELETON_THRESHOLD
from streams import kafka_local
from streams.app import state_dir
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics, topic_partitions

CPU_RAMP = (0.42, 0.61, 0.78, 0.93, 0.97)
HOST = "web-1"


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
        from streams.errors import KafkaUnavailableError

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


async def _watch(settings: OpsrulesSettings, timeout_s: float, as_json: bool) -> int:
    signals_topic = settings.topic(settings.topic_signals)
    alert_topic = settings.topic(settings.topic_actions_alert)
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), enable_auto_commit=False)
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all")
    await consumer.start()
    await producer.start()
    try:
        # Start reading at today's end, so only this run's records are shown.
        partitions = await topic_partitions(settings, [signals_topic, alert_topic])
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)

        metrics_topic = settings.topic(settings.topic_metrics)
        now_s = time.time()
        for i, value in enumerate(CPU_RAMP):
            record = {
                "ts": round(now_s + i, 3),
                "name": "system.cpu.utilization",
                "value": value,
                "host": HOST,
                "service": "checkout",
            }
            await producer.send_and_wait(metrics_topic, orjson.dumps(record), key=HOST.encode())
            _say(f"sent      → {metrics_topic}  {HOST} system.cpu.utilization = {value}")
        expected = sum(v >= SKELETON_THRESHOLD for v in CPU_RAMP)

        actions = signals = 0
        deadline = time.monotonic() + timeout_s
        while actions < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=250)
            for tp, records in batches.items():
                for record in records:
                    body = orjson.loads(record.value)
                    if tp.topic == signals_topic:
                        signals += 1
                        _say(
                            f"signal    ← {signals_topic}  {body['key']} {body['name']} = "
                            f"{body['value']}"
                        )
                        continue
                    actions += 1
                    if as_json:
                        print(record.value.decode(), flush=True)
                    _say(
                        f"ACTION    ← {alert_topic}  {body['type']} {body['status']} "
                        f"[{body['severity']}] {body['rule_id']}: {body['summary']}"
                    )
        if actions < expected:
            _say(f"timed out after {timeout_s:.0f}s: {actions} of {expected} actions arrived")
            return 1
        _say(f"done: {len(CPU_RAMP)} samples → {signals} signals → {actions} alert actions")
        return 0
    finally:
        await producer.stop()
        await consumer.stop()


def run_demo(
    settings: OpsrulesSettings,
    *,
    timeout_s: float = 60.0,
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
                return asyncio.run(_watch(settings, timeout_s, as_json))
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
