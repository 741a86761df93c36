"""Latency: produce → action, through the real worker, at a fixed offered rate.

Starts ``opsrules worker`` as a child process (unique topic prefix, app id and state
dir; ``OPSRULES_RULES_DIR=bench/rulebooks/latency``, whose two rules fire on everything this bench
sends; a small ``OPSRULES_IDLE_TIMEOUT_S``), waits until a warm-up record made it
through to an action (group joins and topic creation out of the way), then for
``--seconds`` offers ``--rate`` records/s, paced in small batches, a ``--log-share`` of
them FATAL logs and the rest metric samples:

- each log has its own ``service`` (``lat-<seq>``) and its send time in
  ``attributes.sent_ns``; the record rule fires on it at once, and its action's evidence
  carries the record back: **record latency** = action received − record sent;
- each metric sample is stamped with its send time as event time and goes to host
  ``w<h>-<second>`` (one series per host and 1-second window, because a series that
  stays true would keep one alert firing and send no new action), on partition ``h``
  mod partitions (so every partition's watermark moves every window); the window rule
  (1 s tumbling count, grace 200 ms, ``value > 0``) fires once per window: **window
  latency** = action received − window end (wall time = event time here). It includes
  the grace (a window cannot close before its end + grace). Windows that end within
  the grace of the last sample of their partition can only be closed by the idle
  timeout; they are reported apart.

A consumer of ``ops.actions.alert`` stamps each fetched batch with ``time.time_ns()``
(one clock, one machine) and matches actions to sends; after the last send it waits
up to ``--drain-s`` for the missing ones, then stops the worker with SIGTERM. A second
consumer reads ``ops.signals`` to split the latency into stages by Kafka CreateTimes:
sent → signal (firehose), signal → action (decision tier), action → bench. The
bench's topics (and faust's) are deleted afterwards unless ``--keep-topics``.

    .venv/bin/python -m bench.latency [--rate 5000] [--seconds 20] [--log-share 0.5]
        [--hosts 10] [--bootstrap HOST:PORT] [--json]

A table by default; one JSON object with ``--json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench import tables
from bench.kafka_harness import wait_for_leaders
from bench.tables import table
from processors.records import parse_ts_ms
from streams.settings import OpsrulesSettings, load_settings
from streams.topics import action_topic, ensure_topics, topic_partitions
from streams.worker_process import start_worker, stop_worker

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "bench" / "rulebooks" / "latency"

# Must agree with bench/rulebooks/latency/rules.yaml.
RECORD_RULE = "bench_latency_record"
WINDOW_RULE = "bench_latency_window"
METRIC_NAME = "bench.latency"
WINDOW_MS = 1_000
GRACE_MS = 200

DEFAULT_RATE = 5_000
DEFAULT_SECONDS = 20.0
DEFAULT_LOG_SHARE = 0.5
DEFAULT_HOSTS = 10
DEFAULT_IDLE_TIMEOUT_S = 1.0
DEFAULT_DRAIN_S = 60.0
TICK_S = 0.005  # the producer sends what is due every 5 ms
WARMUP_TIMEOUT_S = 120.0
PRODUCER = {"acks": "all", "linger_ms": 0}  # a telemetry producer sending as it goes


def progress(message: str) -> None:
    print(f"[bench.latency] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- worker


def bench_settings(bootstrap: str | None, idle_timeout_s: float) -> OpsrulesSettings:
    """Unique topic prefix, app id and state dir, like tests' ``isolated_settings``."""
    run = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "topic_prefix": f"lat-{run}.",
        "app_id": f"opsrules-lat-{run}",
        "state_dir": Path(tempfile.gettempdir()) / f"opsrules-lat-{run}",
        "rules_dir": RULES_DIR,
        "idle_timeout_s": idle_timeout_s,
    }
    if bootstrap:
        values["bootstrap_servers"] = bootstrap
    return load_settings(**values)


