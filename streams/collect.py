"""``opsrules collect``: a host agent that sends psutil readings as OpenTelemetry metrics.

Every interval it takes one snapshot and writes two records: a MetricBatch to the
metrics topic (key = host) and a heartbeat HealthCheck to the health topic (key =
service), so a missing agent is noticed by heartbeat absence.

Three parts: :func:`read_psutil` takes raw :class:`Readings`, the pure :func:`snapshot`
turns them into records (tested on fixed readings), and :func:`run_collect` is the loop
that sends them. SIGINT and SIGTERM stop it after the current snapshot, flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.errors import KafkaUnavailableError, OpsrulesError
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "opsrules-collect"
DEFAULT_INTERVAL_S = 10.0
_START_TIMEOUT_S = 30.0

# Read-only image filesystems (snaps, CDs) are always full; they are not disks that fill.
_SKIPPED_FSTYPES = frozenset({"squashfs", "iso9660", "udf"})


@dataclass(frozen=True, slots=True)
class DiskReading:
    mountpoint: str
    device: str
    used_bytes: int
    free_bytes: int  # available to unprivileged users (reserved blocks excluded, like df)


@dataclass(frozen=True, slots=True)
class NicReading:
    device: str
    received_bytes: int  # cumulative since boot
    transmitted_bytes: int


@dataclass(frozen=True, slots=True)
class Readings:
    """Raw readings of one moment, as psutil reports them."""

    cpu_percent: float  # 0–100, all CPUs, since the previous reading
    memory_total_bytes: int
    memory_available_bytes: int
    disks: tuple[DiskReading, ...]
    nics: tuple[NicReading, ...]
    load_average: tuple[float, float, float]  # 1, 5, 15 minutes


def _ratio(part: float, whole: float) -> float:
    return round(min(1.0, max(0.0, part / whole)), 4) if whole > 0 else 0.0


def snapshot(
    readings: Readings, *, host: str, service: str, ts_ms: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MetricBatch and the heartbeat HealthCheck of one reading (JSON-ready dicts).

    Names follow OpenTelemetry's system metrics. Memory "used" is total − available
    (what psutil's ``percent`` reports): memory the system cannot hand out without
    swapping, the figure a memory-pressure rule wants.
    """
    used_memory_bytes = readings.memory_total_bytes - readings.memory_available_bytes
    samples: list[dict[str, Any]] = [
        {"name": "system.cpu.utilization", "value": _ratio(readings.cpu_percent, 100)},
        {
            "name": "system.memory.utilization",
            "value": _ratio(used_memory_bytes, readings.memory_total_bytes),
            "labels": {"state": "used"},
        },
        {"name": "system.memory.usage", "value": used_memory_bytes, "labels": {"state": "used"}},
    ]
    samples += [
        {
            "name": "system.filesystem.utilization",
            "value": _ratio(disk.used_bytes, disk.used_bytes + disk.free_bytes),
            "labels": {"mountpoint": disk.mountpoint, "device": disk.device},
        }
        for disk in readings.disks
    ]
    for nic in readings.nics:
        for direction, value in (
            ("receive", nic.received_bytes),
            ("transmit", nic.transmitted_bytes),
        ):
            samples.append(
                {
                    "name": "system.network.io",
                    "value": value,
                    "labels": {"device": nic.device, "direction": direction},
                    "cumulative": True,  # bytes since boot: the firehose adds .rate
                }
            )
    samples += [
        {"name": f"system.cpu.load_average.{period}", "value": round(load, 2)}
        for period, load in zip(("1m", "5m", "15m"), readings.load_average, strict=True)
    ]
    batch = {"ts": ts_ms, "host": host, "service": service, "samples": samples}
    heartbeat = {
        "ts": ts_ms,
        "service": service,
        "instance": host,
        "check": "heartbeat",
        "status": "pass",
        "host": host,
    }
    return batch, heartbeat


def _disks() -> tuple[DiskReading, ...]:
    disks = []
    for partition in psutil.disk_partitions(all=False):
        if partition.fstype in _SKIPPED_FSTYPES or "ro" in partition.opts.split(","):
            continue
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError:  # unmounted meanwhile, or not ours to read
            continue
        if usage.total > 0:
            disks.append(
                DiskReading(partition.mountpoint, partition.device, usage.used, usage.free)
            )
    return tuple(disks)


def read_psutil() -> Readings:
    """Read the host now. ``cpu_percent`` covers the time since the previous call, so
    call :func:`prime_cpu` once an interval before the first reading."""
    memory = psutil.virtual_memory()
    load_1m, load_5m, load_15m = psutil.getloadavg()
    return Readings(
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_total_bytes=memory.total,
        memory_available_bytes=memory.available,
        disks=_disks(),
        nics=tuple(
            NicReading(device, counters.bytes_recv, counters.bytes_sent)
            for device, counters in sorted(psutil.net_io_counters(pernic=True).items())
        ),
        load_average=(load_1m, load_5m, load_15m),
    )


