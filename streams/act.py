"""``opsrules act``: the executor. Consumes the action topics, delivers each action to the
receivers its routing tree names, and reports one ActionResult per action and receiver.

The deliveries themselves are pure plans (processors/executors/plans.py); this shell
performs their steps: HTTP requests (aiohttp), programs (``asyncio`` subprocesses, argv
only, in a session of their own so a timeout kills the whole group) and pauses.

**Effectively once.** Every finished delivery is written to the compacted
``<app_id>.act.deliveries`` topic (key ``<action id>/<receiver>``) together with its
result, and an action's offset is committed only when all its deliveries are finished
and those records acknowledged (the batch loop's commit waits for every ack). When
partitions are assigned (a start, a restart after a crash, a rebalance) the deliveries
topic is read first, so an action read again is delivered only to the receivers that
have no record there: those that were in flight when the process died. They get the
same request again, with the same ``Idempotency-Key`` (the action id). Deliveries of
one receiver do not wait for another's: each receiver has its queue and
``act_concurrency`` workers; past ``act_max_in_flight`` unfinished deliveries the
consumer pauses (see :meth:`ActService.handle`).

On SIGTERM act stops fetching, lets the deliveries in flight finish (at most the
receivers file's ``drain_timeout``), commits, and exits; what did not finish is
delivered again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import TopicPartition
from mode import Service
from pydantic import ValidationError

from processors.executors.loader import Receivers, load_receivers
from processors.executors.plans import Delivering, plan
from processors.executors.progress import PartitionProgress, RecentKeys
from processors.executors.requests import (
    ERROR_CHARS,
    Answer,
    HttpRequest,
    Program,
    Step,
    Verdict,
    Wait,
)
from processors.executors.routing import action_labels
from processors.records import Action, ActionResult
from processors.timestamps import format_ts
from streams.batch_loop import BatchLoopService, Offsets, Outgoing
from streams.codec import Rejected, cloudevent_headers, dead_letter, encode, rejected_for_validation
from streams.compacted import read_compacted
from streams.metrics import Metrics
from streams.programs import run_program
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic, deliveries_topic, topic_partitions

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 65_536  # of a server's answer or a program's output, kept to report
MAX_DONE_KEYS = 500_000  # deliveries remembered as done (processors/executors/progress.py)


@dataclass(frozen=True, slots=True)
class Delivery:
    tp: TopicPartition
    offset: int
    action: Action
    value: bytes
    headers: list[tuple[str, bytes]]
    receiver: str

    @property
    def key(self) -> str:
        return f"{self.action.id}/{self.receiver}"


class ActService(BatchLoopService):
    component = "act"

    def __init__(
        self,
        settings: OpsrulesSettings,
        receivers: Receivers,
        metrics: Metrics,
        *,
        dry_run: bool = False,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if dry_run:
            self.component = "act-dry-run"  # its own group: a dry run moves no offset of act's
        topics = [action_topic(settings, kind) for kind in ACTION_TYPES]
        super().__init__(settings, metrics, topics, **kwargs)
        self.receivers = receivers
        self.dry_run = dry_run
        self.env = dict(os.environ if env is None else env)
        self.deliveries_topic = deliveries_topic(settings)
        self.results_topic = settings.topic(settings.topic_actions_results)
        self.deadletter_topic = settings.topic(settings.topic_deadletter)
        self.source = f"opsrules/{settings.app_id}/act"
        self.done = RecentKeys(MAX_DONE_KEYS)  # deliveries finished, here or elsewhere
        self.progress: dict[TopicPartition, PartitionProgress] = {}
        self.queues: dict[str, asyncio.Queue[Delivery]] = {
            name: asyncio.Queue() for name in receivers.by_name
        }
        self.in_flight = 0
        self._paused: list[TopicPartition] = []  # while too many deliveries are unfinished
        self._idle = asyncio.Event()
        self._idle.set()
        self._draining = False
        self._workers: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None
        self._random = random.Random()
        # the values of the secrets, never printed (--dry-run shows <secret>)
        self._secrets = [
            value
            for name in secret_variables(receivers)
            if len(value := self.env.get(name, "")) >= 4
        ]

    # -- lifecycle ----------------------------------------------------------------------

    async def on_start(self) -> None:
        self._http = aiohttp.ClientSession()
        for name, queue in self.queues.items():
            for n in range(self.settings.act_concurrency):
                task = asyncio.create_task(self._work(name, queue), name=f"act:{name}:{n}")
                self._workers.append(task)
        await super().on_start()

    async def on_stop(self) -> None:
        self._draining = True  # take no new action; what is fetched is read again later
        drain_s = self.receivers.drain_timeout_ms / 1000
        if self.in_flight:
            log.info("act: waiting up to %.0fs for %d deliveries", drain_s, self.in_flight)
            try:
                await asyncio.wait_for(self._idle.wait(), drain_s)
            except TimeoutError:
                log.warning(
                    "act: %d deliveries still in flight after %.0fs; they are made again "
                    "at the next start",
                    self.in_flight,
                    drain_s,
                )
        await super().on_stop()  # the loop ends and commits what is finished
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        """Read what every instance delivered, so a record read again is delivered only
        where it was not."""
        for tp in partitions:
            self.progress.setdefault(tp, PartitionProgress())
        if self.dry_run:
            return
        found = await topic_partitions(self.settings, [self.deliveries_topic])
        states = await read_compacted(
            self.settings, self.deliveries_topic, [tp.partition for tp in found]
        )
        # added to what this process knows: its own latest may not be acknowledged yet
        for by_key in states.values():
            for key in by_key:
                self.done.add(key)
        log.info("act: %d deliveries known to be made", len(self.done))

    def revoked(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.progress.pop(tp, None)

    async def rewind(self) -> None:
        partitions = self.assignment()
        committed = await self.committed(partitions)
        with contextlib.suppress(TimeoutError):  # those still going are made again
            await asyncio.wait_for(self._idle.wait(), self.receivers.drain_timeout_ms / 1000)
        self.revoked(partitions)
        await self.assigned(partitions)
        await self.seek_committed(committed)

    def commits(self) -> Offsets:
        if self.dry_run:
            return {}
        out = {}
        for tp, progress in self.progress.items():
            offset = progress.committable()
            if offset is not None:
                out[tp] = (offset, "")
        return out

    def poisoned(self, record: Any, crashes: int, now_ms: int) -> list[Outgoing]:
        progress = self.progress.setdefault(
            TopicPartition(record.topic, record.partition), PartitionProgress()
        )
        progress.started(record.offset, 0)
        reason = f"the process died {crashes} times while this action was being read"
        return [self._dead_letter(Rejected("processing_error", reason), record, now_ms)]

    # -- fetching -----------------------------------------------------------------------

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """Start every record's deliveries; then, with ``act_max_in_flight`` or more
        deliveries unfinished, pause fetching until half of them are (the loop goes on
        polling, so the group keeps this member; waiting here instead would stop the
        polls for as long as a slow receiver takes)."""
        for tp, records in batches.items():
            progress = self.progress.setdefault(tp, PartitionProgress())
            for record in records:
                if self._draining:
                    return  # not started, not committed: read again at the next start
                await self._start(tp, record, progress)
        if self.in_flight >= self.settings.act_max_in_flight and not self._paused:
            consumer = self._consumer
            assert consumer is not None
            self._paused = list(consumer.assignment())
            consumer.pause(*self._paused)

    async def _start(self, tp: TopicPartition, record: Any, progress: PartitionProgress) -> None:
        now_ms = int(time.time() * 1000)
        try:
            action = Action.model_validate_json(record.value)
        except ValidationError as exc:
            progress.started(record.offset, 0)
            await self.send_all([self._dead_letter(rejected_for_validation(exc), record, now_ms)])
            return
        names = self.receivers.route.receivers(action_labels(action))
        todo = [n for n in names if f"{action.id}/{n}" not in self.done]
        self.metrics.inc("opsrules_act_actions_total", type=action.type)
        if len(todo) < len(names):
            self.metrics.inc("opsrules_act_deliveries_skipped_total", len(names) - len(todo))
        progress.started(record.offset, len(todo))
        headers = list(record.headers or [])
        for name in todo:
            self.in_flight += 1
            self._idle.clear()
            self.queues[name].put_nowait(
                Delivery(tp, record.offset, action, record.value, headers, name)
            )

    def _dead_letter(self, rejected: Rejected, record: Any, now_ms: int) -> Outgoing:
        self.metrics.inc("opsrules_deadletters_total", topic=record.topic, reason=rejected.reason)
        letter = dead_letter(rejected, record, record.value, now_ms)
        return Outgoing(self.deadletter_topic, record.key, encode(letter))

    # -- delivering ---------------------------------------------------------------------

    async def _work(self, name: str, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug of ours: reported as a failed delivery, act goes on
                log.exception("act: delivering %s to %s failed", delivery.action.id, name)
                try:
                    verdict = Verdict(False, "internal error (see act's log)", False)
                    await self._report(delivery, verdict, 0.0)
                except Exception:  # not reported: delivered again at the next start
                    log.exception("act: reporting %s to %s failed", delivery.action.id, name)
            finally:
                self._finished(delivery)

    def _finished(self, delivery: Delivery) -> None:
        progress = self.progress.get(delivery.tp)
        if progress is not None:  # else revoked meanwhile: the new owner commits it
            progress.finished(delivery.offset)
        self.in_flight -= 1
        if self._paused and self.in_flight <= self.settings.act_max_in_flight // 2:
            consumer = self._consumer
            assert consumer is not None
            assigned = consumer.assignment()
            consumer.resume(*(tp for tp in self._paused if tp in assigned))
            self._paused = []
        if self.in_flight == 0:
            self._idle.set()

    async def _deliver(self, delivery: Delivery) -> None:
        receiver = self.receivers.by_name[delivery.receiver]
        started = time.monotonic()
        it = Delivering(
            delivery.action,
            delivery.value,
            delivery.headers,
            self.env,
            self.receivers.by_name,
            self._random.random,
        )
        steps = plan(receiver, it)
        try:
            step = next(steps)
            while True:
                step = steps.send(await self._perform(step, delivery))
        except StopIteration as done:
            verdict: Verdict = done.value
        duration_ms = (time.monotonic() - started) * 1000
        await self._report(delivery, verdict, duration_ms)

    async def _report(self, delivery: Delivery, verdict: Verdict, duration_ms: float) -> None:
        """The result on the results topic and the delivery on the deliveries topic
        (the next commit waits for both acks); then it counts as done here."""
        action, receiver = delivery.action, delivery.receiver
        status = "succeeded" if verdict.ok else "failed"
        self.metrics.inc("opsrules_act_deliveries_total", receiver=receiver, status=status)
        self.metrics.inc("opsrules_act_attempts_total", verdict.attempts, receiver=receiver)
        self.metrics.observe("opsrules_act_delivery_seconds", duration_ms / 1000, receiver=receiver)
        if self.dry_run:
            return
        now_ms = int(time.time() * 1000)
        result = ActionResult(
            ts_ms=now_ms,
            action_id=action.id,
            status=status,
            executor=f"opsrules-act/{receiver}",
            message=verdict.error,
            receiver=receiver,
            attempts=verdict.attempts,
            duration_ms=round(duration_ms, 3),
            error="" if verdict.ok else verdict.error,
        )
        steps = [
            {"receiver": name, "status": "succeeded" if v.ok else "failed", "error": v.error}
            for name, v in verdict.steps
        ]
        value = result.model_dump(mode="json", exclude={"ts_ms"}) | {"ts": format_ts(now_ms)}
        if steps:
            value["steps"] = steps
        headers = cloudevent_headers(
            event_id=f"{action.id}/{receiver}",
            event_type=f"action.result.{status}",
            source=self.source,
            time_ms=now_ms,
        )
        done = {
            "action_id": action.id,
            "receiver": receiver,
            "status": status,
            "ts": format_ts(now_ms),
        }
        await self.send_all(
            [
                Outgoing(self.results_topic, action.id.encode(), orjson.dumps(value), headers),
                Outgoing(self.deliveries_topic, delivery.key.encode(), orjson.dumps(done)),
            ],
            keep_acks=False,
        )
        self.done.add(delivery.key)

    async def _perform(self, step: Step, delivery: Delivery) -> Answer:
        if isinstance(step, Wait):
            await asyncio.sleep(step.ms / 1000)
            return Answer()
        if self.dry_run:
            _print_step(step, delivery, self._secrets)
            return Answer(0) if isinstance(step, Program) else Answer(200)
        if isinstance(step, HttpRequest):
            return await self._http_request(step)
        return await run_program(step, MAX_ANSWER_BYTES)

    async def _http_request(self, request: HttpRequest) -> Answer:
        assert self._http is not None
        timeout = aiohttp.ClientTimeout(total=request.timeout_ms / 1000)
        try:
            async with self._http.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=timeout,
            ) as response:
                body = await response.content.read(MAX_ANSWER_BYTES)
                return Answer(response.status, body)
        except TimeoutError:
            return Answer(
                failure=f"no answer from {request.url} within {request.timeout_ms / 1000:g}s"
            )
        except aiohttp.ClientError as exc:
            return Answer(failure=f"{request.url}: {type(exc).__name__}: {exc}"[:ERROR_CHARS])


def _print_step(step: HttpRequest | Program, delivery: Delivery, secrets: list[str]) -> None:
    """--dry-run: what would be done, one JSON line per request or program, with every
    secret's value shown as ``<secret>``."""
    what: dict[str, Any] = {"action_id": delivery.action.id, "receiver": delivery.receiver}
    if isinstance(step, HttpRequest):
        body: Any = step.body.decode("utf-8", "replace")
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(step.body)
        what |= {"method": step.method, "url": step.url, "headers": step.headers, "body": body}
    else:
        what |= {"argv": list(step.argv), "timeout_s": step.timeout_ms / 1000}
    line = orjson.dumps(what).decode()
    for value in secrets:
        line = line.replace(orjson.dumps(value).decode()[1:-1], "<secret>")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def secret_variables(receivers: Receivers) -> dict[str, str]:
    """The environment variables the receivers file names for secrets, by receiver."""
    out = {}
    for receiver in receivers.by_name.values():
        settings = receiver.settings
        for field, value in settings.__dict__.items() if settings is not None else ():
            if field.endswith("_env"):
                for variable in value.values() if isinstance(value, dict) else [value]:
                    out[variable] = receiver.name
    return out


