"""The firehose tier: one aiokafka ``getmany`` batch loop over the input topics.

faust's per-record stream machinery is too slow for raw telemetry (docs/architecture.md,
"The firehose tier"), so the input topics are read by a plain batch loop hosted inside the faust
worker as a mode service: fetch a batch, decode it, run each partition's
:class:`~processors.firehose.pipeline.PartitionPipeline` over it (the offline runner drives
the same), close the windows the watermark passed, send the signals and dead letters,
wait for the broker's acks, then commit.

Offsets are committed only up to the oldest record still inside an open window, with
the partition's event clock in the commit metadata. After a crash the records of open
windows are read again and re-added; records whose windows were already emitted are
recognised as replayed (not late) and skipped; so a restart re-emits nothing that was
emitted and loses nothing that was not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from aiokafka import TopicPartition
from mode import Service

from processors.firehose.anomaly_feed import AnomalyPlan
from processors.firehose.autoscalers import ScaleDecisions
from processors.firehose.canaries import CanaryAnalyses
from processors.firehose.pipeline import PartitionPipeline
from processors.firehose.routing import Routed
from processors.firehose.slos import SloMerge
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook
from streams.batch_loop import BatchLoopService, Offsets, Outgoing
from streams.codec import Rejected, dead_letter, encode, processing_error
from streams.inflight import poison
from streams.ingest import SOURCES, Limits, decode_input
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

FIREHOSE_GROUP = "firehose"  # consumer group id: <app_id>.firehose


class FirehoseBatch:
    """Turns fetched records into outgoing records; owns the routers of the partitions."""

    def __init__(
        self,
        settings: OpsrulesSettings,
        rulebook: CompiledRulebook,
        metrics: Metrics,
        carried: FirehoseBatch | None = None,
    ) -> None:
        """``carried``: the batch this one replaces (a hot reload, a rewind), whose SLO
        accounting and autoscalers' state each signals partition takes over
        (processors/firehose/slos.py, autoscalers.py)."""
        self.settings = settings
        self.rulebook = rulebook
        self.metrics = metrics
        # what a signals partition adds up across input partitions (SLOs, autoscalers),
        # carried from the batch this one replaces until the partition's pipeline is made
        self.carried: dict[TopicPartition, tuple[SloMerge, ScaleDecisions, CanaryAnalyses]] = {}
        if carried is not None:
            self.carried = dict(carried.carried)
            for tp, p in carried.pipelines.items():
                types = p.router.types
                if types.slo_merge or types.scaling or types.canaries:
                    self.carried[tp] = (types.slo_merge, types.scaling, types.canaries)
        self.sources = {
            settings.topic(getattr(settings, f"topic_{r}")): s for r, s in SOURCES.items()
        }
        # topic → its format (OPSRULES_FORMAT_<TOPIC>); signals are always native
        self.formats = {
            settings.topic(getattr(settings, f"topic_{r}")): settings.topic_format(r)
            for r in SOURCES
        }
        self.signals_topic = settings.topic(settings.topic_signals)
        self.deadletter_topic = settings.topic(settings.topic_deadletter)
        self.limits = Limits(
            max_record_bytes=settings.max_record_bytes,
            max_future_skew_ms=int(settings.max_future_skew_s * 1000),
            max_age_ms=int(settings.max_age_s * 1000),
        )
        self.pipelines: dict[TopicPartition, PartitionPipeline] = {}
        self.anomaly_plan = AnomalyPlan.of(rulebook, settings.anomaly_window_ms)
        if not rulebook.reads_signals:
            self.sources.pop(self.signals_topic, None)  # nothing reads signals back

    def pipeline(self, tp: TopicPartition) -> PartitionPipeline:
        pipeline = self.pipelines.get(tp)
        if pipeline is None:
            pipeline = self.pipelines[tp] = PartitionPipeline(
                self.rulebook,
                self.sources[tp.topic],
                ref_prefix=f"{tp.topic}/{tp.partition}",
                idle_timeout_ms=int(self.settings.idle_timeout_s * 1000),
                anomaly_plan=self.anomaly_plan,
                max_counter_series=self.settings.counter_series_max,
            )
            previous = self.carried.pop(tp, None)
            if previous is not None:
                pipeline.router.types.slo_merge.adopt(previous[0])
                pipeline.router.types.scaling.adopt(previous[1])
                pipeline.router.types.canaries.adopt(previous[2])
        return pipeline

    def process(self, batches: dict[TopicPartition, list[Any]], now_ms: int) -> list[Outgoing]:
        return list(self.process_iter(batches, now_ms))

    def process_iter(
        self, batches: dict[TopicPartition, list[Any]], now_ms: int
    ) -> Iterator[Outgoing]:
        """The outgoing records of a batch, made as they are taken: the shell sends each
        before the next is built, so a close of a million windows never holds a million
        signals (or their encodings) at once. Take it to the end before the next batch."""
        signals: list[Signal] = []
        metrics = self.metrics
        for tp, records in batches.items():
            pipeline = self.pipeline(tp)
            source = pipeline.source
            topic = tp.topic
            fmt = self.formats[topic]
            processed = replayed = 0
            rates, joins = pipeline.rates, pipeline.joins
            evicted = rates.evicted if rates is not None else 0
            hosts_evicted = joins.evicted if joins is not None else 0
            for record in records:
                # Every step of one record (decode, validate, route, window, evaluate)
                # under one guard: a bug in our code costs this record, never the loop.
                try:
                    decoded = decode_input(source, record.value, self.limits, now_ms, fmt)
                    if isinstance(decoded, Rejected):
                        yield self._dead_letter(decoded, record, now_ms)
                        continue
                    routed = pipeline.feed(
                        decoded, offset=record.offset, now_ms=now_ms, out=signals
                    )
                except Exception as exc:
                    yield self._failed(exc, record, now_ms)
                    continue
                if routed is Routed.PROCESSED:
                    processed += 1
                elif routed is Routed.LATE:
                    metrics.inc("opsrules_late_records_total", topic=topic)
                    late = Rejected(
                        "late",
                        "every window of this record was already emitted (event time "
                        f"behind the partition's watermark {pipeline.router.windows.watermark_ms})",
                    )
                    yield self._dead_letter(late, record, now_ms)
                else:
                    replayed += 1
                if signals:
                    yield from self._outgoing(signals)
                    signals.clear()
            metrics.inc("opsrules_records_total", len(records), topic=topic)
            metrics.inc("opsrules_records_processed_total", processed, topic=topic)
            metrics.inc("opsrules_records_replayed_total", replayed, topic=topic)
            if rates is not None:
                metrics.inc(
                    "opsrules_counter_series_evicted_total", rates.evicted - evicted, topic=topic
                )
            if joins is not None:
                metrics.inc(
                    "opsrules_host_joins_evicted_total", joins.evicted - hosts_evicted, topic=topic
                )
        for tp, pipeline in self.pipelines.items():
            router = pipeline.router
            filtered = router.filtered
            try:
                yield from self._outgoing(pipeline.close(now_ms))
            except Exception:  # no record to dead-letter: logged and counted, loop goes on
                log.exception("closing the windows of %s/%d failed", tp.topic, tp.partition)
                metrics.inc("opsrules_processing_errors_total", stage="close", topic=tp.topic)
            metrics.inc("opsrules_windows_filtered_total", router.filtered - filtered)

    def _outgoing(self, signals: Iterable[Signal]) -> Iterator[Outgoing]:
        topic, inc = self.signals_topic, self.metrics.inc
        for signal in signals:
            inc("opsrules_signals_total", kind=signal.kind)
            yield Outgoing(topic, signal.key.encode(), encode(signal))

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> Outgoing:
        """The dead letter of a record that was in flight at ``crashes`` crashes."""
        self.metrics.inc("opsrules_records_total", topic=record.topic)
        return self._dead_letter(poison(crashes), record, now_ms)

    def _failed(self, exc: Exception, record: Any, now_ms: int) -> Outgoing:
        log.exception("processing %s/%d@%d failed", record.topic, record.partition, record.offset)
        return self._dead_letter(processing_error(exc), record, now_ms)

    def _dead_letter(self, rejected: Rejected, record: Any, now_ms: int) -> Outgoing:
        self.metrics.inc("opsrules_deadletters_total", topic=record.topic, reason=rejected.reason)
        letter = dead_letter(rejected, record, record.value, now_ms)
        return Outgoing(self.deadletter_topic, record.key, encode(letter))

    def commits(self) -> Offsets:
        """Offset and metadata to commit for every partition that has a pipeline."""
        out = {}
        for tp, pipeline in self.pipelines.items():
            router = pipeline.router
            offset = router.committable_offset()
            if offset is None:
                continue
            metadata = json.dumps(
                {"max_event_ms": router.windows.max_event_ms, "next_offset": router.next_offset}
            )
            out[tp] = (offset, metadata)
        return out

    def restore(self, tp: TopicPartition, metadata: str) -> None:
        try:
            saved = json.loads(metadata) if metadata else None
            if not isinstance(saved, dict) or saved.get("max_event_ms") is None:
                return
            next_offset, max_event_ms = int(saved["next_offset"]), int(saved["max_event_ms"])
        except (ValueError, TypeError, KeyError):  # another tool's commit: start afresh
            log.warning("%s/%d: unreadable commit metadata %r", tp.topic, tp.partition, metadata)
            return
        router = self.pipeline(tp).router
        router.next_offset = next_offset
        router.windows.restore(max_event_ms, next_offset)

    def revoke(self, tp: TopicPartition) -> None:
        self.pipelines.pop(tp, None)
        self.carried.pop(tp, None)


class FirehoseService(BatchLoopService):
    """The firehose batch loop, hosted by the faust worker."""

    component = FIREHOSE_GROUP

    def __init__(
        self,
        settings: OpsrulesSettings,
        rulebook: CompiledRulebook,
        metrics: Metrics,
        **kwargs: Any,
    ) -> None:
        self.batch = FirehoseBatch(settings, rulebook, metrics)
        super().__init__(settings, metrics, self.batch.sources, **kwargs)

    @Service.timer(60.0)
    async def _log_counters(self) -> None:
        log.info("counters: %s", self.metrics.summary())

    def commits(self) -> Offsets:
        return self.batch.commits()

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> list[Outgoing]:
        return [self.batch.poisoned(record, crashes, now_ms)]

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        await self._restore(partitions, seek=False)

    async def _restore(self, partitions: list[TopicPartition], *, seek: bool) -> None:
        """Restore the partitions' cores from their commits (and read again from there)."""
        committed = await self.committed(partitions)
        for tp, meta in committed.items():
            if meta.offset >= 0:
                self.batch.restore(tp, meta.metadata)
        if seek:
            await self.seek_committed(committed)

    async def rewind(self) -> None:
        """Rebuild every partition's cores from its commit, as at a restart (SLOs'
        accounting carried over)."""
        self.batch = FirehoseBatch(self.settings, self.batch.rulebook, self.metrics, self.batch)
        await self._restore(self.assignment(), seek=True)

    async def reload(self, rulebook: CompiledRulebook, changed: set[str]) -> None:
        """Swap in ``rulebook`` between two batches the way a restart would: commit,
        rebuild every partition's cores, restore them from the commit and read again
        from it. Windows of unchanged rules come back as they were (their records are
        read again; windows already emitted stay emitted, so nothing is sent twice);
        windows of changed rules fill from the committed offset on (``changed`` is not
        needed: a rule's windows are keyed by its definition); SLOs' accounting is
        carried over."""

        async def swap() -> None:
            await self.commit(self.commits())
            self.batch = FirehoseBatch(self.settings, rulebook, self.metrics, self.batch)
            if sorted(self.batch.sources) != self.topics:
                self.resubscribe(self.batch.sources)  # the rebalance restores
                return
            await self._restore(self.assignment(), seek=True)

        await self.between_batches(swap)

    def revoked(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.batch.revoke(tp)

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        outgoing = self.batch.process_iter(batches, now_ms=int(time.time() * 1000))
        await self.send_all(outgoing, keep_acks=False)