def busy_share(before: Any, after: Any) -> float:
    """Share of all cpus' time that was not idle between two ``psutil.cpu_times()``."""
    idle = (after.idle + getattr(after, "iowait", 0)) - (before.idle + getattr(before, "iowait", 0))
    total = sum(after) - sum(before)
    return round(1 - idle / total, 3) if total > 0 else 0.0


def worker_usage(pid: int) -> dict[str, float]:
    try:
        proc = psutil.Process(pid)
        cpu = proc.cpu_times()
        return {"cpu_s": cpu.user + cpu.system, "rss_bytes": float(proc.memory_info().rss)}
    except psutil.Error:
        return {"cpu_s": 0.0, "rss_bytes": 0.0}


async def delete_bench_topics(settings: OpsrulesSettings) -> list[str]:
    """Every topic under the bench's prefix, and faust's (named after the app id)."""
    admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
    await admin.start()
    try:
        names = [
            name
            for name in await admin.list_topics()
            if name.startswith(settings.topic_prefix) or name.startswith(f"{settings.app_id}-")
        ]
        if names:
            await admin.delete_topics(names)
        return sorted(names)
    finally:
        await admin.close()


# --------------------------------------------------------------------------- records


def log_record(seq: int, sent_ns: int) -> tuple[bytes, bytes]:
    service = f"lat-{seq}"
    value = {
        "ts": sent_ns // 1_000_000,
        "host": "bench",
        "service": service,
        "severity_number": 21,
        "body": "latency bench",
        "attributes": {"sent_ns": sent_ns, "seq": seq},
    }
    return service.encode(), orjson.dumps(value)


def window_host(h: int, ts_ms: int) -> str:
    """One series per bench host and 1-second window."""
    return f"w{h}-{ts_ms // WINDOW_MS}"


def metric_record(h: int, sent_ns: int) -> tuple[bytes, bytes]:
    ts_ms = sent_ns // 1_000_000
    host = window_host(h, ts_ms)
    value = {"ts": ts_ms, "name": METRIC_NAME, "value": 1.0, "host": host, "service": "bench"}
    return host.encode(), orjson.dumps(value)


def warmup_record(n: int) -> tuple[bytes, bytes]:
    service = f"warmup-{n}"
    value = {
        "ts": time.time_ns() // 1_000_000,
        "host": "bench",
        "service": service,
        "severity_number": 21,
        "body": "latency bench warm-up",
    }
    return service.encode(), orjson.dumps(value)


# --------------------------------------------------------------------------- the run


@dataclass
class Tally:
    """What was sent and what came back."""

    log_sent_ns: dict[int, int] = field(default_factory=dict)  # seq -> sent
    windows: set[tuple[str, int]] = field(default_factory=set)  # (host, start) sent
    metrics_sent: int = 0
    first_send_ns: int = 0
    last_send_ns: int = 0
    last_metric_ms: dict[int, int] = field(default_factory=dict)  # partition -> last ts
    window_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    record_recv_ns: dict[int, int] = field(default_factory=dict)  # seq -> received
    window_recv_ns: dict[tuple[str, int], int] = field(default_factory=dict)
    # Kafka CreateTime (ms) of the signal and of the action of each record / window:
    # when the firehose and the decision tier sent them.
    record_signal_ms: dict[int, int] = field(default_factory=dict)
    window_signal_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    record_action_ms: dict[int, int] = field(default_factory=dict)
    window_action_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    duplicates: int = 0
    resolved: int = 0
    warmup_seen: bool = False
    other: int = 0

    def complete(self) -> bool:
        return len(self.record_recv_ns) >= len(self.log_sent_ns) and len(
            self.window_recv_ns
        ) >= len(self.windows)

    def take_signal(self, value: bytes, created_ms: int) -> None:
        signal = orjson.loads(value)
        if signal.get("kind") == "window":
            if signal.get("values", {}).get("count"):  # not the empty windows after it
                key = (signal["group"].get("host", ""), signal["window_start_ms"])
                self.window_signal_ms.setdefault(key, created_ms)
            return
        seq = ((signal.get("record") or {}).get("attributes") or {}).get("seq")
        if seq is not None:
            self.record_signal_ms.setdefault(seq, created_ms)

    def take(self, value: bytes, recv_ns: int, created_ms: int) -> None:
        action = orjson.loads(value)
        rule = action.get("rule_id")
        if action.get("status") != "firing":
            self.resolved += 1
            return
        evidence = (action.get("evidence") or [{}])[0]
        if rule == RECORD_RULE:
            record = evidence.get("record") or {}
            seq = (record.get("attributes") or {}).get("seq")
            if seq is None:
                self.warmup_seen = self.warmup_seen or str(record.get("service", "")).startswith(
                    "warmup-"
                )
                return
            if seq in self.record_recv_ns:
                self.duplicates += 1
            else:
                self.record_recv_ns[seq] = recv_ns
                self.record_action_ms[seq] = created_ms
        elif rule == WINDOW_RULE:
            key = (action["group"]["host"], parse_ts_ms(evidence["window_start"]))
            if key in self.window_recv_ns:
                self.duplicates += 1
            else:
                self.window_recv_ns[key] = recv_ns
                self.window_action_ms[key] = created_ms
        else:
            self.other += 1


