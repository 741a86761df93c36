"""The firehose tier: an aiokafka ``getmany`` batch loop on raw telemetry.

faust's per-record stream machinery is too slow for raw telemetry (DESIGN.md, "Two
tiers"), so each input topic gets a plain batch loop hosted inside the faust worker
as a mode service: fetch a batch, decode it, run the pure cores over it, send the
outputs, wait for the broker to acknowledge them, then commit. On stop the current
batch is finished, flushed and committed before the clients close.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from mode import Service

from processors.skeleton import sample_to_signal
from streams.codec import Headers, Rejected, dead_letter, decode, encode
from streams.schemas import MetricSample
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

FIREHOSE_GROUP = "firehose"  # consumer group id: <app_id>.firehose


class InputRecord(Protocol):
    """The fields of an aiokafka ``ConsumerRecord`` that the firehose reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None = None


@dataclass(slots=True)
class FirehoseCounters:
    """Records in = processed + dead-lettered, per input topic."""

    records_in: Counter[str] = field(default_factory=Counter)
    processed: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)  # by reason
    signals_out: int = 0

    def summary(self) -> str:
        return (
            f"records_in={dict(self.records_in)} processed={dict(self.processed)} "
            f"dead_lettered={dict(self.dead_lettered)} signals_out={self.signals_out}"
        )


def process_metrics(
    records: Iterable[InputRecord],
    *,
    signals_topic: str,
    deadletter_topic: str,
    max_record_bytes: int,
    counters: FirehoseCounters,
    now_ms: int,
) -> list[Outgoing]:
    """Decode a batch of ``ops.metrics`` records into signals and dead letters."""
    out: list[Outgoing] = []
    for record in records:
        counters.records_in[record.topic] += 1
        sample = decode(record.value, MetricSample, max_record_bytes)
        if isinstance(sample, Rejected):
            counters.dead_lettered[sample.reason] += 1
            letter = dead_letter(
                sample,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                raw=record.value,
                now_ms=now_ms,
            )
            out.append(Outgoing(deadletter_topic, record.key, encode(letter)))
            continue
        counters.processed[record.topic] += 1
        signal = sample_to_signal(sample)
        counters.signals_out += 1
        out.append(Outgoing(signals_topic, signal.key.encode(), encode(signal)))
    return out


class FirehoseService(Service):
    """Batch loop on the metrics topic, hosted by the faust worker."""

    def __init__(self, settings: OpsrulesSettings, **kwargs: Any) -> None:
        self.settings = settings
        self.counters = FirehoseCounters()
        self.input_topic = settings.topic(settings.topic_metrics)
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        kafka = self.settings.aiokafka_kwargs()
        self._consumer = AIOKafkaConsumer(
            self.input_topic,
            group_id=self.settings.group_id(FIREHOSE_GROUP),
            client_id=f"{self.settings.app_id}-firehose",
            enable_auto_commit=False,
            auto_offset_reset=self.settings.auto_offset_reset,
            max_partition_fetch_bytes=4 * 1_048_576,
            **kafka,
        )
        self._producer = AIOKafkaProducer(
            client_id=f"{self.settings.app_id}-firehose",
            acks="all",
            linger_ms=5,
            max_request_size=4 * 1_048_576,
            **kafka,
        )
        await self._producer.start()
        await self._consumer.start()
        self._loop_task = asyncio.create_task(self._run(), name="firehose")
        log.info(
            "firehose consuming %s as group %s",
            self.input_topic,
            self.settings.group_id(FIREHOSE_GROUP),
        )

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout=30)
            except TimeoutError:
                log.warning("firehose batch did not finish within 30s; not committed")
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        log.info("firehose stopped: %s", self.counters.summary())

    async def _run(self) -> None:
        assert self._consumer is not None and self._producer is not None
        settings = self.settings
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(
                    timeout_ms=settings.firehose_poll_timeout_ms,
                    max_records=settings.firehose_max_records,
                )
                if batches:
                    await self._handle(batches)
        except Exception as exc:
            log.exception("firehose loop crashed; stopping the worker")
            await self.crash(exc)  # the worker stops and exits non-zero

    async def _handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None and self._producer is not None
        settings = self.settings
        records = [record for batch in batches.values() for record in batch]
        outgoing = process_metrics(
            records,
            signals_topic=settings.topic(settings.topic_signals),
            deadletter_topic=settings.topic(settings.topic_deadletter),
            max_record_bytes=settings.max_record_bytes,
            counters=self.counters,
            now_ms=int(time.time() * 1000),
        )
        sends = [
            await self._producer.send(o.topic, o.value, key=o.key, headers=o.headers)
            for o in outgoing
        ]
        await asyncio.gather(*sends)  # every output acknowledged before we commit
        await self._consumer.commit(
            {tp: batch[-1].offset + 1 for tp, batch in batches.items() if batch}
        )
