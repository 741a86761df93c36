"""Small real-Kafka helpers for integration tests: produce, consume, committed offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.settings import OpsrulesSettings
from streams.topics import topic_partitions


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]

    def json(self) -> dict[str, object]:
        data: dict[str, object] = orjson.loads(self.value)
        return data


async def produce(
    settings: OpsrulesSettings, topic: str, records: Iterable[tuple[str | None, bytes | None]]
) -> None:
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key.encode() if key is not None else None)
        await producer.flush()
    finally:
        await producer.stop()


async def reader(settings: OpsrulesSettings, topic: str) -> AIOKafkaConsumer:
    """A started consumer of ``topic`` from its beginning, in no group."""
    consumer = AIOKafkaConsumer(
        topic,
        **settings.aiokafka_kwargs(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    return consumer


async def consume(
    settings: OpsrulesSettings,
    topic: str,
    *,
    expect: int,
    timeout_s: float = 60.0,
    settle_s: float = 2.0,
) -> list[Received]:
    """Read ``topic`` from the start until ``expect`` records arrived (or timeout), then
    keep reading ``settle_s`` longer so that extra, unexpected records are seen too."""
    consumer = await reader(settings, topic)
    out: list[Received] = []
    try:
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < (settle_until or deadline):
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    out.append(
                        Received(
                            r.topic,
                            r.partition,
                            r.offset,
                            # a shipper's key may be binary (the Collector's hash)
                            r.key.decode("utf-8", "replace") if r.key is not None else None,
                            r.value,
                            {k: v.decode() for k, v in r.headers},
                        )
                    )
            if settle_until is None and len(out) >= expect:
                settle_until = time.monotonic() + settle_s
    finally:
        await consumer.stop()
    return out


async def committed_offsets(
    settings: OpsrulesSettings, group_id: str, topic: str
) -> dict[int, int]:
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def end_offsets(settings: OpsrulesSettings, topic: str) -> dict[int, int]:
    partitions = await topic_partitions(settings, [topic])
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs())
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
