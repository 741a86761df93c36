"""The firehose bench's kafka mode: records pre-loaded into a fresh metrics topic, then,
per repeat, the ceiling loop and the real :class:`FirehoseService` (a fresh consumer
group) over them, both timed from the assignment of their partitions; the service's
wall time split into phases (fetch, process, sends and acks, commit)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

from aiokafka import TopicPartition

from bench.firehose.ceiling import ceiling
from bench.firehose.results import counts, median, new_counters, rates
from bench.kafka_harness import delete_topics, kafka_settings, preload, wait_for_leaders
from bench.tables import environment, progress
from bench.workload import sample_records, span_ms
from processors.rules.compiler import CompiledRulebook
from streams.batch_loop import Offsets
from streams.firehose import FirehoseService
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics
from streams.worker import load_rulebook


class TimedFirehose(FirehoseService):
    """The real service, timed from the end of its partition assignment (group join
    and offset restore done; fetching starts) to the end of the batch that completes
    ``expect`` records (its signals acknowledged and its offsets committed).

    The wall time is split into phases without changing the loop: ``fetch`` (between
    two batches: in ``getmany``), ``process`` (``FirehoseBatch.process``), ``commit``,
    and ``send_and_acks`` (the rest of ``handle``: producer sends and waiting for acks).
    """

    def __init__(
        self, settings: OpsrulesSettings, rulebook: CompiledRulebook, expect: int, **kwargs: Any
    ) -> None:
        self.bench_counters = new_counters()
        super().__init__(settings, rulebook, self.bench_counters, **kwargs)
        self.input_topic = settings.topic(settings.topic_metrics)
        self.expect = expect
        self.assigned_at: tuple[float, float] | None = None
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.fetches = 0
        self.finished = asyncio.Event()
        self.phases = {"fetch": 0.0, "process": 0.0, "send_and_acks": 0.0, "commit": 0.0}
        self._handled_at: float | None = None
        process = self.batch.process

        def timed_process(batches: dict[TopicPartition, list[Any]], now_ms: int) -> Any:
            started = time.perf_counter()
            try:
                return process(batches, now_ms)
            finally:
                self._phase("process", time.perf_counter() - started)

        self.batch.process = timed_process  # type: ignore[method-assign]

    def _phase(self, name: str, seconds: float) -> None:
        if self.assigned_at is not None and self.last is None:
            self.phases[name] += seconds

    async def assigned(self, partitions: list[TopicPartition]) -> None:
        await super().assigned(partitions)
        if partitions and self.assigned_at is None:
            self.assigned_at = (time.perf_counter(), time.process_time())
            self._handled_at = self.assigned_at[0]

    async def commit(self, offsets: Offsets) -> bool:
        started = time.perf_counter()
        try:
            return await super().commit(offsets)
        finally:
            self._phase("commit", time.perf_counter() - started)

    async def handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        started = time.perf_counter()
        if self._handled_at is not None:
            self._phase("fetch", started - self._handled_at)
        if batches:
            self.fetches += 1
            if self.first is None:
                self.first = (started, time.process_time())
        before = dict(self.phases)
        await super().handle(batches)
        ended = time.perf_counter()
        inner = sum(self.phases[k] - before[k] for k in ("process", "commit"))
        self._phase("send_and_acks", ended - started - inner)
        self._handled_at = ended
        done = counts(self.bench_counters, self.input_topic)["records_in"]
        if self.last is None and done >= self.expect:
            self.last = (ended, time.process_time())
            self.finished.set()


async def firehose(
    settings: OpsrulesSettings, rulebook: CompiledRulebook, expect: int, timeout_s: float
) -> dict[str, Any]:
    service = TimedFirehose(settings, rulebook, expect, loop=asyncio.get_running_loop())
    await service.start()
    try:
        waited = time.monotonic()
        while not service.finished.is_set():
            if service.crashed:
                raise RuntimeError(f"firehose crashed: {service.crash_reason!r}")
            if time.monotonic() - waited > timeout_s:
                done = counts(service.bench_counters, service.input_topic)
                raise TimeoutError(f"firehose: {done} after {timeout_s}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.finished.wait(), 1.0)
    finally:
        await service.stop()
    assert service.assigned_at and service.first and service.last
    wall_s = service.last[0] - service.assigned_at[0]
    cpu_s = service.last[1] - service.assigned_at[1]
    done = counts(service.bench_counters, service.input_topic)
    records = done["records_in"]
    return {
        "records": records,
        "fetches": service.fetches,
        "first_fetch_s": round(service.first[0] - service.assigned_at[0], 4),
        **rates(records, records, wall_s, cpu_s),
        "phases_s": {name: round(value, 4) for name, value in service.phases.items()},
        **done,
    }


async def kafka_run(args: argparse.Namespace) -> dict[str, Any]:
    settings = kafka_settings(args.bootstrap, args.partitions)
    rulebook = load_rulebook(settings)
    topic = settings.topic(settings.topic_metrics)
    # Event times end a minute before now: inside max_age / max_future_skew.
    start_ms = (int(time.time() * 1000) // 60_000 - 1) * 60_000 - span_ms(args.records, args.series)
    progress(f"kafka: encoding {args.records:,} records; topics under {settings.topic_prefix}")
    encoded = sample_records(args.records, args.series, start_ms)
    await ensure_topics(settings)
    try:
        await wait_for_leaders(settings)
        progress(f"kafka: preloading {topic} on {settings.bootstrap_servers}")
        preload_s = await preload(settings, topic, encoded)
        progress(f"kafka: preloaded in {preload_s:.1f}s")
        tops, hoses, groups = [], [], []
        for n in range(args.repeat):  # interleaved, so drift hits both alike
            progress(f"kafka: run {n + 1}/{args.repeat}: ceiling loop")
            tops.append(await ceiling(settings, topic, args.records, args.timeout_s))
            progress(f"kafka: ceiling {tops[-1]['records_per_s']:,.0f} records/s; firehose")
            # A fresh consumer group each time, so each run reads the topic from the start.
            run_settings = settings.model_copy(update={"app_id": f"{settings.app_id}-{n}"})
            groups.append(run_settings.group_id("firehose"))
            hoses.append(await firehose(run_settings, rulebook, args.records, args.timeout_s))
            progress(f"kafka: firehose {hoses[-1]['records_per_s']:,.0f} records/s")
        spread = ("records_per_s", "cpu_s_per_million_records")
        top, hose = median(tops, spread), median(hoses, spread)
    finally:
        if not args.keep_topics:
            await delete_topics(settings)
    return {
        "mode": "kafka",
        "environment": environment(),
        "params": {
            "records": args.records,
            "series": args.series,
            "partitions": args.partitions,
            "max_records": settings.firehose_max_records,
            "bootstrap": settings.bootstrap_servers,
            "topic": topic,
            "group_ids": groups,
            "repeat": args.repeat,
            "topics_deleted": not args.keep_topics,
        },
        "record_bytes_avg": round(sum(len(e.value) for e in encoded) / max(len(encoded), 1), 1),
        "preload_s": round(preload_s, 3),
        "ceiling": top,
        "firehose": hose,
        "firehose_vs_ceiling": (
            round(hose["records_per_s"] / top["records_per_s"], 4) if top["records_per_s"] else 0.0
        ),
    }
