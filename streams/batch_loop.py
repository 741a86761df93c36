"""An aiokafka ``getmany`` batch loop hosted by the faust worker as a mode service.

Both tiers run on it (DESIGN.md, "Two tiers"; faust's per-event agent machinery is
what the decision tier measured as its bottleneck too): fetch a batch, turn it into
outgoing records with a pure-ish core, send them, fetch the next. Every
``OPSRULES_COMMIT_INTERVAL_MS`` a commit waits, in the background, until every record
sent so far is acknowledged and then commits the offsets taken when it started, so a
committed offset never runs ahead of an output that might be lost; before a rebalance
and at stop the loop waits for it. Waiting for acks per batch instead cost a broker
round trip per batch in latency, and waiting in the loop stalled every record behind
the commit. Subclasses say what to consume and implement
:meth:`BatchLoopService.handle` and the rebalance hooks; this class owns the clients,
the loop, the commits, the stop and the crash path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from mode import Service

from streams.app import state_dir
from streams.codec import Headers
from streams.inflight import InflightMarker, ranges_of, split
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone on a compacted topic
    headers: Headers | None = None
    partition: int | None = None  # None: by key, as producers do


Offsets = dict[TopicPartition, tuple[int, str]]  # next offset to read, commit metadata


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: BatchLoopService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.service.ready.clear()
        await self.service.commit(self.service.commits())
        self.service.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            await self.service.assigned(list(assigned))
        self.service.ready.set()


class BatchLoopService(Service):
    """One consumer group over ``topics``, one producer, one batch at a time."""

    component = "batch"  # names the consumer group (<app_id>.<component>) and the task

    def __init__(
        self, settings: OpsrulesSettings, metrics: Metrics, topics: Iterable[str], **kwargs: Any
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topics = sorted(topics)
        self.group_id = settings.group_id(self.component)
        self._stopping = asyncio.Event()
        # Set once the partitions of the current assignment are restored. aiokafka may
        # hand out records of a new assignment while ``assigned`` is still restoring,
        # so a fetched batch waits for it.
        self.ready = asyncio.Event()
        self.start_after: asyncio.Event | None = None  # set by the host: consume once set
        self._between: list[tuple[Callable[[], Awaitable[None]], asyncio.Future[None]]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._committed: Offsets = {}
        self._tracked: list[asyncio.Future[Any]] = []
        self._committing: asyncio.Future[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._send_error: BaseException | None = None
        # Which records are in flight, kept across crashes (streams/inflight.py).
        self.marker = InflightMarker(state_dir(settings) / "inflight", self.component)
        if self.marker.crashed:
            log.warning(
                "%s: the previous process died while handling %s; those records are "
                "handled one at a time, and one in flight at %d crashes is dead-lettered",
                self.component,
                ", ".join(f"{k}@{a}..{b}" for k, (a, b) in sorted(self.marker.crashed.items())),
                settings.max_crashes_per_record,
            )
        super().__init__(**kwargs)

    # -- what subclasses provide ------------------------------------------------------

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """Process one fetched batch and send its outputs (:meth:`send_all`). Called
        with an empty dict when a poll timed out."""
        raise NotImplementedError

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> list[Outgoing]:
        """Outputs for a record that was being handled at ``crashes`` crashes of the
        process, instead of handling it again (see :mod:`streams.inflight`)."""
        raise NotImplementedError

    def commits(self) -> Offsets:
        """What may be committed once everything sent so far is acknowledged (called
        every ``commit_interval_ms``, before partitions are revoked, and at stop)."""
        return {}

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        """Partitions joined this worker: restore their state before the next batch."""

    def revoked(self, partitions: list[TopicPartition]) -> None:
        """Partitions left this worker (their offsets were just committed)."""

    # -- the loop ---------------------------------------------------------------------

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "the service has not started"
        return self._producer

    async def on_start(self) -> None:
        kafka = self.settings.aiokafka_kwargs()
        client_id = f"{self.settings.app_id}-{self.component}"
        self._consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset=self.settings.auto_offset_reset,
            max_partition_fetch_bytes=4 * 1_048_576,
            # aiokafka keeps one fetch per broker in flight: with the default 500 ms an
            # empty input topic stalls the busy ones (measured: 42k → 75k records/s).
            fetch_max_wait_ms=50,
            session_timeout_ms=int(self.settings.session_timeout_s * 1000),
            heartbeat_interval_ms=int(self.settings.session_timeout_s * 100),
            **kafka,
        )
        self._producer = AIOKafkaProducer(
            client_id=client_id, acks="all", linger_ms=5, max_request_size=4 * 1_048_576, **kafka
        )
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe(self.topics, listener=_Rebalance(self))
        self._loop_task = asyncio.create_task(self._run(), name=self.component)
        log.info("%s consuming %s as group %s", self.component, self.topics, self.group_id)

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout=30)
            except TimeoutError:
                log.warning("%s batch did not finish within 30s; not committed", self.component)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        log.info("%s stopped: %s", self.component, self.metrics.summary())

    async def _run(self) -> None:
        assert self._consumer is not None
        settings = self.settings
        interval_s = settings.commit_interval_ms / 1000
        if self.start_after is not None:
            await _either(self.start_after, self._stopping)
        self.metrics.set(
            "opsrules_loop_started_timestamp_seconds", time.time(), component=self.component
        )
        last_commit_s = time.monotonic()
        try:
            while not self._stopping.is_set():
                await self._run_between()
                batches = await self._consumer.getmany(
                    timeout_ms=settings.firehose_poll_timeout_ms,
                    max_records=settings.firehose_max_records,
                )
                if batches and not self.ready.is_set():
                    await _either(self.ready, self._stopping)
                    if self._stopping.is_set():
                        break
                    # A rebalance during the wait may have taken some partitions away.
                    assignment = self._consumer.assignment()
                    batches = {tp: rs for tp, rs in batches.items() if tp in assignment}
                await self._handle_marked(batches)
                if time.monotonic() - last_commit_s >= interval_s and (
                    self._committing is None or self._committing.done()
                ):
                    if self._committing is not None:
                        self._committing.result()  # a failed commit stops the loop
                    # In the background: the loop goes on fetching and processing while
                    # the acks come in (waiting here stalled every record behind it).
                    self._committing = asyncio.ensure_future(self.commit(self.commits()))
                    last_commit_s = time.monotonic()
            await self.commit(self.commits())
        except Exception as exc:
            log.exception("%s loop crashed; stopping the worker", self.component)
            await self.crash(exc)  # the worker stops and exits non-zero

    async def _handle_marked(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """:meth:`handle`, with the records in flight written to the marker first, and
        suspects of earlier crashes handled one at a time or dead-lettered."""
        if not batches:
            await self.handle(batches)
            return
        marker, kill_on = self.marker, self.settings.fault_kill_on
        for part, crashes in split(marker.ledger, batches, self.settings.max_crashes_per_record):
            marker.begin(ranges_of(part))
            if crashes:
                ((tp, (record,)),) = part.items()
                log.error(
                    "%s/%d@%d was being handled at %d crashes of the worker; dead-lettered",
                    tp.topic,
                    tp.partition,
                    record.offset,
                    crashes,
                )
                await self.send_all(self.poisoned(record, crashes, int(time.time() * 1000)))
            else:
                if kill_on is not None:
                    _kill_on(kill_on, part)
                await self.handle(part)
            marker.done()

    def resubscribe(self, topics: Iterable[str]) -> None:
        """Consume ``topics`` from now on (a rebalance follows: revoke, then assign)."""
        assert self._consumer is not None
        self.topics = sorted(topics)
        self.ready.clear()  # no batch until the new assignment is restored
        self._consumer.subscribe(self.topics, listener=_Rebalance(self))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert self._consumer is not None
        self._consumer.seek(tp, offset)

    def assignment(self) -> list[TopicPartition]:
        assert self._consumer is not None
        return sorted(self._consumer.assignment())

    async def between_batches(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` in the loop between two batches (nothing is being processed or
        sent meanwhile) and wait until it is done; its error is raised here."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._between.append((work, done))
        await done

    async def _run_between(self) -> None:
        while self._between:
            work, done = self._between.pop(0)
            try:
                await work()
            except Exception as exc:  # the caller decides; the loop goes on
                done.set_exception(exc)
            else:
                done.set_result(None)

    async def send_all(
        self, outgoing: Iterable[Outgoing], *, keep_acks: bool = True
    ) -> list[asyncio.Future[Any]]:
        """Send every record without waiting for the acks; the next :meth:`commit` waits
        for them. Returns the acks' futures (for callers that order later sends on
        them) unless ``keep_acks`` is false: a large close then holds no future per
        record, and a failed send is still seen by the commit."""
        producer = self.producer
        acks = []
        for o in outgoing:
            ack = await producer.send(
                o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
            )
            ack.add_done_callback(self._on_ack)
            if keep_acks:
                acks.append(ack)
        return acks

    def _on_ack(self, ack: asyncio.Future[Any]) -> None:
        if self._send_error is None and not ack.cancelled() and ack.exception() is not None:
            self._send_error = ack.exception()

    def track(self, pending: asyncio.Future[Any]) -> None:
        """Make the next :meth:`commit` wait for ``pending`` as well."""
        self._tracked.append(pending)

    async def commit(self, offsets: Offsets) -> None:
        """Wait until every record sent so far is acknowledged, then commit what changed
        since the last commit (one commit at a time). A failed send raises here and
        stops the loop."""
        assert self._consumer is not None
        async with self._commit_lock:
            tracked, self._tracked = self._tracked, []
            await asyncio.gather(*tracked)
            await self.producer.flush()
            if self._send_error is not None:
                raise self._send_error
            changed = {tp: pair for tp, pair in offsets.items() if self._committed.get(tp) != pair}
            if changed:
                await self._consumer.commit(changed)
                self._committed.update(changed)


def _kill_on(text: str, batches: dict[TopicPartition, list[Any]]) -> None:
    """Fault injection (``OPSRULES_FAULT_KILL_ON``): die as the OOM killer would."""
    needle = text.encode()
    for records in batches.values():
        for record in records:
            if record.value is not None and needle in record.value:
                log.error(
                    "fault injection: killed at %s/%d@%d",
                    record.topic,
                    record.partition,
                    record.offset,
                )
                os.kill(os.getpid(), signal.SIGKILL)


async def _either(*events: asyncio.Event) -> None:
    """Until one of ``events`` is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
