"""The decision tier: signals → the decision core → actions, in batches.

It ran as a faust agent with a faust table before; measured, faust's per-event path
(~16k events/s decoding alone, an awaited ack per action, a changelog record per
table assignment, and tables that cannot be written from ``take_events`` batches) was
the bottleneck of the whole pipeline. Now it is the same batch loop as the firehose
(:mod:`streams.batch_loop`), with its own changelog, as Kafka Streams does it:

- Alert state lives in memory, one store per partition of the signals topic. Signals
  are keyed by series, so every signal of one alert arrives on the same partition.
- Every state an alert takes is written to the compacted ``<app_id>.alerts.changelog``
  topic, key = fingerprint, on the **same partition number** as the signals it came
  from. When a signals partition is assigned, its changelog partition is read to the
  end before the first batch.
- Per batch: decide every signal, send the actions and dead letters; once they are
  acknowledged (and the previous batch's states are written), write the changed
  states. The signal offsets are committed after all of that is acknowledged
  (:mod:`streams.batch_loop`).
  A crash before the state write re-reads the signals against the old state and sends
  the same actions again under the same deterministic ids; a crash after it re-reads
  them against a state that already holds them, and the alert state machine ignores
  evaluations at or before its last one. Actions are therefore at least once, with
  duplicates recognisable by id (the kill -9 integration test counts them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.engine.compiler import CompiledRulebook
from processors.engine.decisions import DictStore, decide
from streams.batch_loop import BatchLoopService, Offsets, Outgoing
from streams.codec import Rejected, cloudevent_headers, dead_letter, decode, encode
from streams.metrics import Metrics
from streams.schemas import Signal
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic, alerts_changelog_topic

log = logging.getLogger(__name__)

DECISIONS_GROUP = "decisions"  # consumer group id: <app_id>.decisions


class PartitionStore(DictStore):
    """The alert states of one signals partition, remembering which keys changed."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: set[str] = set()

    def set(self, key: str, value: dict[str, Any]) -> None:
        super().set(key, value)
        self.changed.add(key)


