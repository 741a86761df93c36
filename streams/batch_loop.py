"""An aiokafka ``getmany`` batch loop hosted by the faust worker as a mode service.

Both tiers run on it (docs/architecture.md, "The loop and the tiers"; faust's per-event
agent machinery is what the decision tier measured as its bottleneck too): fetch a batch,
turn it into outgoing records with a pure-ish core, send them, fetch the next. Every
``OPSRULES_COMMIT_INTERVAL_MS`` a commit waits, in the background, until every record
sent so far is acknowledged and then commits the offsets taken when it started, so a
committed offset never runs ahead of an output that might be lost; before a rebalance
and at stop the loop waits for it. Waiting for acks per batch instead cost a broker
round trip per batch in latency, and waiting in the loop stalled every record behind
the commit. Subclasses say what to consume and implement
:meth:`BatchLoopService.handle` and the rebalance hooks; this class owns the clients,
the loop, the commits, the stop and the crash path.

**When Kafka does not answer** the loop neither crashes nor guesses; it does what a
restart would do, without the restart. (Measured before: a 16-second outage wrote
4,300 aiokafka error lines; past ``request_timeout_ms``, 40 s, the outputs not yet
acknowledged failed with ``NodeNotReadyError``, the commit raised it, the worker exited
1.)

- *Backpressure.* A send the producer could not take within ``request_timeout_ms``
  (its buffer stayed full) raised before anything was enqueued: it is sent again once
  the :class:`~streams.broker_watch.BrokerWatch` finds Kafka answering, so nothing is
  sent twice and the order is kept. One warning per failed attempt.
- *Pause.* While the watch finds Kafka down the loop takes no batch: the cores would
  count the outage as idle time and close windows whose records are still unread.
- *Rewind.* After an outage, or once an output the producer had taken was not
  acknowledged (``_on_ack``), nothing more is committed; when Kafka answers again the
  loop waits until every output sent so far is acknowledged or failed, then goes back
  to its last commit (:meth:`BatchLoopService.rewind`: the firehose rebuilds its cores
  from the commit metadata, the decision tier its alert states from its changelog) and
  reads on from the committed offsets. Outputs sent after the last commit go out again:
  duplicates with the same ids, as after a crash, never a gap, because a commit still
  waits for every ack before it.
- A commit Kafka refuses (a rebalance took the partitions meanwhile) is logged and
  skipped; the next one covers it. Restoring partitions at a rebalance is retried
  until Kafka answers.
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
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from processors.errors import KafkaUnavailableError
from streams.app import state_dir
from streams.broker_watch import BrokerWatch
from streams.codec import Headers
from streams.inflight import InflightMarker, ranges_of, split
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings
from streams.topics import group_offsets

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone on a compacted topic
    headers: Headers | None = None
    partition: int | None = None  # None: by key, as producers do


Offsets = dict[TopicPartition, tuple[int, str]]  # next offset to read, commit metadata

# What Kafka being unreachable or slow raises in our calls (aiokafka's errors, ours
# from the admin client's start, sockets, wait_for).
BROKER_ERRORS = (KafkaError, KafkaUnavailableError, OSError, TimeoutError)


class _StoppedError(Exception):
    """The service stopped while an output waited for Kafka: nothing more is sent or
    committed."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: BatchLoopService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        service = self.service
        service.ready.clear()
        async with service.restoring:
            await service.commit(service.commits())
            service.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        service = self.service
        async with service.restoring:
            while assigned and not service.stopping.is_set():
                try:
                    await service.assigned(list(assigned))
                    break
                except BROKER_ERRORS as exc:  # it reads from Kafka: again once it answers
                    log.warning(
                        "%s: restoring %d partitions failed (%r); retrying",
                        service.component,
                        len(assigned),
                        exc,
                    )
                    service.broker.suspect()
                    await asyncio.sleep(1)
                    await service.broker.wait_up(service.stopping)
        service.ready.set()


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
        self._committing: asyncio.Future[bool] | None = None
        self._commit_lock = asyncio.Lock()
        # The process's broker watch (the host sets the shared one), and what it saw.
        self.broker = BrokerWatch(settings)
        self._outages_seen = 0
        # The first output Kafka did not acknowledge since the last rewind: nothing is
        # committed until the loop went back to its last commit.
        self._lost: BaseException | None = None
        self.restoring = asyncio.Lock()  # a rebalance or a rewind restores, not both
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

    async def rewind(self) -> None:
        """Go back to the last commit, as a restart would: restore the state of every
        assigned partition from Kafka and read again from the committed offsets
        (:meth:`seek_committed`). Called between batches, with no output in flight."""
        raise NotImplementedError

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
        self._outages_seen = self.broker.outages
        self._consumer.subscribe(self.topics, listener=_Rebalance(self))
        self._loop_task = asyncio.create_task(self._run(), name=self.component)
        log.info("%s consuming %s as group %s", self.component, self.topics, self.group_id)

    @property
    def stopping(self) -> asyncio.Event:
        return self._stopping

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._loop_task is not None:
            # A send blocked on a Kafka that does not answer would only time out.
            timeout_s = 30 if self.broker.up.is_set() else 1
            try:
                await asyncio.wait_for(self._loop_task, timeout=timeout_s)
            except TimeoutError:
                log.warning(
                    "%s batch did not finish within %ds; not committed", self.component, timeout_s
                )
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
                if self._must_recover():
                    await self._recover()
                    continue
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
                        self._committing.result()  # a bug in it stops the loop
                    # In the background: the loop goes on fetching and processing while
                    # the acks come in (waiting here stalled every record behind it).
                    self._committing = asyncio.ensure_future(self.commit(self.commits()))
                    last_commit_s = time.monotonic()
            if not self._must_recover():
                await self.commit(self.commits())
        except (_StoppedError, asyncio.CancelledError) as exc:
            self.marker.begin({})  # a stop, not a crash: no record in flight is a suspect
            if isinstance(exc, asyncio.CancelledError):
                raise
            log.warning("%s stopped while Kafka did not answer; not committed", self.component)
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
        record, and a failed send is still seen by the commit. A record the producer
        cannot take (Kafka down or slow) is sent again until it is taken."""
        producer = self.producer
        acks = []
        for o in outgoing:
            try:
                ack = await producer.send(
                    o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
                )
            except KafkaTimeoutError:
                ack = await self._send_when_taken(o)
            ack.add_done_callback(self._on_ack)
            if keep_acks:
                acks.append(ack)
        return acks

    async def _send_when_taken(self, o: Outgoing) -> asyncio.Future[Any]:
        """Backpressure: the producer did not take ``o`` within ``request_timeout_ms``
        and enqueued nothing, so sending it again sends it once, in order."""
        while True:
            log.warning(
                "%s: the producer took no output for %s within request_timeout_ms (40s); "
                "sending it again once Kafka answers",
                self.component,
                o.topic,
            )
            self.broker.suspect()
            await asyncio.sleep(1)
            if not await self.broker.wait_up(self._stopping):
                raise _StoppedError
            try:
                ack: asyncio.Future[Any] = await self.producer.send(
                    o.topic, o.value, key=o.key, headers=o.headers, partition=o.partition
                )
            except KafkaTimeoutError:
                continue
            return ack

    def _on_ack(self, ack: asyncio.Future[Any]) -> None:
        if ack.cancelled() or ack.exception() is None or self._lost is not None:
            return
        self._lost = ack.exception()
        log.warning(
            "%s: Kafka did not acknowledge an output (%r); nothing is committed until the "
            "loop has gone back to its last commit",
            self.component,
            self._lost,
        )
        self.broker.suspect()

    def track(self, pending: asyncio.Future[Any]) -> None:
        """Make the next :meth:`commit` wait for ``pending`` as well; if it fails, an
        output is lost."""
        self._tracked.append(pending)

    async def commit(self, offsets: Offsets) -> bool:
        """Wait until every record sent so far is acknowledged or failed, then commit
        what changed since the last commit (one commit at a time). Commits nothing and
        returns False once an output was lost (the loop rewinds, see the module
        docstring) or when Kafka refuses the commit (a rebalance took the partitions;
        the next commit covers them)."""
        assert self._consumer is not None
        async with self._commit_lock:
            tracked, self._tracked = self._tracked, []
            for result in await asyncio.gather(*tracked, return_exceptions=True):
                if isinstance(result, BaseException) and self._lost is None:
                    self._lost = result
            await self.producer.flush()
            await asyncio.sleep(0)  # the acks' callbacks (_on_ack) have run
            if self._lost is not None:
                return False
            changed = {tp: pair for tp, pair in offsets.items() if self._committed.get(tp) != pair}
            if changed:
                try:
                    await self._consumer.commit(changed)
                except BROKER_ERRORS as exc:
                    log.warning(  # CommitFailedError: a rebalance; it restores from Kafka
                        "%s: Kafka refused the commit (%s); the next one covers it",
                        self.component,
                        type(exc).__name__,
                    )
                    return False
                self._committed.update(changed)
            return True

    def _must_recover(self) -> bool:
        """Kafka does not answer, did not since the last batch, or lost an output."""
        return (
            self._lost is not None
            or self.broker.outages != self._outages_seen
            or not self.broker.up.is_set()
        )

    async def _recover(self) -> None:
        """Pause while Kafka does not answer; then, with every output settled, go back to
        the last commit (:meth:`rewind`). Returns once done, or when the service stops."""
        while await self.broker.wait_up(self._stopping):
            outages = self.broker.outages
            try:
                await self.commit({})  # every output sent so far: acknowledged or lost
                await _either(self.ready, self._stopping)
                if self._stopping.is_set():
                    return
                async with self.restoring:
                    if not self.ready.is_set():  # a rebalance began: it restores first
                        continue
                    await self.rewind()
            except BROKER_ERRORS as exc:
                log.warning("%s: going back to the last commit failed (%r)", self.component, exc)
                self.broker.suspect()
                await asyncio.sleep(1)
                continue
            cause = "lost" if self._lost is not None else "outage"
            self.metrics.inc("opsrules_rewinds_total", component=self.component, cause=cause)
            log.warning(
                "%s: reading again from the last commit (%s), as after a restart",
                self.component,
                f"an output was lost: {self._lost!r}" if self._lost else "Kafka was unreachable",
            )
            self._lost = None
            self._outages_seen = outages
            return

    async def committed(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        """The group's commits of ``partitions`` (offset -1: none)."""
        found = await group_offsets(self.settings, self.group_id, partitions)
        return {tp: found.get(tp, OffsetAndMetadata(-1, "")) for tp in partitions}

    async def seek_committed(self, committed: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Read each partition of ``committed`` again from its committed offset; one
        without a commit from its beginning with ``auto_offset_reset=earliest``, as a
        restart would (with ``latest`` it reads on: a restart would skip more)."""
        assert self._consumer is not None
        for tp, meta in committed.items():
            if meta.offset >= 0:
                self._consumer.seek(tp, meta.offset)
            elif self.settings.auto_offset_reset == "earliest":
                await self._consumer.seek_to_beginning(tp)


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
