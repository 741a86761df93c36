"""The benches' Kafka harness: settings under a unique topic prefix, pre-loading a topic
in large producer batches, waiting for fresh partitions' leaders, readers in no group,
deleting the bench's topics."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.tables import progress
from bench.workload import RULES_DIR, Encoded
from streams.settings import OpsrulesSettings, load_settings
from streams.topics import topic_specs


def unique_settings(name: str, bootstrap: str | None, **overrides: Any) -> OpsrulesSettings:
    """A run's own topic prefix (``<name>-<run>.``), app id (so its own consumer groups)
    and state dir, like tests' ``isolated_settings``; ``bootstrap`` if given, else
    ``OPSRULES_BOOTSTRAP_SERVERS``."""
    run = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "topic_prefix": f"{name}-{run}.",
        "app_id": f"opsrules-{name}-{run}",
        "state_dir": Path(tempfile.gettempdir()) / f"opsrules-{name}-{run}",
        **overrides,
    }
    if bootstrap:
        values["bootstrap_servers"] = bootstrap
    return load_settings(**values)


def kafka_settings(bootstrap: str | None, partitions: int) -> OpsrulesSettings:
    return unique_settings("bench", bootstrap, rules_dir=RULES_DIR, partitions=partitions)


async def preload(settings: OpsrulesSettings, topic: str, encoded: Sequence[Encoded]) -> float:
    """Write every record (key = host, partition = series modulo partitions) in large
    producer batches; the seconds it took."""
    started = time.perf_counter()
    producer = AIOKafkaProducer(
        **settings.aiokafka_kwargs(),
        acks="all",
        linger_ms=20,
        max_batch_size=1_048_576,
        max_request_size=4 * 1_048_576,
    )
    await producer.start()
    try:
        partitions = settings.partitions
        builders = {p: producer.create_batch() for p in range(partitions)}
        futures = []
        for index, item in enumerate(encoded):
            partition = item.series % partitions
            builder = builders[partition]
            if builder.append(key=item.key, value=item.value, timestamp=None) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                builder.append(key=item.key, value=item.value, timestamp=None)
            if index and index % 50_000 == 0:
                progress(f"kafka: preloaded {index:,}/{len(encoded):,}")
        for partition, builder in builders.items():
            if builder.record_count():
                futures.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def wait_for_leaders(settings: OpsrulesSettings, timeout_s: float = 30.0) -> None:
    """Until every partition of the new topics has a leader (fresh topics briefly do
    not, and a producer would log NotLeaderForPartition and retry)."""
    names = [spec.name for spec in topic_specs(settings)]
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = await admin.describe_topics(names)
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def reader(settings: OpsrulesSettings, **fetch: Any) -> AIOKafkaConsumer:
    """A consumer in no group, from the start of the (fresh) topic it is assigned."""
    return AIOKafkaConsumer(
        **settings.aiokafka_kwargs(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **fetch,
    )


async def delete_topics(settings: OpsrulesSettings) -> None:
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in topic_specs(settings)])
    finally:
        await admin.close()


async def delete_run_topics(settings: OpsrulesSettings) -> list[str]:
    """Every topic under the run's prefix, and faust's (named after the app id): what a
    worker run on ``settings`` created."""
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
    await admin.start()
    try:
        names = [
            name
            for name in await admin.list_topics()
            if name.startswith(settings.topic_prefix) or name.startswith(f"{settings.app_id}-")
        ]
        if names:
            await admin.delete_topics(names)
        return sorted(names)
    finally:
        await admin.close()
