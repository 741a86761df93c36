"""The latency bench's figures: nearest-rank percentiles, the stages of a latency from
Kafka CreateTimes, and the result of a run (the JSON ``python -m bench.latency --json``
prints)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from bench import tables
from bench.latency.load import PRODUCER
from bench.latency.rulebook import GRACE_MS, WINDOW_MS
from bench.latency.tally import Tally
from streams.settings import OpsrulesSettings


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
    return {**tables.environment(), "git": tables.git_state()}
