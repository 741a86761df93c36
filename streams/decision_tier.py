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

The decision side beyond one alert (:mod:`streams.decision_views`): every worker reads
the silences, the firing alerts of every partition, the decisions and the action
results fully, so silences, inhibition, budgets and circuit breakers see the whole
cluster. Each decision (sent, suppressed or dry run) goes to ``ops.decisions`` (key =
fingerprint), each alert that starts or stops firing to ``<app_id>.alerts.firing``,
together with the actions.

**Results routing.** Executors key ``ops.actions.results`` by action id, so a result
lands on a partition unrelated to the alert's. Rather than re-keying, every worker
reads every result (results are few: one per action) and applies it where the alert
waiting for it lives: a verified action's id is in its alert's state (``verify``), and
each partition store indexes those ids (``verifying``). A worker that does not own the
alert ignores the result; when the partition moves, the new owner restores the state
and applies the results it already read (``recent_results``, kept for
``decision_history_s``). Applying is idempotent: the first result removes the pending
verification, and an escalation's id is derived from the verified action's id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import TopicPartition

from processors.decisions.alert_record import AlertRecord, AlertRecordError, DictStore
from processors.decisions.context import DecisionContext, Outcome
from processors.decisions.decide import decide, decide_result, verify_due
from processors.decisions.event_clock import EventClock
from processors.decisions.firing import firing_alert
from processors.decisions.inhibition import FiringAlert
from processors.records import ActionResult, Signal
from processors.rules.compiler import CompiledRulebook
from streams.batch_loop import BatchLoopService, Offsets, Outgoing
from streams.codec import (
    Rejected,
    cloudevent_headers,
    dead_letter,
    decode,
    encode,
    processing_error,
)
from streams.compacted import read_compacted
from streams.decision_views import DecisionViews
from streams.inflight import poison
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings
from streams.topics import (
    ACTION_TYPES,
    action_topic,
    alerts_changelog_topic,
    firing_alerts_topic,
)

log = logging.getLogger(__name__)

DECISIONS_GROUP = "decisions"  # consumer group id: <app_id>.decisions