async def consume_actions(consumer: AIOKafkaConsumer, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=50)
        recv_ns = time.time_ns()
        for records in batches.values():
            for record in records:
                tally.take(record.value, recv_ns, record.timestamp)


async def consume_signals(consumer: AIOKafkaConsumer, tally: Tally, stop: asyncio.Event) -> None:
    """Only for the stage split: the signals' CreateTime (the firehose's send)."""
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                tally.take_signal(record.value, record.timestamp)


def crashed(log: Path) -> str | None:
    """The worker's log from its first crashed faust agent or service on, if any (faust
    restarts a crashed agent and the worker stays up, so exit codes do not tell)."""
    text = log.read_text(errors="replace")
    at = text.find("Crashed reason=")
    return None if at < 0 else text[at : at + 3000]


async def warm_up(
    producer: AIOKafkaProducer,
    topic: str,
    tally: Tally,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> float:
    """Send a FATAL log every half second until one comes back as an action."""
    started = time.monotonic()
    n = 0
    while not tally.warmup_seen:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} during warm-up")
        crash = crashed(log)
        if crash is not None:
            raise RuntimeError(f"the worker crashed during warm-up (log {log}):\n{crash}")
        if time.monotonic() - started > WARMUP_TIMEOUT_S:
            raise TimeoutError(f"no warm-up action after {WARMUP_TIMEOUT_S:.0f}s")
        key, value = warmup_record(n)
        await producer.send(topic, value, key=key)
        n += 1
        for _ in range(10):
            if tally.warmup_seen:
                break
            await asyncio.sleep(0.05)
    return time.monotonic() - started


