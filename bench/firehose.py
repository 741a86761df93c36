"""Firehose throughput on one core: records/s through ``FirehoseBatch.process``.

``--mode core`` (default) measures the per-batch core alone, with no Kafka I/O: N
pre-encoded metric samples (orjson, ``{"ts", "name", "value", "host", "service",
"labels"}``) from ``--series`` hosts, one per host per round, rounds 10 s of event time
apart, wrapped like aiokafka ``ConsumerRecord``s and fed to ``FirehoseBatch.process`` in
batches of ``--max-records`` (10,000, like ``getmany(max_records=10000)``) on one
partition, with the shipped rulebook (``rules/``). ``--batch-samples K`` adds a run over
metric batches (``{"ts", "host", "service", "samples": [K x {"name", "value",
"labels"}]}``, names cycling over :data:`BATCH_NAMES`): by default N // K of them from
series // K hosts, i.e. the same samples, series count and event-time span as the
single-sample run. Each run is repeated (``--repeat``, median shown) on a fresh
``FirehoseBatch``; the pre-built records are frozen out of the garbage collector so
its cost is that of the work. ``--profile`` adds one more run under cProfile (top
functions by cumulative and by own time). Event times are fixed (2026-01-01) and
``now_ms`` is the last event time: same arguments, same records, same signals.

``--mode kafka`` measures the real loop on a broker (``--bootstrap`` or
``OPSRULES_BOOTSTRAP_SERVERS``): N records are pre-loaded into a fresh metrics topic
under a unique topic prefix (event times ending a minute ago), then, per repeat, (1) a
plain aiokafka ``getmany`` + ``orjson.loads`` loop reads them (the ceiling) and (2) the
real :class:`FirehoseService` (a fresh consumer group) processes them, sending signals
with acks and committing as in production. Both are timed from the assignment of
their partitions (so the group join is excluded, the first fetch is not) to the last
record handled; the service's wall time is also split into phases (waiting in
``getmany``, ``process``, sends and acks, commit). The bench topics are deleted
afterwards (``--keep-topics`` keeps them).

    .venv/bin/python -m bench.firehose [--records N] [--series N] [--batch-samples K]
        [--mode core|kafka] [--profile] [--repeat R] [--json]

A human-readable table by default; one JSON object with ``--json``. Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import pstats
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.kafka_harness import delete_topics, kafka_settings, preload, wait_for_leaders
from bench.tables import environment, progress, table
from bench.workload import (
    BASE_TS_MS,
    BATCH_NAMES,
    Encoded,
    FakeRecord,
    batch_records,
    last_ts_ms,
    sample_records,
    span_ms,
)
from processors.rules.compiler import CompiledRulebook
from streams.batch_loop import Offsets
from streams.firehose import FirehoseBatch, FirehoseService
from streams.metrics import Metrics
from streams.settings import OpsrulesSettings, load_settings
from streams.topics import ensure_topics, topic_partitions
from streams.worker import load_rulebook

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "rules"

DEFAULT_RECORDS = 200_000
DEFAULT_SERIES = 1_000
DEFAULT_MAX_RECORDS = 10_000  # settings.firehose_max_records
PROFILE_TOP = 15


def new_counters() -> Metrics:
    """What FirehoseBatch counts into."""
    return Metrics()


def counts(metrics: Metrics, topic: str | None = None) -> dict[str, Any]:
    """Records in, processed, replayed, dead-lettered (by reason), signals out and window
    results not sent (the firehose's pre-filter). With ``topic``, the input counts are
    of that topic only (the firehose also reads the signals topic back when a rule is on
    ``source: signal``)."""
    dead: dict[str, int] = {}
    for (name, labels), value in metrics.counters.items():
        if name == "opsrules_deadletters_total":
            reason = dict(labels).get("reason", "?")
            dead[reason] = dead.get(reason, 0) + value

    def inputs(name: str) -> int:
        return metrics.total(name) if topic is None else metrics.value(name, topic=topic)

    return {
        "records_in": inputs("opsrules_records_total"),
        "processed": inputs("opsrules_records_processed_total"),
        "replayed": inputs("opsrules_records_replayed_total"),
        "dead_lettered": dead,
        "signals": metrics.total("opsrules_signals_total"),
        "windows_filtered": metrics.total("opsrules_windows_filtered_total"),
    }


# --------------------------------------------------------------------------- results


def _rates(records: int, samples: int, wall_s: float, cpu_s: float) -> dict[str, float]:
    return {
        "wall_s": round(wall_s, 4),
        "cpu_s": round(cpu_s, 4),
        "records_per_s": round(records / wall_s, 1) if wall_s > 0 else 0.0,
        "samples_per_s": round(samples / wall_s, 1) if wall_s > 0 else 0.0,
        "cpu_records_per_s": round(records / cpu_s, 1) if cpu_s > 0 else 0.0,
        "cpu_s_per_million_records": round(cpu_s / records * 1e6, 3) if records else 0.0,
    }


def _where(filename: str) -> str:
    """A profiled function's file, relative to the repository or the library root."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)$", filename)
    if stdlib:
        return stdlib.group(1)
    try:
        return str(Path(filename).resolve().relative_to(REPO))
    except ValueError:
        return filename


def profiletable(
    profile: cProfile.Profile, sort: str, top: int = PROFILE_TOP
) -> list[dict[str, Any]]:
    """The ``top`` functions by ``sort`` ("cumulative" or "tottime")."""
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (primitive, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = name if filename == "~" else f"{_where(filename)}:{line}({name})"
        rows.append(
            {
                "function": where,
                "calls": calls,
                "primitive_calls": primitive,
                "tottime_s": round(own, 4),
                "cumtime_s": round(cumulative, 4),
            }
        )
    key = "cumtime_s" if sort == "cumulative" else "tottime_s"
    rows.sort(key=lambda row: row[key], reverse=True)
    return rows[:top]


# --------------------------------------------------------------------------- core mode


def core_settings(**overrides: Any) -> OpsrulesSettings:
    values: dict[str, Any] = {"topic_prefix": "bench.", "rules_dir": RULES_DIR}
    values.update(overrides)
    return load_settings(**values)


def _timed_batches(
    batch: FirehoseBatch,
    tp: TopicPartition,
    chunks: list[list[FakeRecord]],
    now_ms: int,
    profiler: cProfile.Profile | None,
    label: str,
) -> tuple[float, float, int]:
    """Wall and CPU seconds inside ``process`` over every chunk, and records out."""
    outgoing = 0
    wall_s = cpu_s = 0.0
    total = sum(len(chunk) for chunk in chunks)
    reported = time.perf_counter()
    for done, chunk in enumerate(chunks, 1):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        out = batch.process({tp: chunk}, now_ms)
        if profiler is not None:
            profiler.disable()
        cpu_s += time.process_time() - cpu0
        wall_s += time.perf_counter() - wall0
        outgoing += len(out)
        if time.perf_counter() - reported > 2.0:
            reported = time.perf_counter()
            progress(f"{label}: {min(done * len(chunks[0]), total):,}/{total:,} records")
    return wall_s, cpu_s, outgoing


def run_core(
    settings: OpsrulesSettings,
    rulebook: CompiledRulebook,
    encoded: Sequence[Encoded],
    *,
    samples_per_record: int,
    now_ms: int,
    max_records: int,
    label: str,
    profile: bool = False,
) -> dict[str, Any]:
    """Every record through a fresh :class:`FirehoseBatch`, ``max_records`` at a time."""
    topic = settings.topic(settings.topic_metrics)
    tp = TopicPartition(topic, 0)
    records = [FakeRecord(topic, 0, i, e.key, e.value) for i, e in enumerate(encoded)]
    chunks = [records[i : i + max_records] for i in range(0, len(records), max_records)]
    counters = new_counters()
    batch = FirehoseBatch(settings, rulebook, counters)
    profiler = cProfile.Profile() if profile else None
    # The harness's own objects (the pre-built records) are frozen out of the garbage
    # collector, so that its cost in the figures is that of the work, not of the bench.
    gc.collect()
    gc.freeze()
    try:
        wall_s, cpu_s, outgoing = _timed_batches(batch, tp, chunks, now_ms, profiler, label)
    finally:
        gc.unfreeze()
    count = len(records)
    result: dict[str, Any] = {
        "records": count,
        "samples": count * samples_per_record,
        "samples_per_record": samples_per_record,
        "record_bytes_avg": round(sum(len(e.value) for e in encoded) / max(count, 1), 1),
        "hosts": len({e.series for e in encoded}),
        "batches": len(chunks),
        **_rates(count, count * samples_per_record, wall_s, cpu_s),
        **counts(counters),
        "outgoing": outgoing,
        "open_windows": sum(p.router.windows.open_windows for p in batch.pipelines.values()),
    }
    if profiler is not None:
        result["profile_cumulative"] = profiletable(profiler, "cumulative")
        result["profile_self"] = profiletable(profiler, "tottime")
    return result


def _median_run(
    settings: OpsrulesSettings,
    rulebook: CompiledRulebook,
    encoded: Sequence[Encoded],
    *,
    repeat: int,
    profile: bool,
    **kwargs: Any,
) -> dict[str, Any]:
    """``repeat`` timed runs (each on a fresh FirehoseBatch): the median one, with the
    rates of all; then one more under cProfile if asked."""
    label = kwargs.pop("label")
    runs = []
    for n in range(repeat):
        progress(f"core: timing {label} ({len(encoded):,} records), run {n + 1}/{repeat}")
        runs.append(run_core(settings, rulebook, encoded, label=label, **kwargs))
    runs.sort(key=lambda run: run["wall_s"])
    result = runs[(len(runs) - 1) // 2]
    result["repeat"] = repeat
    result["records_per_s_all"] = [run["records_per_s"] for run in runs]
    result["cpu_records_per_s_all"] = [run["cpu_records_per_s"] for run in runs]
    if profile:
        progress(f"core: profiling {label}")
        profiled = run_core(
            settings, rulebook, encoded, label=f"{label} (profiled)", profile=True, **kwargs
        )
        result["profile_wall_s"] = profiled["wall_s"]
        result["profile_cumulative"] = profiled["profile_cumulative"]
        result["profile_self"] = profiled["profile_self"]
    return result


def core_main(args: argparse.Namespace) -> dict[str, Any]:
    settings = core_settings(firehose_max_records=args.max_records)
    rulebook = load_rulebook(settings)
    plan = rulebook.plan("metric")
    k = args.batch_samples
    batch_count = (args.batch_records or max(1, args.records // k)) if k else None
    batch_hosts = (args.batch_hosts or max(1, args.series // k)) if k else None
    result: dict[str, Any] = {
        "mode": "core",
        "environment": environment(),
        "params": {
            "records": args.records,
            "series": args.series,
            "max_records": args.max_records,
            "repeat": args.repeat,
            "batch_samples": k,
            "batch_records": batch_count,
            "batch_hosts": batch_hosts,
            "batch_names": list(BATCH_NAMES) if k else None,
            "profile": args.profile,
            "rules": len(rulebook.rules),
            "metric_feeds": len(plan.feeds),
            "metric_record_rules": len(plan.record_rules),
        },
        "runs": {},
    }
    progress(f"core: encoding {args.records:,} single-sample records over {args.series:,} series")
    encoded = sample_records(args.records, args.series, BASE_TS_MS)
    result["runs"]["single"] = _median_run(
        settings,
        rulebook,
        encoded,
        repeat=args.repeat,
        profile=args.profile,
        samples_per_record=1,
        now_ms=last_ts_ms(args.records, args.series, BASE_TS_MS),
        max_records=args.max_records,
        label="single",
    )
    del encoded
    if k:
        assert batch_count is not None and batch_hosts is not None
        progress(f"core: encoding {batch_count:,} batches of {k} samples, {batch_hosts:,} hosts")
        batches = batch_records(batch_count, batch_hosts, k, BASE_TS_MS)
        result["runs"]["batch"] = _median_run(
            settings,
            rulebook,
            batches,
            repeat=args.repeat,
            profile=args.profile,
            samples_per_record=k,
            now_ms=last_ts_ms(batch_count, batch_hosts, BASE_TS_MS),
            max_records=args.max_records,
            label="batch",
        )
    return result


# --------------------------------------------------------------------------- kafka mode


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

    async def commit(self, offsets: Offsets) -> None:
        started = time.perf_counter()
        try:
            await super().commit(offsets)
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


async def ceiling(
    settings: OpsrulesSettings, topic: str, expect: int, timeout_s: float
) -> dict[str, Any]:
    """A plain ``getmany`` + ``orjson.loads`` loop over the topic, without a group, timed
    from the assignment of its partitions (like :class:`TimedFirehose`)."""
    partitions = await topic_partitions(settings, [topic])
    consumer = AIOKafkaConsumer(
        **settings.aiokafka_kwargs(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1_048_576,
    )
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
        **_rates(count, count, wall_s, cpu_s),
    }


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
        **_rates(records, records, wall_s, cpu_s),
        "phases_s": {name: round(value, 4) for name, value in service.phases.items()},
        **done,
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time, with the rates of all runs."""
    ordered = sorted(runs, key=lambda run: run["wall_s"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["records_per_s_all"] = [run["records_per_s"] for run in ordered]
    median["cpu_s_per_million_records_all"] = [run["cpu_s_per_million_records"] for run in ordered]
    return median


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
        top, hose = _median(tops), _median(hoses)
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


# --------------------------------------------------------------------------- output


def _profile_text(title: str, rows: list[dict[str, Any]]) -> str:
    text = table(
        ("function", "calls", "own s", "cum s"),
        [(r["function"], r["calls"], r["tottime_s"], r["cumtime_s"]) for r in rows],
    )
    return f"{title}\n{text}"


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    rows: list[tuple[object, ...]]
    head = f"python {env['python']} on {env['machine']}, {env['cpus']} cpus"
    if result["mode"] == "core":
        params = result["params"]
        out = [
            f"firehose core: FirehoseBatch.process, 1 partition, batches of "
            f"{params['max_records']:,}, shipped rulebook "
            f"({params['rules']} rules, {params['metric_feeds']} metric window feeds); {head}",
            "",
        ]
        rows = []
        for name, run in result["runs"].items():
            label = (
                "1 sample/record"
                if name == "single"
                else f"{run['samples_per_record']} samples/record"
            )
            rows.append(
                (
                    label,
                    run["hosts"],
                    run["records"],
                    run["samples"],
                    run["record_bytes_avg"],
                    run["wall_s"],
                    run["cpu_s"],
                    run["records_per_s"],
                    run["samples_per_s"],
                    run["cpu_records_per_s"],
                    run["signals"],
                )
            )
        out.append(
            table(
                (
                    "run",
                    "hosts",
                    "records",
                    "samples",
                    "bytes/rec",
                    "wall s",
                    "cpu s",
                    "records/s",
                    "samples/s",
                    "records/cpu-s",
                    "signals",
                ),
                rows,
            )
        )
        for name, run in result["runs"].items():
            if "profile_cumulative" in run:
                out += [
                    "",
                    _profile_text(
                        f"profile of {name} ({run['profile_wall_s']:.2f}s under cProfile), "
                        f"top {PROFILE_TOP} by cumulative time:",
                        run["profile_cumulative"],
                    ),
                    "",
                    _profile_text(f"top {PROFILE_TOP} by own time:", run["profile_self"]),
                ]
        return "\n".join(out)
    params = result["params"]
    top, hose = result["ceiling"], result["firehose"]
    rows = [
        (
            "getmany + orjson.loads (ceiling)",
            top["records"],
            top["wall_s"],
            top["records_per_s"],
            top["cpu_s_per_million_records"],
            "",
        ),
        (
            "FirehoseService",
            hose["records"],
            hose["wall_s"],
            hose["records_per_s"],
            hose["cpu_s_per_million_records"],
            hose["signals"],
        ),
    ]
    return "\n".join(
        [
            f"firehose on kafka {params['bootstrap']}: topic {params['topic']} "
            f"({params['partitions']} partition(s), {result['record_bytes_avg']} B/record, "
            f"preload {result['preload_s']:.1f}s); {head}",
            "",
            table(("loop", "records", "wall s", "records/s", "cpu s/M rec", "signals"), rows),
            "",
            f"firehose / ceiling: {result['firehose_vs_ceiling']:.1%}",
            "FirehoseService wall time by phase: "
            + ", ".join(f"{name} {value:.2f}s" for name, value in hose["phases_s"].items())
            + f" (cpu {hose['cpu_s']:.2f}s)",
        ]
    )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.firehose", description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=("core", "kafka"), default="core")
    p.add_argument("--records", type=positive, default=DEFAULT_RECORDS, help="records (N)")
    p.add_argument("--series", type=positive, default=DEFAULT_SERIES, help="hosts (series)")
    p.add_argument(
        "--batch-samples",
        type=int,
        default=0,
        metavar="K",
        help="core: also run metric batches of K samples each",
    )
    p.add_argument(
        "--batch-records",
        type=positive,
        default=None,
        help="core: how many batch records (default N // K: about N samples)",
    )
    p.add_argument(
        "--batch-hosts",
        type=positive,
        default=None,
        help="core: hosts sending the batches (default series // K: about as many "
        "metric series as the single-sample run)",
    )
    p.add_argument("--repeat", type=positive, default=3, help="timed runs (the median is shown)")
    p.add_argument(
        "--max-records", type=positive, default=DEFAULT_MAX_RECORDS, help="records per batch"
    )
    p.add_argument("--profile", action="store_true", help="core: cProfile each run as well")
    p.add_argument("--bootstrap", default=None, help="kafka: default OPSRULES_BOOTSTRAP_SERVERS")
    p.add_argument("--partitions", type=positive, default=1, help="kafka: topic partitions")
    p.add_argument("--timeout-s", type=float, default=600.0, help="kafka: give up after this")
    p.add_argument("--keep-topics", action="store_true", help="kafka: do not delete the topics")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    if args.batch_samples < 0:
        parser().error("--batch-samples must be >= 0")
    result = core_main(args) if args.mode == "core" else asyncio.run(kafka_run(args))
    out(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
