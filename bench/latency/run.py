"""One latency run around the real worker: its settings (a topic prefix, app id and
state dir of its own), the worker started, warmed up, watched for crashes and stopped,
the action and signal readers and the producer around the offered load, the worker's
and the machine's CPU, and the bench's topics deleted afterwards."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaProducer

from bench import kafka_harness
from bench.latency.figures import report
from bench.latency.load import PRODUCER, offer, warmup_record
from bench.latency.rulebook import RULES_DIR
from bench.latency.tally import Tally, consume_actions, consume_signals
from streams.settings import OpsrulesSettings
from streams.topics import action_topic, ensure_topics, topic_partitions
from streams.worker_process import start_worker, stop_worker

REPO = Path(__file__).resolve().parents[2]
WARMUP_TIMEOUT_S = 120.0


def progress(message: str) -> None:
    print(f"[bench.latency] {message}", file=sys.stderr, flush=True)


def bench_settings(bootstrap: str | None, idle_timeout_s: float) -> OpsrulesSettings:
    return kafka_harness.unique_settings(
        "lat", bootstrap, rules_dir=RULES_DIR, idle_timeout_s=idle_timeout_s
    )


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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = bench_settings(args.bootstrap, args.idle_timeout_s)
    progress(f"topics under {settings.topic_prefix} on {settings.bootstrap_servers}")
    await ensure_topics(settings)
    await kafka_harness.wait_for_leaders(settings)
    alerts = action_topic(settings, "alert")
    log_dir = Path(tempfile.mkdtemp(prefix="opsrules-lat-"))
    worker_log = log_dir / "worker.log"
    tally = Tally()
    consumer = kafka_harness.reader(settings, fetch_max_wait_ms=20)
    signals = kafka_harness.reader(settings, fetch_max_wait_ms=20)
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
                await kafka_harness.delete_run_topics(settings)
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
