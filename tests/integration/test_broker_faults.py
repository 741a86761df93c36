"""Kafka goes away and comes back: the worker waits, pauses, rewinds, and loses nothing.

Each test runs its own broker (streams.kafka_local on a port of its own, a scratch data
dir) so that it can stop it; the session's broker is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from streams import kafka_local
from streams.batch_loop import Outgoing
from streams.metrics import Metrics
from streams.scenarios import DURATION_MS, generate
from streams.settings import OpsrulesSettings, load_settings
from streams.topics import ensure_topics
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import (
    M,
    aligned_start_ms,
    collect_outputs,
    encode,
    send,
    surely_closed,
    wait_for_signals,
)
from tests.kafka_io import consume
from tests.streams.test_batch_loop_sends import Sender
from tests.streams.test_offline_scenarios import offline_at

pytestmark = pytest.mark.integration

WAITING = re.compile(r"Kafka at \S+ does not answer; retrying every 5s \(waited (\d+)s\)")
OUTAGE_S = 60  # longer than aiokafka's request_timeout_ms (40 s): in-flight sends fail


def _free_port_pair() -> int:
    """A port and the next one, both free, below the kernel's ephemeral range: a port
    in it can be taken meanwhile by some client's outgoing connection (while our broker
    is down, even by a connection to that very port), and the broker then cannot bind
    it again."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        port = random.randrange(20_000, min(low, 32_000) - 1)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports below the ephemeral range")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[kafka_local.LocalKafkaConfig]:
    """A broker of this test's own, not started yet; stopped (by its pid) at the end."""
    port = _free_port_pair()
    config = replace(
        kafka_local.LocalKafkaConfig.from_settings(load_settings()),
        port=port,
        controller_port=port + 1,
        data_dir=tmp_path / "kafka",
        heap="256m",
    )
    try:
        yield config
    finally:
        kafka_local.down(config)
        shutil.rmtree(config.data_dir, ignore_errors=True)


def _log_until(log: Path, pattern: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in {log} within {timeout_s}s:\n{text[-3000:]}")


def _stop(worker: subprocess.Popen[bytes], log: Path) -> None:
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=60)
    assert code == 0, log.read_text(errors="replace")[-3000:]


def _same_ids_as_offline(settings: OpsrulesSettings, scenario: str, start_ms: int) -> int:
    """Assert the actions (by id) are those of the uninterrupted offline run and no
    record was dead-lettered; return how many duplicates by id."""
    expected = offline_at(scenario, start_ms)
    last_ms = max(e.at_ms for e in generate(scenario, start_ms=start_ms))
    asyncio.run(wait_for_signals(settings, surely_closed(expected.signals, last_ms)))
    out = asyncio.run(collect_outputs(settings))
    assert out.deadletters == []
    ids = Counter(a.json()["id"] for a in out.actions)
    assert set(ids) == {a.id for a in expected.actions}  # none missing, none extra
    return sum(n - 1 for n in ids.values())


def test_a_worker_started_before_kafka_waits_quietly_then_runs(
    own_broker: kafka_local.LocalKafkaConfig, tmp_path: Path
) -> None:
    settings = isolated_settings(own_broker.bootstrap)
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    try:
        _log_until(log, r"\(waited [5-9]s\)", timeout_s=30)  # two lines at least
        kafka_local.up(own_broker)
        text = _log_until(log, r"\[\^_Worker\]: Ready", timeout_s=120)
        start_ms = aligned_start_ms(DURATION_MS)
        emits = generate("cpu-saturation", start_ms=start_ms)
        asyncio.run(ensure_topics(settings))  # the worker made them; idempotent
        asyncio.run(send(settings, [(e.role, e.key, encode(e.value)) for e in emits]))
        duplicates = _same_ids_as_offline(settings, "cpu-saturation", start_ms)
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            _stop(worker, log)
    assert duplicates == 0
    before = text[: text.index("answers again")]
    waited = [int(s) for s in WAITING.findall(before)]
    # One line per 5 s from 0 s on, until the broker answered (it starts in seconds).
    assert waited[0] == 0 and 2 <= len(waited) <= 30
    assert all(4 <= b - a <= 6 for a, b in pairwise(waited)), waited
    noise = [line for line in before.splitlines() if not WAITING.search(line)]
    assert len(noise) <= 3, noise  # aiokafka's first refusal; then muted
    assert "Traceback" not in log.read_text(errors="replace")


def test_sigterm_while_waiting_for_kafka_exits_cleanly(
    own_broker: kafka_local.LocalKafkaConfig, tmp_path: Path
) -> None:
    settings = isolated_settings(own_broker.bootstrap)
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    try:
        _log_until(log, r"\(waited 0s\)", timeout_s=30)
    finally:
        _stop(worker, log)
    text = log.read_text(errors="replace")
    assert "stopped before Kafka answered" in text and "Traceback" not in text