class PartitionStore(DictStore):
    """The alert states of one signals partition, remembering which keys changed."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: set[str] = set()

    def set(self, key: str, record: AlertRecord) -> None:
        super().set(key, record)
        self.changed.add(key)

    def load(self, records: Mapping[str, AlertRecord]) -> None:
        """Restored records, not changed."""
        super().load(records)
        self.changed.clear()


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
        self.decisions_topic = settings.topic(settings.topic_decisions)
        self.firing_topic = firing_alerts_topic(settings)
        self.source = f"opsrules/{settings.app_id}"
        self.stores: dict[int, PartitionStore] = {}
        self.clocks: dict[int, EventClock] = {}  # per partition, for verification timers
        self.next_offsets: dict[TopicPartition, int] = {}
        self.context = DecisionContext(dry_run=settings.dry_run)

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
        due, due_updates = self.tick(now_ms)
        out += due
        for partition, store in self.stores.items():
            updates.extend(self._changelog(partition, store))
        return out, updates + due_updates

    def tick(self, now_ms: int) -> tuple[list[Outgoing], list[Outgoing]]:
        """Verifications due by each partition's event clock (no signal of their alert
        needed: a lost heartbeat sends none): escalations, and the changed states."""
        out: list[Outgoing] = []
        updates: list[Outgoing] = []
        for partition, store in self.stores.items():
            if not store.verifying:
                continue
            clock = self._clock(partition).at(now_ms)
            if clock is None:
                continue
            try:
                outcome = verify_due(self.rulebook, store, clock, self.context)
                out.extend(self._outputs(outcome, partition, now_ms))
            except Exception:  # a bug must not stop the tier: logged, counted, retried
                log.exception("verifying the actions of partition %d failed", partition)
                self.metrics.inc("opsrules_processing_errors_total", stage="verify")
            updates.extend(self._changelog(partition, store))
        return out, updates

    def _clock(self, partition: int) -> EventClock:
        clock = self.clocks.get(partition)
        if clock is None:
            idle_ms = int(self.settings.idle_timeout_s * 1000)
            clock = self.clocks[partition] = EventClock(idle_ms)
        return clock

    def _changelog(self, partition: int, store: PartitionStore) -> list[Outgoing]:
        updates = [
            Outgoing(
                self.changelog_topic,
                key.encode(),
                orjson.dumps(store.data[key].to_json()),
                partition=partition,
            )
            for key in sorted(store.changed)
        ]
        store.changed.clear()
        return updates

    def process_results(
        self, results: list[ActionResult], now_ms: int
    ) -> tuple[list[Outgoing], list[Outgoing]]:
        """Executors' results for verified actions of this worker's alerts: escalations
        (outputs) and the changed alert states (updates)."""
        out: list[Outgoing] = []
        updates: list[Outgoing] = []
        for partition, store in self.stores.items():
            for result in results:
                out.extend(self._apply_result(result, partition, store, now_ms))
            updates.extend(self._changelog(partition, store))
        return out, updates

    def _apply_result(
        self, result: ActionResult, partition: int, store: PartitionStore, now_ms: int
    ) -> list[Outgoing]:
        key = store.verifying.get(result.action_id)
        if key is None:
            return []  # not waited for here
        self.metrics.inc("opsrules_action_results_applied_total", status=result.status)
        try:
            outcome = decide_result(result, self.rulebook, store, key, self.context)
            return self._outputs(outcome, partition, now_ms)
        except Exception:  # a bug must not stop the tier; the result is logged and counted
            log.exception("applying the result of action %s failed", result.action_id)
            self.metrics.inc("opsrules_processing_errors_total", stage="result")
            return []

    def _decide(self, record: Any, store: PartitionStore, now_ms: int) -> list[Outgoing]:
        """Decode, decide, render and encode one signal under one guard: a bug in our
        code dead-letters this signal (``processing_error``), never stops the tier."""
        try:
            signal = decode(record.value, Signal, self.settings.max_record_bytes)
            if isinstance(signal, Rejected):
                return [self._dead_letter(signal, record, now_ms)]
            self._clock(record.partition).observe(signal.ts_ms, now_ms)
            outcome = decide(signal, self.rulebook, store, self.context)
            for rule_id in signal.rules:
                self.metrics.inc("opsrules_rule_evaluations_total", rule_id=rule_id)
            return self._outputs(outcome, record.partition, now_ms)
        except Exception as exc:
            log.exception(
                "deciding on %s/%d@%d failed; dead-lettered",
                record.topic,
                record.partition,
                record.offset,
            )
            return [self._dead_letter(processing_error(exc), record, now_ms)]

    def _outputs(self, outcome: Outcome, partition: int, now_ms: int) -> list[Outgoing]:
        """Actions, decision records and firing-alert changes of one outcome, which is
        applied to the context at once (the next signal of the batch sees it)."""
        self.context.apply(outcome)
        metrics = self.metrics
        out = []
        for suppressed in outcome.suppressed:
            metrics.inc("opsrules_suppressed_actions_total", reason=suppressed.reason)
            log.info(
                "suppressed %s of %s (%s): %s",
                suppressed.action_type,
                suppressed.rule_id,
                suppressed.fingerprint,
                suppressed.reason,
            )
        for decision in outcome.decisions:
            headers = cloudevent_headers(
                event_id=decision.action_id,
                event_type=f"decision.{decision.outcome}",
                source=self.source,
                time_ms=now_ms,
            )
            key = decision.fingerprint.encode()
            out.append(Outgoing(self.decisions_topic, key, encode(decision), headers))
        if self.publishes_firing:
            for key_text, alert in outcome.firing_changes.items():
                out.append(self._firing(key_text, alert, partition))
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

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> Outgoing:
        """The dead letter of a signal that was in flight at ``crashes`` crashes."""
        self.metrics.inc("opsrules_signals_decided_total")
        self.next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        return self._dead_letter(poison(crashes), record, now_ms)

    def _dead_letter(self, rejected: Rejected, record: Any, now_ms: int) -> Outgoing:
        self.metrics.inc("opsrules_deadletters_total", topic=record.topic, reason=rejected.reason)
        letter = dead_letter(rejected, record, record.value, now_ms)
        return Outgoing(self.deadletter_topic, record.key, encode(letter))

    def commits(self) -> Offsets:
        return {tp: (offset, "") for tp, offset in self.next_offsets.items()}

    def _firing(self, key: str, alert: FiringAlert | None, partition: int) -> Outgoing:
        if alert is None:
            return Outgoing(self.firing_topic, key.encode(), None)
        value = orjson.dumps({**alert.to_json(), "partition": partition})
        return Outgoing(self.firing_topic, key.encode(), value)

    def restore(
        self,
        partition: int,
        states: Mapping[str, Any],
        recent_results: dict[str, ActionResult] | None = None,
        now_ms: int = 0,
    ) -> tuple[list[Outgoing], list[Outgoing]]:
        """Take over a partition's alert states (changelog values by fingerprint, as
        ``read_compacted`` returns them; one that is not an alert state is logged and
        left out). Returns what catching up produced: the firing view corrected for this
        partition's alerts (a crash may have come between a state and its firing
        record), and escalations for results that arrived while the partition was
        elsewhere."""
        records = alert_records(states, partition)
        store = self.stores[partition] = PartitionStore()
        store.load(records)
        self.clocks.pop(partition, None)
        evaluated = [
            ms for record in records.values() if (ms := record.alert.last_eval_ms) is not None
        ]
        if evaluated:  # the clock resumes where it stopped
            self._clock(partition).observe(max(evaluated), now_ms)
        out = self._correct_firing(partition, records, republish=False)
        for action_id in list(store.verifying):
            result = (recent_results or {}).get(action_id)
            if result is not None:
                out.extend(self._apply_result(result, partition, store, now_ms))
        return out, self._changelog(partition, store)

    def _correct_firing(
        self, partition: int, records: Mapping[str, AlertRecord], *, republish: bool
    ) -> list[Outgoing]:
        """Make the firing view agree with a partition's records (``republish``: send
        every firing alert of it, whatever the view holds)."""
        out = []
        view = self.context.firing
        for key, record in records.items():
            alert = firing_alert(self.rulebook, key, record)
            known = view.by_fingerprint.get(key)
            if alert is not None and (
                republish or known is None or known.since_ms != alert.since_ms
            ):
                out.append(self._firing(key, alert, partition))
                view.put(alert)
        for key, known in list(view.by_fingerprint.items()):
            record = records.get(key)
            gone = record is None or firing_alert(self.rulebook, key, record) is None
            if known.partition == partition and gone:
                out.append(self._firing(key, None, partition))
                view.remove(key)
        return out if self.publishes_firing else []

    @property
    def publishes_firing(self) -> bool:
        """The firing view only serves inhibition: without inhibit rules its records
        are not sent (measured: 14% of the decision worker's CPU at 2.5k firings/s);
        the view of this worker's own alerts is kept all the same."""
        return bool(self.rulebook.policies.inhibit_rules)

    def revoke(self, tp: TopicPartition) -> None:
        self.stores.pop(tp.partition, None)
        self.clocks.pop(tp.partition, None)
        self.next_offsets.pop(tp, None)

    def reload(self, rulebook: CompiledRulebook, changed: set[str]) -> list[Outgoing]:
        """Decide with ``rulebook`` from now on. The alerts of the ``changed`` rules
        (edited or removed) start fresh: their states are deleted, with a tombstone on
        the changelog and, if they were firing, on the firing view. Alerts of unchanged
        rules keep their state."""
        turns_on = not self.publishes_firing and bool(rulebook.policies.inhibit_rules)
        self.rulebook = rulebook
        out = []
        for partition, store in self.stores.items():
            for key in [k for k, record in store.data.items() if record.rule_id in changed]:
                del store.data[key]
                store.changed.discard(key)
                out.append(Outgoing(self.changelog_topic, key.encode(), None, partition=partition))
                if self.context.firing.by_fingerprint.get(key) is not None:
                    self.context.firing.remove(key)
                    out.append(self._firing(key, None, partition))
            if turns_on:  # other workers learn of the alerts that fire here
                out += self._correct_firing(partition, store.data, republish=True)
        return out


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
        history = history_ms(settings, rulebook)
        self.views = DecisionViews(settings, self.batch.context, metrics, history_ms=history)
        super().__init__(settings, metrics, [self.batch.signals_topic], **kwargs)

    async def on_start(self) -> None:
        await self.views.start()  # every silence is known before the first decision
        await super().on_start()

    async def on_stop(self) -> None:
        await super().on_stop()
        await self.views.stop()

    def commits(self) -> Offsets:
        return self.batch.commits()

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> list[Outgoing]:
        return [self.batch.poisoned(record, crashes, now_ms)]

    async def reload(self, rulebook: CompiledRulebook, changed: set[str]) -> None:
        """Swap in ``rulebook`` between two batches (see :meth:`DecisionBatch.reload`)."""

        async def swap() -> None:
            await self.send_all(self.batch.reload(rulebook, changed))
            await self.commit(self.commits())

        await self.between_batches(swap)

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        started = time.monotonic()
        restored = await read_compacted(
            self.settings, self.batch.changelog_topic, [tp.partition for tp in partitions]
        )
        now_ms = int(time.time() * 1000)
        for partition, states in restored.items():
            out, updates = self.batch.restore(partition, states, self.views.recent_results, now_ms)
            await asyncio.gather(*await self.send_all(out))
            await asyncio.gather(*await self.send_all(updates))
        log.info(
            "restored %d alert states of partitions %s in %.2fs",
            sum(len(states) for states in restored.values()),
            sorted(restored),
            time.monotonic() - started,
        )

    def revoked(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.batch.revoke(tp)

    async def rewind(self) -> None:
        """Restore every partition's alert states from the changelog and read its
        signals again from the commit, as at a restart. A state is saved only after its
        actions were acknowledged, so the changelog holds none that a lost action led to
        (the chain of saves broke there)."""
        self._saving = None
        partitions = self.assignment()
        committed = await self.committed(partitions)
        self.revoked(partitions)
        await self.assigned(partitions)
        await self.seek_committed(committed)

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        results = self.views.take_results()
        if results:  # executors' reports, applied where their alerts live
            out, updates = self.batch.process_results(results, int(time.time() * 1000))
            await self._send_then_save(out, updates)
        if not batches:  # an idle poll: only verifications may be due
            out, updates = self.batch.tick(int(time.time() * 1000))
            await self._send_then_save(out, updates)
            return
        out, updates = self.batch.process(batches, now_ms=int(time.time() * 1000))
        await self._send_then_save(out, updates)

    async def _send_then_save(self, out: list[Outgoing], updates: list[Outgoing]) -> None:
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


def alert_records(states: Mapping[str, Any], partition: int) -> dict[str, AlertRecord]:
    """The alert records among changelog values; one that is not an alert state is
    logged and left out: one corrupt record must not stop a partition's restore."""
    records = {}
    for key, value in states.items():
        try:
            records[key] = AlertRecord.from_json(value)
        except AlertRecordError as exc:
            log.warning("alert state %s (partition %d) skipped: %s", key, partition, exc)
    return records


def history_ms(settings: OpsrulesSettings, rulebook: CompiledRulebook) -> int:
    """How far back decisions and results are read: the setting, or the rules' longest
    budget window (or four breaker cool-offs) if longer."""
    longest = [
        window
        for rule in rulebook.rules.values()
        for action in rule.rule.actions
        for window in (
            *(b.per_ms for b in action.budgets),
            *([action.circuit_breaker.cool_off_ms * 4] if action.circuit_breaker else []),
        )
    ]
    return max([int(settings.decision_history_s * 1000), *longest])
