"""The firehose bench's core mode: ``FirehoseBatch.process`` alone, with no Kafka I/O, on
pre-encoded metric samples (and metric batches with ``--batch-samples``) wrapped like
aiokafka records; each run repeated on a fresh batch, the median kept, and one more run
under cProfile with ``--profile``."""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from bench.firehose.profiling import profiletable
from bench.firehose.results import counts, median, new_counters, rates
from bench.tables import environment, progress
from bench.workload import (
    BASE_TS_MS,
    BATCH_NAMES,
    RULES_DIR,
    Encoded,
    FakeRecord,
    batch_records,
    last_ts_ms,
    sample_records,
)
from processors.rules.compiler import CompiledRulebook
from streams.firehose import FirehoseBatch
from streams.settings import OpsrulesSettings, load_settings
from streams.worker import load_rulebook


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
        **rates(count, count * samples_per_record, wall_s, cpu_s),
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
    result = median(runs, ("records_per_s", "cpu_records_per_s"), repeat=repeat)
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
    timed = functools.partial(
        _median_run,
        settings,
        rulebook,
        repeat=args.repeat,
        profile=args.profile,
        max_records=args.max_records,
    )
    encoded = sample_records(args.records, args.series, BASE_TS_MS)
    result["runs"]["single"] = timed(
        encoded,
        samples_per_record=1,
        now_ms=last_ts_ms(args.records, args.series, BASE_TS_MS),
        label="single",
    )
    del encoded
    if k:
        assert batch_count is not None and batch_hosts is not None
        progress(f"core: encoding {batch_count:,} batches of {k} samples, {batch_hosts:,} hosts")
        batches = batch_records(batch_count, batch_hosts, k, BASE_TS_MS)
        result["runs"]["batch"] = timed(
            batches,
            samples_per_record=k,
            now_ms=last_ts_ms(batch_count, batch_hosts, BASE_TS_MS),
            label="batch",
        )
    return result