async def offer(
    producer: AIOKafkaProducer,
    settings: OpsrulesSettings,
    tally: Tally,
    *,
    rate: float,
    seconds: float,
    log_share: float,
    hosts: int,
) -> None:
    """``rate`` records/s for ``seconds``: every tick, what is due since the start."""
    logs_topic = settings.topic(settings.topic_logs)
    metrics_topic = settings.topic(settings.topic_metrics)
    partitions = settings.partitions
    total = int(rate * seconds)
    futures = []
    metric_futures: list[tuple[asyncio.Future[Any], tuple[str, int], int]] = []
    sent = seq = metric_n = 0
    started = time.perf_counter()
    tally.first_send_ns = time.time_ns()
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        while sent < due:
            # Logs spread evenly: record i is a log when floor(i * share) steps up.
            is_log = math.floor((sent + 1) * log_share) > math.floor(sent * log_share)
            sent_ns = time.time_ns()
            if is_log:
                key, value = log_record(seq, sent_ns)
                tally.log_sent_ns[seq] = sent_ns
                seq += 1
                futures.append(await producer.send(logs_topic, value, key=key))
            else:
                h = metric_n % hosts
                metric_n += 1
                key, value = metric_record(h, sent_ns)
                ts_ms = sent_ns // 1_000_000
                window = (window_host(h, ts_ms), ts_ms - ts_ms % WINDOW_MS)
                tally.windows.add(window)
                tally.metrics_sent += 1
                # Host h always goes to partition h mod partitions, so that every
                # partition gets samples (and its watermark moves) every window;
                # hashing ten new keys a second can leave a partition without any.
                future = await producer.send(
                    metrics_topic, value, key=key, partition=h % partitions
                )
                metric_futures.append((future, window, ts_ms))
            tally.last_send_ns = sent_ns
            sent += 1
        await asyncio.sleep(TICK_S)
    await asyncio.gather(*futures)
    # Where each window went, and each partition's last event time: a window can only
    # be closed by a later sample on its own partition.
    for future, window, ts_ms in metric_futures:
        partition = (await future).partition
        tally.window_partition[window] = partition
        if ts_ms > tally.last_metric_ms.get(partition, 0):
            tally.last_metric_ms[partition] = ts_ms


def new_consumer(settings: OpsrulesSettings) -> AIOKafkaConsumer:
    """A reader in no group, from the start of the (fresh) topic it is assigned."""
    return AIOKafkaConsumer(
        **settings.aiokafka_kwargs(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = bench_settings(args.bootstrap, args.idle_timeout_s)
    progress(f"topics under {settings.topic_prefix} on {settings.bootstrap_servers}")
    await ensure_topics(settings)
    await wait_for_leaders(settings)
    alerts = action_topic(settings, "alert")
    log_dir = Path(tempfile.mkdtemp(prefix="opsrules-lat-"))
    worker_log = log_dir / "worker.log"
    tally = Tally()
    consumer, signals = new_consumer(settings), new_consumer(settings)
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), **PRODUCER)
    await consumer.start()
    await signals.start()
    await producer.start()
    consumer.assign(await topic_partitions(settings, [alerts]))
    signals.assign(await topic_partitions(settings, [settings.topic(settings.topic_signals)]))
    stop = asyncio.Event()
    reader = asyncio.create_task(consume_actions(consumer, tally, stop))
    signal_reader = asyncio.create_task(consume_signals(signals, tally, stop))
    worker = start_worker(settings, log=worker_log, cwd=REPO)
    exit_code: int | None = None
    try:
        progress(f"worker pid {worker.pid} (log {worker_log}); warming up")
        warmup_s = await warm_up(
            producer, settings.topic(settings.topic_logs), tally, worker, worker_log
        )
        progress(f"warm-up action back after {warmup_s:.1f}s; offering {args.rate:,.0f} rec/s")
        cpu0, wall0 = worker_usage(worker.pid)["cpu_s"], time.perf_counter()
        machine0, bench0 = psutil.cpu_times(), psutil.Process().cpu_times()
        await offer(
            producer,
            settings,
            tally,
            rate=args.rate,
            seconds=args.seconds,
            log_share=args.log_share,
            hosts=args.hosts,
        )
        send_s = (tally.last_send_ns - tally.first_send_ns) / 1e9
        progress(
            f"sent {len(tally.log_sent_ns):,} logs and {tally.metrics_sent:,} samples in "
            f"{send_s:.1f}s; draining (up to {args.drain_s:.0f}s)"
        )
        usage_sent = worker_usage(worker.pid)
        drain_started = time.monotonic()
        while not tally.complete() and time.monotonic() - drain_started < args.drain_s:
            if reader.done() or worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        drain_s = time.monotonic() - drain_started
        await asyncio.sleep(0.5)  # the signal reader is a fetch behind the action reader
        usage_end = worker_usage(worker.pid)
        wall_s = time.perf_counter() - wall0
        machine = busy_share(machine0, psutil.cpu_times())
        bench1 = psutil.Process().cpu_times()
        bench_cpu_s = bench1.user + bench1.system - bench0.user - bench0.system
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(signal_reader, 10)
        await producer.stop()
        await consumer.stop()
        await signals.stop()
        exit_code = stop_worker(worker)
        if not args.keep_topics:
            with contextlib.suppress(Exception):
                await delete_bench_topics(settings)
        if settings.state_dir is not None:
            shutil.rmtree(settings.state_dir, ignore_errors=True)
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        raise RuntimeError("the action consumer failed") from reader.exception()
    log_tail = worker_log.read_text(errors="replace")[-3000:]
    if exit_code != 0:
        progress(f"worker exited {exit_code}; its log ends:\n{log_tail}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    return report(
        args,
        settings,
        tally,
        warmup_s=warmup_s,
        drain_s=drain_s,
        worker={
            "exit_code": exit_code,
            "cpu_s_while_sending": round(usage_sent["cpu_s"] - cpu0, 3),
            "cpu_s": round(usage_end["cpu_s"] - cpu0, 3),
            "cpu_share": round((usage_end["cpu_s"] - cpu0) / wall_s, 3) if wall_s else 0.0,
            "rss_bytes": int(usage_end["rss_bytes"]),
            "log": None if exit_code == 0 else str(worker_log),
        },
        machine={
            "cpus": psutil.cpu_count(),
            "busy_share": machine,  # of all cpus, from the first send to the end of drain
            "bench_cpu_s": round(bench_cpu_s, 3),
        },
    )


