"""The topics every decision worker reads fully and keeps following.

Alert state is split by signals partition, but some decisions need more than one
alert: a silence or an inhibiting alert may concern any alert, a budget counts actions
of one rule (or on one target) decided on any partition, a circuit breaker and a
verified heal wait for executors' results, which executors key by action id. So each
worker follows, with a consumer outside any group, every partition of:

- ``ops.silences`` (compacted, from the beginning) → ``context.silences``;
- ``<app_id>.alerts.firing`` (compacted, from the beginning) → ``context.firing``;
- ``ops.decisions`` (from ``decision_history_s`` back) → ``context.ledger``;
- ``ops.actions.results`` (from ``decision_history_s`` back) → ``context.ledger`` and
  :meth:`DecisionViews.take_results`, for the partition whose alert waits for it.

The worker's own decisions are applied to the context at once, before they make that
trip. :meth:`DecisionViews.start` returns once every topic was read to the end offsets of
its start, so a restarted worker knows every silence before it decides anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.decisions.context import DecisionContext
from processors.decisions.inhibition import FiringAlert
from processors.decisions.silences import silence_from_record
from processors.records import ActionResult, Decision, SilenceRecord
from processors.rules.label_matchers import MatcherError
from streams.codec import Rejected, decode, load_object
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings
from streams.topics import firing_alerts_topic, topic_partitions

log = logging.getLogger(__name__)


class DecisionViews:
    def __init__(
        self,
        settings: OpsrulesSettings,
        context: DecisionContext,
        metrics: Metrics,
        *,
        history_ms: int,
    ) -> None:
        self.settings = settings
        self.context = context
        self.metrics = metrics
        self.history_ms = history_ms
        self.silences_topic = settings.topic(settings.topic_silences)
        self.firing_topic = firing_alerts_topic(settings)
        self.decisions_topic = settings.topic(settings.topic_decisions)
        self.results_topic = settings.topic(settings.topic_actions_results)
        self.recent_results: dict[str, ActionResult] = {}  # by action id, within history
        self._new_results: list[ActionResult] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Assign every partition, read to the current end, then follow in a task."""
        topics = [self.silences_topic, self.firing_topic, self.decisions_topic, self.results_topic]
        partitions = await topic_partitions(self.settings, topics)
        consumer = self._consumer = AIOKafkaConsumer(
            **self.settings.aiokafka_kwargs(),
            client_id=f"{self.settings.app_id}-decision-views",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        recent = [tp for tp in partitions if tp.topic in (self.decisions_topic, self.results_topic)]
        since_ms = int(time.time() * 1000) - self.history_ms
        found = await consumer.offsets_for_times(dict.fromkeys(recent, since_ms))
        for tp in partitions:
            at = found.get(tp)
            if tp in found and at is None:
                consumer.seek(tp, ends[tp])  # nothing that recent
            elif at is not None:
                consumer.seek(tp, at.offset)
            else:
                await consumer.seek_to_beginning(tp)
        pending = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
        while pending:
            self._apply(await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000))
            pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
        log.info(
            "decision views: %d silences, %d firing alerts, %d recent results",
            len(self.context.silences.by_id),
            len(self.context.firing.by_fingerprint),
            len(self.recent_results),
        )
        self._task = asyncio.create_task(self._follow(), name="decision-views")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                self._apply(await self._consumer.getmany(timeout_ms=500, max_records=10_000))
            except asyncio.CancelledError:
                raise
            except Exception:  # a view must not stop the worker; retried next poll
                log.exception("following the decision views failed")
                await asyncio.sleep(1)

    def take_results(self) -> list[ActionResult]:
        """Results that arrived since the last call."""
        taken, self._new_results = self._new_results, []
        return taken

    # -- records ----------------------------------------------------------------------

    def _apply(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batches.items():
            for record in records:
                try:
                    self._apply_one(tp.topic, record)
                except Exception as exc:  # a bad record is logged and counted, not fatal
                    self.metrics.inc("opsrules_view_records_rejected_total", topic=tp.topic)
                    log.warning("%s@%d/%d: %s", tp.topic, tp.partition, record.offset, exc)

    def _apply_one(self, topic: str, record: Any) -> None:
        key = record.key.decode() if record.key is not None else ""
        context = self.context
        if topic == self.silences_topic:
            if record.value is None:
                context.silences.remove(key)
                return
            silence = _decoded(record.value, SilenceRecord)
            try:
                context.silences.put(silence_from_record(silence))
            except MatcherError as exc:
                raise ValueError(f"silence {silence.id}: {exc}") from None
            log.info(
                "silence %s: %s from %s to %s",
                silence.id,
                ", ".join(silence.matchers),
                silence.starts_at,
                silence.ends_at,
            )
        elif topic == self.firing_topic:
            if record.value is None:
                context.firing.remove(key)
                return
            data = load_object(record.value)
            if isinstance(data, Rejected):
                raise ValueError(data.message)
            context.firing.put(FiringAlert.from_json(data))
        elif topic == self.decisions_topic:
            context.ledger.record(_decoded(record.value, Decision))
        elif topic == self.results_topic:
            result = _decoded(record.value, ActionResult)
            context.ledger.record_result(
                result.action_id, result.status, result.ts_ms, result.message
            )
            self.recent_results[result.action_id] = result
            self._new_results.append(result)
            if len(self.recent_results) > 100_000:  # keep the newest half
                newest = sorted(self.recent_results.values(), key=lambda r: r.ts_ms)[50_000:]
                self.recent_results = {r.action_id: r for r in newest}


def _decoded(raw: bytes | None, model: Any) -> Any:
    value = decode(raw, model)
    if isinstance(value, Rejected):
        raise ValueError(f"{value.reason}: {value.message}")
    return value