class DecisionBatch:
    """Turns fetched signals into actions, dead letters and state updates."""

    def __init__(
        self, settings: OpsrulesSettings, rulebook: CompiledRulebook, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.rulebook = rulebook
        self.metrics = metrics
        self.signals_topic = settings.topic(settings.topic_signals)
        self.changelog_topic = alerts_changelog_topic(settings)
        self.deadletter_topic = settings.topic(settings.topic_deadletter)
        self.action_topics = {kind: action_topic(settings, kind) for kind in ACTION_TYPES}
        self.source = f"opsrules/{settings.app_id}"
        self.stores: dict[int, PartitionStore] = {}
        self.next_offsets: dict[TopicPartition, int] = {}

    def process(
        self, batches: dict[TopicPartition, list[Any]], now_ms: int
    ) -> tuple[list[Outgoing], list[Outgoing]]:
        """``(outputs, state updates)``: actions and dead letters to send first, then the
        changelog records of every alert state that changed."""
        out: list[Outgoing] = []
        updates: list[Outgoing] = []
        metrics = self.metrics
        for tp, records in batches.items():
            store = self.stores.setdefault(tp.partition, PartitionStore())
            for record in records:
                out.extend(self._decide(record, store, now_ms))
            metrics.inc("opsrules_signals_decided_total", len(records))
            if records:
                self.next_offsets[tp] = records[-1].offset + 1
            for key in sorted(store.changed):
                value = orjson.dumps(store.data[key])
                updates.append(
                    Outgoing(self.changelog_topic, key.encode(), value, partition=tp.partition)
                )
            store.changed.clear()
        return out, updates

    def _decide(self, record: Any, store: PartitionStore, now_ms: int) -> list[Outgoing]:
        signal = decode(record.value, Signal, self.settings.max_record_bytes)
        if isinstance(signal, Rejected):
            return [self._dead_letter(signal, record, now_ms)]
        try:
            outcome = decide(signal, self.rulebook, store)
        except Exception as exc:  # a bug must not stop the tier or skip the signal silently
            log.exception("deciding on signal %s failed; dead-lettered", signal.id)
            failed = Rejected("processing_error", f"{type(exc).__name__}: {exc}")
            return [self._dead_letter(failed, record, now_ms)]
        metrics = self.metrics
        for rule_id in signal.rules:
            metrics.inc("opsrules_rule_evaluations_total", rule_id=rule_id)
        for suppressed in outcome.suppressed:
            metrics.inc("opsrules_suppressed_actions_total", reason=suppressed.reason)
            log.info("suppressed %s", suppressed)
        out = []
        for action in outcome.actions:
            metrics.inc("opsrules_actions_total", type=action.type, status=action.status)
            headers = cloudevent_headers(
                event_id=action.id,
                event_type=f"action.{action.type}.{action.status}",
                source=self.source,
                time_ms=now_ms,
            )
            out.append(
                Outgoing(
                    self.action_topics[action.type],
                    action.fingerprint.encode(),
                    encode(action),
                    headers,
                )
            )
        return out

    def _dead_letter(self, rejected: Rejected, record: Any, now_ms: int) -> Outgoing:
        self.metrics.inc("opsrules_deadletters_total", topic=record.topic, reason=rejected.reason)
        letter = dead_letter(rejected, record, record.value, now_ms)
        return Outgoing(self.deadletter_topic, record.key, encode(letter))

    def commits(self) -> Offsets:
        return {tp: (offset, "") for tp, offset in self.next_offsets.items()}

    def restore(self, partition: int, states: dict[str, dict[str, Any]]) -> None:
        store = self.stores[partition] = PartitionStore()
        store.data.update(states)

    def revoke(self, tp: TopicPartition) -> None:
        self.stores.pop(tp.partition, None)
        self.next_offsets.pop(tp, None)


class DecisionService(BatchLoopService):
    """The decision batch loop, hosted by the faust worker."""

    component = DECISIONS_GROUP

    def __init__(
        self,
        settings: OpsrulesSettings,
        rulebook: CompiledRulebook,
        metrics: Metrics,
        **kwargs: Any,
    ) -> None:
        self.batch = DecisionBatch(settings, rulebook, metrics)
        self._saving: asyncio.Future[None] | None = None
        super().__init__(settings, metrics, [self.batch.signals_topic], **kwargs)

    def commits(self) -> Offsets:
        return self.batch.commits()

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        started = time.monotonic()
        restored = await read_changelog(
            self.settings, self.batch.changelog_topic, [tp.partition for tp in partitions]
        )
        for partition, states in restored.items():
            self.batch.restore(partition, states)
        log.info(
            "restored %d alert states of partitions %s in %.2fs",
            sum(len(states) for states in restored.values()),
            sorted(restored),
            time.monotonic() - started,
        )

    def revoked(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.batch.revoke(tp)

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        if not batches:
            return
        out, updates = self.batch.process(batches, now_ms=int(time.time() * 1000))
        acks = await self.send_all(out)
        if updates:
            # A state is saved only once its batch's actions are acknowledged, and after
            # the previous batch's states: chained, so the loop does not wait for it.
            self._saving = asyncio.ensure_future(self._save(self._saving, acks, updates))
            self.track(self._saving)

    async def _save(
        self,
        previous: asyncio.Future[None] | None,
        acks: list[asyncio.Future[Any]],
        updates: list[Outgoing],
    ) -> None:
        if previous is not None:
            await previous
        await asyncio.gather(*acks)
        await asyncio.gather(*await self.send_all(updates))


async def read_changelog(
    settings: OpsrulesSettings, topic: str, partitions: list[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """The latest value of every key of ``partitions`` of a compacted topic, read from
    the beginning to the end offset the broker reported when reading started."""
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
                    key = record.key.decode()
                    if record.value is None:
                        state.pop(key, None)
                    else:
                        state[key] = orjson.loads(record.value)
            pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()
    return states