# --------------------------------------------------------------------------- figures


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank (``q`` in 0..1) of an ascending sequence; 0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies_ms)
    return {
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p95_ms": round(percentile(ordered, 0.95), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else 0.0,
        "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else 0.0,
    }


def stages(
    start_ms: dict[Any, int],
    signal_ms: dict[Any, int],
    action_ms: dict[Any, int],
    recv_ms: dict[Any, int],
) -> dict[str, dict[str, float]]:
    """p50/p99 of each hop, from Kafka CreateTimes (ms): start → signal sent (firehose:
    fetch, decode, route, send), signal → action sent (decision tier), action sent →
    received by the bench. Only the items seen at every hop."""
    keys = [k for k in recv_ms if k in signal_ms and k in action_ms and k in start_ms]
    hops = {
        "to_signal": [signal_ms[k] - start_ms[k] for k in keys],
        "signal_to_action": [action_ms[k] - signal_ms[k] for k in keys],
        "action_to_bench": [recv_ms[k] - action_ms[k] for k in keys],
    }
    out: dict[str, dict[str, float]] = {}
    for name, values in hops.items():
        ordered = sorted(values)
        out[name] = {
            "p50": float(percentile(ordered, 0.5)),
            "p99": float(percentile(ordered, 0.99)),
        }
    out["items"] = {"n": float(len(keys))}
    return out