def run_act(
    settings: OpsrulesSettings,
    *,
    receivers_file: Path | None = None,
    dry_run: bool = False,
    timeout_s: float | None = None,
    loglevel: str = "info",
) -> int:
    """``opsrules act`` until stopped; the process exit code (2: a bad receivers file)."""
    from streams.worker import run_services

    path = receivers_file or settings.receivers_file
    loaded = load_receivers(path)
    if loaded.receivers is None:
        for error in loaded.errors:
            print(error, file=sys.stderr)
        print(
            f"opsrules act: {len(loaded.errors)} error(s) in {path}; "
            "`opsrules check` shows them too",
            file=sys.stderr,
        )
        return 2
    receivers = loaded.receivers
    for variable, receiver in sorted(secret_variables(receivers).items()):
        if not os.environ.get(variable):
            log.warning(
                "act: %s is not set: deliveries to receiver %s will fail until it is",
                variable,
                receiver,
            )
    log.info("act: %d receivers from %s", len(receivers.by_name), path)

    def services(loop: asyncio.AbstractEventLoop, metrics: Metrics) -> list[Service]:
        return [ActService(settings, receivers, metrics, dry_run=dry_run, loop=loop)]

    return run_services(settings, services, timeout_s=timeout_s, loglevel=loglevel)