@pytest.mark.timeout(300)
@pytest.mark.parametrize("fault", ["stopped", "hung"])
def test_kafka_gone_mid_stream_for_a_minute_loses_nothing(
    own_broker: kafka_local.LocalKafkaConfig, tmp_path: Path, fault: str
) -> None:
    """``stopped``: the broker is shut down and started again. ``hung``: it is frozen
    (SIGSTOP): connections stay open and requests time out, so the outputs in flight
    fail after ``request_timeout_ms`` and the loop must go back to its last commit."""
    kafka_local.up(own_broker)
    settings = isolated_settings(own_broker.bootstrap)
    start_ms = aligned_start_ms(DURATION_MS)
    emits = generate("cpu-saturation", start_ms=start_ms)
    split = start_ms + 6 * M
    before = [(e.role, e.key, encode(e.value)) for e in emits if e.at_ms < split]
    after = [(e.role, e.key, encode(e.value)) for e in emits if e.at_ms >= split]
    asyncio.run(ensure_topics(settings))
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log=log)
    try:
        _log_until(log, r"\[\^_Worker\]: Ready", timeout_s=120)
        time.sleep(2)  # both loops joined their groups
        asyncio.run(send(settings, before))
        if fault == "stopped":  # at once: the worker is in the middle of the records
            kafka_local.down(own_broker)
            time.sleep(OUTAGE_S)
            assert worker.poll() is None
            kafka_local.up(own_broker)
        else:
            time.sleep(1)  # the firehose holds open windows; idleness closes them soon
            pid = int(own_broker.pid_file.read_text())  # the broker this test started
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(OUTAGE_S)
                assert worker.poll() is None
            finally:
                os.kill(pid, signal.SIGCONT)
        asyncio.run(send(settings, after))
        duplicates = _same_ids_as_offline(settings, "cpu-saturation", start_ms)
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            _stop(worker, log)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    assert "reading again from the last commit" in text
    waiting = WAITING.findall(text)
    assert 1 <= len(waiting) <= OUTAGE_S // 5 + 6  # one line per 5 s, not a flood
    print(f"{fault}: {duplicates} duplicates by id; {len(text.splitlines())} log lines")


@pytest.mark.timeout(240)
def test_a_burst_across_a_broker_stop_is_written_once_in_order_or_reported_failed(
    own_broker: kafka_local.LocalKafkaConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker stops for 45 s while a burst is sent to one partition. What the
    producer had taken and could not deliver fails (the loop would rewind); when its
    buffer fills, a send raises after ``request_timeout_ms`` having enqueued nothing and
    ``send_all`` sends that record again once Kafka answers (which of the two happens to
    how many records depends on timing: tests/streams/test_batch_loop_sends.py pins the
    resend). Whatever the mix: every record not reported failed is written once, in
    order."""
    kafka_local.up(own_broker)
    settings = isolated_settings(own_broker.bootstrap)
    topic = settings.topic(settings.topic_signals)
    asyncio.run(ensure_topics(settings))
    count = 20_000  # far more than the producer buffers for one partition (16 KiB)

    async def burst() -> list[BaseException | None]:
        sender = Sender(settings, Metrics(), [topic])
        await sender.start()
        try:
            await asyncio.gather(*await sender.send_all([Outgoing(topic, None, b"-", None, 0)]))
            kafka_local.down(own_broker)
            restart = asyncio.get_running_loop().run_in_executor(None, _up_after, own_broker, 45.0)
            records = (Outgoing(topic, None, b"%06d" % i, None, 0) for i in range(count))
            acks = await sender.send_all(records)
            results = await asyncio.gather(*acks, return_exceptions=True)
            await restart
            return list(results)
        finally:
            await sender.stop()

    with caplog.at_level(logging.WARNING, logger="streams.batch_loop"):
        results = asyncio.run(burst())
    resent = caplog.text.count("sending it again once Kafka answers")
    failed = {i for i, r in enumerate(results) if isinstance(r, BaseException)}
    assert failed or resent  # the outage was seen
    got = asyncio.run(consume(settings, topic, expect=count + 1 - len(failed)))
    values = [int(r.value) for r in got if r.partition == 0 and r.value != b"-"]
    assert values == sorted(set(range(count)) - failed)  # none twice, none lost, in order
    print(f"{len(failed)} of {count} failed, {resent} sends taken again; the rest written once")


def _up_after(config: kafka_local.LocalKafkaConfig, delay_s: float) -> None:
    time.sleep(delay_s)
    kafka_local.up(config)
