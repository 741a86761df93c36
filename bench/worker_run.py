"""The real ``opsrules worker`` as a subprocess, timed from outside through /metrics.

Records/s are counted from the moment the firehose loop started consuming (the worker
reports it in /metrics; its group is joined and the topic pre-loaded, so the first batch
follows at once) to the moment every record was processed and every signal emitted so
far had been decided by the rules (so the decision tier is inside the span). CPU
seconds are the worker's user + system time over the same span (sampled every poll from
the worker's start); peak RSS is its VmHWM.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from streams.settings import OpsrulesSettings
from streams.worker_process import start_worker, stop_worker

POLL_S = 0.05
_SAMPLE = re.compile(r"^(opsrules_\w+)(?:\{([^}]*)\})? (\d+)$")
_GAUGE = re.compile(r'^(opsrules_\w+)\{component="(\w+)"\} ([0-9.e+]+)$')
FIREHOSE = "firehose"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_metrics(port: int) -> tuple[dict[str, int], dict[tuple[str, str], float]] | None:
    """Totals per counter name, and gauges by (name, component), from the worker's
    /metrics; None while it is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    totals: dict[str, int] = {}
    gauges: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            totals[match.group(1)] = totals.get(match.group(1), 0) + int(match.group(3))
        elif gauge := _GAUGE.match(line):
            gauges[(gauge.group(1), gauge.group(2))] = float(gauge.group(3))
    return totals, gauges


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def time_worker(
    settings: OpsrulesSettings, *, records: int, samples: int, timeout_s: float, log: Path
) -> dict[str, Any]:
    """Start a worker on ``settings`` (its input topic already holds ``records``), wait
    until it has processed them all, stop it; the figures."""
    port = free_port()
    worker = start_worker(
        settings.model_copy(update={"web_port": port}), "--loglevel", "warning", log=log
    )
    process = psutil.Process(worker.pid)
    # (Unix time, perf_counter, CPU s) every poll from the start, so that the CPU spent
    # up to the loop's start (read from /metrics later) can be taken from just before it.
    looks: list[tuple[float, float, float]] = []
    started_unix: float | None = None
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited ({worker.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not process {records} records in time")
            looks.append((time.time(), time.perf_counter(), _cpu_s(process)))
            totals, gauges = read_metrics(port) or ({}, {})
            started_unix = gauges.get(("opsrules_loop_started_timestamp_seconds", FIREHOSE))
            done = totals.get("opsrules_records_total", 0)
            decided = totals.get("opsrules_signals_decided_total", 0)
            emitted = totals.get("opsrules_signals_total", 0)
            if done >= records and decided >= emitted and started_unix is not None:
                last = (time.perf_counter(), _cpu_s(process))
                break
            time.sleep(POLL_S)
        peak = _peak_rss_bytes(worker.pid)
    finally:
        stop_worker(worker)
    unix_now, perf_now, _ = looks[-1]
    before = [look for look in looks if look[0] <= started_unix] or looks[:1]
    first = (perf_now - (unix_now - started_unix), before[-1][2])
    wall_s = last[0] - first[0]
    cpu_s = last[1] - first[1]
    return {
        "records": records,
        "samples": samples,
        "wall_s": round(wall_s, 3),
        "records_per_s": round(records / wall_s),
        "samples_per_s": round(samples / wall_s),
        "cpu_s_per_million_records": round(cpu_s / records * 1e6, 2),
        "peak_rss_bytes": peak,
        "signals": totals.get("opsrules_signals_total", 0),
        "actions": totals.get("opsrules_actions_total", 0),
        "deadletters": totals.get("opsrules_deadletters_total", 0),
    }
