"""Reading a compacted topic to its end: the latest value of every key.

The decision tier restores alert states from ``<app_id>.alerts.changelog`` this way
(streams/decision_tier.py); ``opsrules silence list`` reads ``ops.silences`` and
``opsrules explain --live`` the changelog and the action topics the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)


async def read_compacted(
    settings: OpsrulesSettings, topic: str, partitions: list[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """The latest value of every key of ``partitions`` of a compacted topic, by
    partition, read from the beginning to the end offsets the broker reported when
    reading started. A tombstone removes its key; a record without a key, or whose value
    is not a JSON object, is logged and skipped."""
    states: dict[int, dict[str, dict[str, Any]]] = {p: {} for p in partitions}
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(
        **settings.aiokafka_kwargs(),
        client_id=f"{settings.app_id}-restore",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        pending = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
            for tp, records in fetched.items():
                state = states[tp.partition]
                for record in records:
                    try:
                        key = record.key.decode()
                        if record.value is None:
                            state.pop(key, None)
                            continue
                        value = orjson.loads(record.value)
                        if not isinstance(value, dict):
                            raise ValueError(f"expected an object, got {type(value).__name__}")
                    except (AttributeError, ValueError) as exc:  # no key, not UTF-8, not JSON
                        log.warning("%s/%d@%d skipped: %s", topic, tp.partition, record.offset, exc)
                        continue
                    state[key] = value
            pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()
    return states
