"""What the latency bench offers the worker: FATAL logs and metric samples stamped with
their send time, paced to a fixed rate, and the warm-up logs before them."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.latency.rulebook import METRIC_NAME, WINDOW_MS
from bench.latency.tally import Tally
from streams.settings import OpsrulesSettings

TICK_S = 0.005  # the producer sends what is due every 5 ms
PRODUCER = {"acks": "all", "linger_ms": 0}  # a telemetry producer sending as it goes


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