def report(
    args: argparse.Namespace,
    settings: OpsrulesSettings,
    tally: Tally,
    *,
    warmup_s: float,
    drain_s: float,
    worker: dict[str, Any],
    machine: dict[str, Any],
) -> dict[str, Any]:
    sent_total = len(tally.log_sent_ns) + tally.metrics_sent
    send_s = (tally.last_send_ns - tally.first_send_ns) / 1e9
    # Record rule.
    record_ms = []
    by_second: dict[int, list[float]] = {}
    for seq, recv_ns in tally.record_recv_ns.items():
        sent_ns = tally.log_sent_ns[seq]
        latency = (recv_ns - sent_ns) / 1e6
        record_ms.append(latency)
        by_second.setdefault((sent_ns - tally.first_send_ns) // 1_000_000_000, []).append(latency)
    record_stages = stages(
        {seq: ns // 1_000_000 for seq, ns in tally.log_sent_ns.items()},
        tally.record_signal_ms,
        tally.record_action_ms,
        {seq: ns // 1_000_000 for seq, ns in tally.record_recv_ns.items()},
    )
    record = {
        "sent": len(tally.log_sent_ns),
        "received": len(tally.record_recv_ns),
        "missing": len(tally.log_sent_ns) - len(tally.record_recv_ns),
        **summary(record_ms),
        "p50_p99_ms_by_send_second": [
            [round(percentile(s, 0.5), 1), round(percentile(s, 0.99), 1)]
            for _, s in sorted((k, sorted(v)) for k, v in by_second.items())
        ],
        "stages_ms": record_stages,
    }
    # Window rule: closed by later samples, or only by the idle timeout.
    closed_by_data: list[float] = []
    closed_by_idle: list[float] = []
    data_windows: set[tuple[str, int]] = set()
    for host, start_ms in tally.windows:
        end_ms = start_ms + WINDOW_MS
        partition = tally.window_partition[(host, start_ms)]
        by_idle = end_ms + GRACE_MS > tally.last_metric_ms[partition]
        if not by_idle:
            data_windows.add((host, start_ms))
        received_ns = tally.window_recv_ns.get((host, start_ms))
        if received_ns is not None:
            (closed_by_idle if by_idle else closed_by_data).append(received_ns / 1e6 - end_ms)
    idle_windows = len(tally.windows) - len(data_windows)
    window = {
        "windows": len(tally.windows),
        "received": len(tally.window_recv_ns),
        "missing": len(tally.windows) - len(tally.window_recv_ns),
        "closed_by_samples": len(tally.windows) - idle_windows,
        **summary(closed_by_data),
        "p99_past_grace_ms": round(summary(closed_by_data)["p99_ms"] - GRACE_MS, 2),
        "closed_by_idle_timeout": {"windows": idle_windows, **summary(closed_by_idle)},
        "resolved_actions": tally.resolved,
        "stages_ms": stages(
            {w: w[1] + WINDOW_MS for w in data_windows},
            tally.window_signal_ms,
            tally.window_action_ms,
            {w: ns // 1_000_000 for w, ns in tally.window_recv_ns.items()},
        ),
    }
    return {
        "mode": "latency",
        "environment": environment(),
        "params": {
            "rate": args.rate,
            "seconds": args.seconds,
            "log_share": args.log_share,
            "hosts": args.hosts,
            "window_ms": WINDOW_MS,
            "grace_ms": GRACE_MS,
            "idle_timeout_s": settings.idle_timeout_s,
            "drain_s": args.drain_s,
            "partitions": settings.partitions,
            "matcher": settings.matcher,
            "firehose_poll_timeout_ms": settings.firehose_poll_timeout_ms,
            "producer": PRODUCER,
            "bootstrap": settings.bootstrap_servers,
            "topic_prefix": settings.topic_prefix,
            "app_id": settings.app_id,
            "topics_deleted": not args.keep_topics,
        },
        "offered_rps": float(args.rate),
        "achieved_rps": round(sent_total / send_s, 1) if send_s > 0 else 0.0,
        "sent": sent_total,
        "send_s": round(send_s, 3),
        "warmup_s": round(warmup_s, 2),
        "drain_s": round(drain_s, 2),
        "latency_p50_ms": record["p50_ms"],
        "latency_p95_ms": record["p95_ms"],
        "latency_p99_ms": record["p99_ms"],
        "latency_max_ms": record["max_ms"],
        "window_close_p50_ms": window["p50_ms"],
        "window_close_p95_ms": window["p95_ms"],
        "window_close_p99_ms": window["p99_ms"],
        "window_close_max_ms": window["max_ms"],
        "record_rule": record,
        "window_rule": window,
        "duplicates": tally.duplicates,
        "worker": worker,
        "machine": machine,
    }


def environment() -> dict[str, Any]:
    return {**tables.environment(), "git": git_state()}


def git_state() -> dict[str, Any]:
    """The commit measured, and the files that differed from it (the worker runs from
    the work tree)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.rstrip() if done.returncode == 0 else ""

    try:
        changed = git("status", "--porcelain", "--untracked-files=no")
        return {
            "commit": git("rev-parse", "--short", "HEAD") or None,
            "modified": [line[3:] for line in changed.splitlines()],
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "modified": []}


def render(result: dict[str, Any]) -> str:
    p, env = result["params"], result["environment"]
    rec, win = result["record_rule"], result["window_rule"]
    idle, w = win["closed_by_idle_timeout"], result["worker"]
    rows = [
        (
            "record rule: sent → action",
            rec["sent"],
            rec["received"],
            rec["missing"],
            rec["p50_ms"],
            rec["p95_ms"],
            rec["p99_ms"],
            rec["max_ms"],
        ),
        (
            "window rule: window end → action",
            win["windows"],
            win["received"],
            win["missing"],
            win["p50_ms"],
            win["p95_ms"],
            win["p99_ms"],
            win["max_ms"],
        ),
    ]
    return "\n".join(
        [
            f"latency on kafka {p['bootstrap']}: offered {result['offered_rps']:,.0f} rec/s "
            f"(achieved {result['achieved_rps']:,.0f}) for {p['seconds']}s, "
            f"{p['log_share']:.0%} FATAL logs, {p['hosts']} metric hosts, "
            f"{p['partitions']} partitions; python {env['python']}, {env['cpus']} cpus",
            "",
            table(
                ("", "sent", "actions", "missing", "p50 ms", "p95 ms", "p99 ms", "max ms"),
                rows,
            ),
            "",
            f"window latencies: {win['closed_by_samples']:,} windows closed by later samples "
            f"(figures above; they include the {p['grace_ms']} ms grace); "
            f"{idle['windows']} closed by the {p['idle_timeout_s']}s idle timeout "
            f"(p50 {idle['p50_ms']:.0f} ms, max {idle['max_ms']:.0f} ms)",
            f"worker: {w['cpu_s']:.1f} cpu-s ({w['cpu_share']:.0%} of a core), "
            f"exit {w['exit_code']}; "
            f"warm-up {result['warmup_s']:.1f}s, drain {result['drain_s']:.1f}s, "
            f"duplicates {result['duplicates']}; machine busy "
            f"{result['machine']['busy_share']:.0%} of {result['machine']['cpus']} cpus",
            "stages p50/p99 ms (Kafka CreateTimes): "
            + "; ".join(
                f"{name} "
                + ", ".join(
                    f"{hop} {v['p50']:.0f}/{v['p99']:.0f}"
                    for hop, v in rule["stages_ms"].items()
                    if hop != "items"
                )
                for name, rule in (("record", rec), ("window", win))
            ),
        ]
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, help="offered records/s")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long to offer")
    p.add_argument(
        "--log-share",
        type=float,
        default=DEFAULT_LOG_SHARE,
        help="share of the records that are FATAL logs (the rest: metric samples)",
    )
    p.add_argument("--hosts", type=int, default=DEFAULT_HOSTS, help="metric hosts")
    p.add_argument("--idle-timeout-s", type=float, default=DEFAULT_IDLE_TIMEOUT_S)
    p.add_argument(
        "--drain-s", type=float, default=DEFAULT_DRAIN_S, help="wait this long for late actions"
    )
    p.add_argument("--bootstrap", default=None, help="default OPSRULES_BOOTSTRAP_SERVERS")
    p.add_argument("--keep-topics", action="store_true", help="do not delete the bench topics")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.hosts < 1 or not 0 <= args.log_share <= 1:
        parser().error("need --rate > 0, --seconds > 0, --hosts >= 1, 0 <= --log-share <= 1")
    result = asyncio.run(run(args))
    out(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