def prime_cpu() -> None:
    """Start psutil's CPU measurement; the next ``cpu_percent`` covers the time since."""
    psutil.cpu_percent(interval=None)


@dataclass
class CollectCounters:
    snapshots: int = 0
    failed: int = 0  # snapshots with a record Kafka did not acknowledge


class MissingTopicError(OpsrulesError):
    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(
            f"topic {topic!r} does not exist; create the topics with `opsrules topics create`"
        )


async def _check_topics(settings: OpsrulesSettings, topics: list[str]) -> None:
    from streams.topics import topic_partitions

    present = {tp.topic for tp in await topic_partitions(settings, topics, _START_TIMEOUT_S)}
    for topic in topics:
        if topic not in present:
            raise MissingTopicError(topic)


async def run_collect(
    settings: OpsrulesSettings,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    count: int | None = None,
    host: str | None = None,
    service: str = DEFAULT_SERVICE,
    stop: asyncio.Event | None = None,
) -> CollectCounters:
    """Send one snapshot every ``interval_s`` until ``count`` snapshots (None: forever),
    SIGINT/SIGTERM, or ``stop`` is set. The first snapshot comes one interval after the
    start (CPU utilisation needs a measured interval). A snapshot Kafka does not
    acknowledge is logged and counted, and the agent goes on.
    """
    host = host or socket.gethostname()
    metrics_topic = settings.topic(settings.topic_metrics)
    health_topic = settings.topic(settings.topic_health)
    await _check_topics(settings, [metrics_topic, health_topic])
    producer = AIOKafkaProducer(
        **settings.aiokafka_kwargs(), client_id=f"{settings.app_id}-collect", acks="all"
    )
    try:
        await asyncio.wait_for(producer.start(), _START_TIMEOUT_S)
    except (TimeoutError, KafkaError, OSError) as exc:
        await producer.stop()
        raise KafkaUnavailableError(settings.bootstrap_servers, str(exc) or repr(exc)) from None

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)

    counters = CollectCounters()
    prime_cpu()
    next_s = loop.time() + interval_s
    try:
        while count is None or counters.snapshots < count:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_s - loop.time()))
            if stop.is_set():
                break
            next_s += interval_s
            batch, heartbeat = snapshot(
                read_psutil(), host=host, service=service, ts_ms=int(time.time() * 1000)
            )
            counters.snapshots += 1
            try:
                # Wait for the acks, so that a broker outage shows up in the log right away.
                await asyncio.gather(
                    await producer.send(metrics_topic, orjson.dumps(batch), key=host.encode()),
                    await producer.send(
                        health_topic, orjson.dumps(heartbeat), key=service.encode()
                    ),
                )
            except KafkaError as exc:
                counters.failed += 1
                log.warning("snapshot at %d ms not delivered: %r", batch["ts"], exc)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await producer.stop()
    return counters


def _cmd_collect(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    host = args.host or socket.gethostname()
    print(
        f"collecting {host} every {args.interval:g} s → "
        f"{settings.topic(settings.topic_metrics)}, {settings.topic(settings.topic_health)} "
        f"(pid {os.getpid()}; Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    counters = asyncio.run(
        run_collect(
            settings,
            interval_s=args.interval,
            count=args.count,
            host=host,
            service=args.service,
        )
    )
    print(
        f"stopped: {counters.snapshots} snapshots, {counters.failed} not delivered",
        file=sys.stderr,
    )
    return 1 if counters.failed else 0


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def add_collect_parser(sub: Any) -> None:
    """Register ``opsrules collect`` on the CLI's subparsers (``handler(args, settings)``)."""
    collect = sub.add_parser(
        "collect",
        help="send this host's cpu, memory, disk, network and load metrics",
        description="A host agent on psutil: every interval one metric batch "
        "(OpenTelemetry names: system.cpu.utilization, system.memory.utilization, "
        "system.filesystem.utilization per mountpoint, system.network.io per NIC, "
        "system.cpu.load_average.1m/5m/15m, …) to the metrics topic, keyed by host, and "
        "one heartbeat to the health topic. The topics must exist (`opsrules topics "
        "create`). Stops cleanly on SIGINT/SIGTERM; exits 1 if a snapshot was not "
        "delivered.",
    )
    collect.add_argument(
        "--interval",
        type=_positive_float,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between snapshots (default {DEFAULT_INTERVAL_S:g})",
    )
    collect.add_argument("--count", type=_positive_int, metavar="N", help="stop after N snapshots")
    collect.add_argument("--host", metavar="NAME", help="host name (default: this host's)")
    collect.add_argument(
        "--service",
        default=DEFAULT_SERVICE,
        metavar="NAME",
        help=f"service of the batches and the heartbeat (default {DEFAULT_SERVICE})",
    )
    collect.set_defaults(handler=_cmd_collect)
