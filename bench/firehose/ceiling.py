"""The ceiling: a plain aiokafka ``getmany`` + ``orjson.loads`` loop over a pre-loaded
topic, the most any consumer of it could do on this machine (the firehose's kafka mode
and ``opsrules bench pipeline`` measure against it)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from bench.firehose.results import rates
from bench.kafka_harness import reader
from streams.settings import OpsrulesSettings
from streams.topics import topic_partitions


async def ceiling(
    settings: OpsrulesSettings, topic: str, expect: int, timeout_s: float
) -> dict[str, Any]:
    """A plain ``getmany`` + ``orjson.loads`` loop over the topic, without a group, timed
    from the assignment of its partitions (like the kafka mode's ``TimedFirehose``)."""
    partitions = await topic_partitions(settings, [topic])
    consumer = reader(settings, max_partition_fetch_bytes=4 * 1_048_576)
    await consumer.start()
    count = fetches = 0
    loads = orjson.loads
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign(partitions)
        start = (time.perf_counter(), time.process_time())
        first_fetch_s = None
        while count < expect:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ceiling loop read {count} of {expect} records")
            batches = await consumer.getmany(
                timeout_ms=settings.firehose_poll_timeout_ms,
                max_records=settings.firehose_max_records,
            )
            if batches:
                fetches += 1
                if first_fetch_s is None:
                    first_fetch_s = time.perf_counter() - start[0]
            for records in batches.values():
                for record in records:
                    loads(record.value)
                count += len(records)
        wall_s = time.perf_counter() - start[0]
        cpu_s = time.process_time() - start[1]
    finally:
        await consumer.stop()
    return {
        "records": count,
        "fetches": fetches,
        "first_fetch_s": round(first_fetch_s or 0.0, 4),
        **rates(count, count, wall_s, cpu_s),
    }
