"""Shared fixtures. The Kafka broker is session-scoped and comes from, in order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` if set (any cluster you point the tests at);
2. testcontainers running ``apache/kafka`` when a Docker engine answers;
3. ``opsrules kafka up`` — the pinned local broker (reused if already up; else started
   with a scratch data dir, stopped and removed at the end).

Each test isolates itself with unique topic prefix, app id and group ids
(:func:`isolated_settings`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streams import kafka_local
from streams.settings import OpsrulesSettings, load_settings

# The fuzz and differential suites' seed and case counts, once for both.
from tests.hypothesis_profiles import (  # noqa: F401
    pytest_collection_modifyitems,
    pytest_report_header,
    pytest_terminal_summary,
)

REPO = Path(__file__).resolve().parents[1]


def _docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pinned_kafka_version() -> str:
    text = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", text)
    assert match, "deploy/kafka/pom.xml must pin <kafka.version>"
    return match.group(1)


def _container_broker() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = _free_port()
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    container = DockerContainer(f"apache/kafka:{_pinned_kafka_version()}")
    for key, value in env.items():
        container = container.with_env(key, value)
    container = container.with_bind_ports(9092, port)
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real Apache Kafka broker for this test session."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield env
        return
    if _docker_engine_answers():
        yield from _container_broker()
        return
    settings = load_settings()
    config = kafka_local.LocalKafkaConfig.from_settings(settings)
    scratch = None
    if settings.kafka_data_dir is None:
        # A broker this session starts keeps its data in a fresh folder, removed at the
        # end: every test makes topics of its own, and a data dir kept across runs
        # piled up thousands of them until the broker ran out of heap.
        scratch = Path(tempfile.mkdtemp(prefix="opsrules-test-kafka-"))
        config = replace(config, data_dir=scratch)
    state = kafka_local.up(config)
    try:
        yield state.bootstrap
    finally:
        if state.started:
            kafka_local.down(config)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def isolated_settings(bootstrap: str, **overrides: object) -> OpsrulesSettings:
    """Settings with a unique topic prefix and app id, so tests never share state."""
    run = uuid.uuid4().hex[:10]
    values: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "topic_prefix": f"t{run}.",
        "app_id": f"opsrules-test-{run}",
        "state_dir": Path(os.environ.get("TMPDIR", "/tmp")) / f"opsrules-test-{run}",
        "firehose_poll_timeout_ms": 100,
        "idle_timeout_s": 2,
        "session_timeout_s": 10,
        "rules_dir": REPO / "rules",
    }
    values.update(overrides)
    return load_settings(**values)
