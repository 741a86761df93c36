"""Memory of window state: RSS per series through :class:`processors.firehose.routing.Router`.

For each ``--series`` count, a fresh child process (so that its peak RSS is its own):

1. imports, loads and compiles the rulebook (``--rules-dir``, default the shipped
   ``rules/``) and builds one metric-partition :class:`~processors.firehose.routing.Router`
   (whose :class:`~processors.windowing.PartitionWindows` hold the windows); then the
   **baseline** RSS;
2. routes one ``system.cpu.utilization`` sample per series (host ``host-<i>``, as the
   decoder hands them over: a fresh dict per record), all inside one 1-minute window
   (the shipped ``host_cpu_saturated`` feed: tumbling 1 m mean per host, grace 10 s):
   **open** = RSS − baseline, one open window with one value per series;
3. routes a sample no rule matches, past that window's end + grace, and closes: every
   window is emitted as a ``window`` Signal and encoded one at a time, as the firehose
   does when the watermark passes a window end (it sends each before building the
   next: **peak RSS**); each series stays **known** with its next empty windows
   pending; then **idle** = RSS − baseline, and once more after ``malloc_trim(0)``
   (glibc returns freed pages).

``rss_per_series_bytes`` is the idle figure of the largest count; peak RSS is
``ru_maxrss``. One more child per count (the smallest by default, ``--trace-all`` for
every one) repeats the steps under ``tracemalloc``: Python bytes per series actually
held (open, idle, and the traced peak while emitting), and the top allocation sites
(file:line) of the open state, of the emitted signals and of the idle state, which
tell what dominates.

    .venv/bin/python -m bench.memory [--series 100000,1000000] [--rules-dir rules]
        [--trace-all | --no-trace] [--json]

A table by default; one JSON object with ``--json``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "rules"
DEFAULT_SERIES = (100_000, 1_000_000)
BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, on every window grid
CPU = "system.cpu.utilization"
TRACE_TOP = 8
KIB, GIB = 1024, 1024**3
GOAL_IDLE_BYTES = KIB  # issue 4: under 1 KiB per idle series
GOAL_LARGEST_BYTES = 2 * GIB  # issue 4: 1M series under 2 GiB


def progress(message: str) -> None:
    print(f"[bench.memory] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- child


def rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """``ru_maxrss`` of this process (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * KIB)


def malloc_trim() -> bool:
    """Ask glibc to give freed memory back to the system; False where there is none."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def sample(i: int, ts_ms: int) -> dict[str, Any]:
    """What ``decode_input`` hands the router for one metric sample."""
    return {
        "ts_ms": ts_ms,
        "name": CPU,
        "value": 0.5,
        "unit": None,
        "host": f"host-{i:07d}",
        "service": None,
        "labels": {},
    }


def top_sites(
    now: tracemalloc.Snapshot, before: tracemalloc.Snapshot, series: int
) -> list[dict[str, Any]]:
    """Allocation sites that grew most since ``before``, with bytes per series."""
    stats = now.compare_to(before, "lineno")
    rows = []
    for stat in stats[:TRACE_TOP]:
        frame = stat.traceback[0]
        where = frame.filename
        for marker in ("site-packages/", str(REPO) + "/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        rows.append(
            {
                "site": f"{where}:{frame.lineno}",
                "bytes": stat.size_diff,
                "blocks": stat.count_diff,
                "bytes_per_series": round(stat.size_diff / series, 1),
            }
        )
    return rows


def child(series: int, rules_dir: Path, trace: bool) -> dict[str, Any]:
    from processors.firehose.routing import Router
    from processors.rules.compiler import compile_rulebook
    from processors.rules.loader import load_rules
    from streams.codec import encode

    loaded = load_rules([rules_dir])
    if not loaded.ok:
        raise SystemExit("\n".join(str(error) for error in loaded.errors))
    rulebook = compile_rulebook(loaded.rules, matcher="compiled")
    router = Router(rulebook, "metric", idle_timeout_ms=30_000)
    feeds = [f for f in router.plan.feeds if f.match(sample(0, BASE_TS_MS))]
    if len(feeds) != 1:
        raise SystemExit(f"{rules_dir}: need exactly one metric window feed on {CPU}")
    spec = feeds[0].spec
    ts_ms = BASE_TS_MS + spec.size_ms // 2  # every sample inside one window
    out: list[Any] = []
    gc.collect()
    baseline = rss_bytes()
    if trace:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
    started = time.perf_counter()
    route = router.route
    for i in range(series):
        route(sample(i, ts_ms), ts_ms=ts_ms, offset=i, ref=f"m/0/{i}/0", now_ms=ts_ms, out=out)
    route_s = time.perf_counter() - started
    gc.collect()
    open_rss, open_peak = rss_bytes(), peak_rss_bytes()
    open_windows = router.windows.open_windows
    if trace:
        open_traced = tracemalloc.get_traced_memory()[0]
        open_top = top_sites(tracemalloc.take_snapshot(), before, series)
    # Past the window's end + grace, on a record that feeds no window: everything emits.
    past_ms = ts_ms + spec.size_ms + spec.grace_ms
    tick = {**sample(series, past_ms), "name": "bench.memory.tick"}
    route(tick, ts_ms=past_ms, offset=series, ref=f"m/0/{series}/0", now_ms=past_ms, out=out)
    if trace:
        tracemalloc.reset_peak()
    # As FirehoseBatch.process_iter and the loop do: each signal is encoded and handed
    # to the producer (which copies it into its batch) before the next is built.
    started = time.perf_counter()
    emitted = encoded_bytes = 0
    for signal in router.close_iter(past_ms):
        encoded_bytes += len(encode(signal))
        emitted += 1
    close_s = time.perf_counter() - started
    emit_peak = peak_rss_bytes()
    if trace:
        emit_traced_peak = tracemalloc.get_traced_memory()[1]
        emit_top = top_sites(tracemalloc.take_snapshot(), before, series)
    del out
    gc.collect()
    idle_rss = rss_bytes()
    # The known series and their pending empty windows (PartitionWindows' own state).
    spec_state = router.windows._specs[spec.spec_id]
    known = len(spec_state.known)
    pending = sum(len(s) for s in spec_state.empties.values())
    if trace:
        idle_traced = tracemalloc.get_traced_memory()[0]
        idle_top = top_sites(tracemalloc.take_snapshot(), before, series)
        tracemalloc.stop()
    trimmed = malloc_trim()
    trimmed_rss = rss_bytes()
    result: dict[str, Any] = {
        "series": series,
        "traced": trace,
        "window_ms": spec.size_ms,
        "grace_ms": spec.grace_ms,
        "empty_windows": spec.empty_windows,
        "stats": sorted(spec.stats),
        "route_s": round(route_s, 3),
        "close_s": round(close_s, 3),
        "open_windows": open_windows,
        "emitted": emitted,
        "known_series": known,
        "pending_empty_windows": pending,
        "baseline_rss_bytes": baseline,
        "open_rss_bytes": open_rss,
        "idle_rss_bytes": idle_rss,
        "idle_trimmed_rss_bytes": trimmed_rss,
        "malloc_trim": trimmed,
        "encoded_bytes_per_signal": round(encoded_bytes / max(emitted, 1), 1),
        "peak_rss_bytes": max(open_peak, emit_peak),
        "peak_rss_open_bytes": open_peak,
        "open_bytes_per_series": round((open_rss - baseline) / series, 1),
        "idle_bytes_per_series": round((idle_rss - baseline) / series, 1),
        "idle_trimmed_bytes_per_series": round((trimmed_rss - baseline) / series, 1),
        "peak_over_baseline_bytes_per_series": round(
            (max(open_peak, emit_peak) - baseline) / series, 1
        ),
    }
    if trace:
        result.update(
            {
                "traced_open_bytes_per_series": round(open_traced / series, 1),
                "traced_idle_bytes_per_series": round(idle_traced / series, 1),
                "traced_emit_peak_bytes_per_series": round(emit_traced_peak / series, 1),
                "traced_open_top": open_top,
                "traced_emit_top": emit_top,
                "traced_idle_top": idle_top,
            }
        )
    return result


# --------------------------------------------------------------------------- parent


def run_child(series: int, rules_dir: Path, trace: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory", "--child", str(series)]
    command += ["--rules-dir", str(rules_dir)] + (["--trace"] if trace else [])
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(series_counts: Sequence[int], rules_dir: Path, trace: str) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    traces: dict[str, Any] = {}
    for series in series_counts:
        progress(f"{series:,} series in a fresh process")
        runs[str(series)] = run_child(series, rules_dir, trace=False)
        if trace == "all" or (trace == "smallest" and series == min(series_counts)):
            progress(f"{series:,} series again under tracemalloc")
            traces[str(series)] = run_child(series, rules_dir, trace=True)
    largest = runs[str(max(series_counts))]
    return {
        "mode": "memory",
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # Held all at once, Signal objects and orjson's output buffers (orjson >= 3.12
            # returns bytes in a ~4 KiB allocation, not shrunk) decided the emission
            # peak; the firehose now builds and sends them one at a time.
            "pydantic": version("pydantic"),
            "orjson": version("orjson"),
        },
        "params": {
            "series": list(series_counts),
            "rules_dir": str(rules_dir),
            "tracemalloc": trace,
        },
        "runs": runs,
        "traces": traces,
        "series": largest["series"],
        "rss_per_series_bytes": largest["idle_bytes_per_series"],
        "rss_per_series_trimmed_bytes": largest["idle_trimmed_bytes_per_series"],
        "open_rss_per_series_bytes": largest["open_bytes_per_series"],
        "peak_rss_bytes": largest["peak_rss_bytes"],
        "goals": {
            "idle_under_1_kib": largest["idle_bytes_per_series"] < GOAL_IDLE_BYTES,
            "largest_peak_under_2_gib": largest["peak_rss_bytes"] < GOAL_LARGEST_BYTES,
        },
    }


def _mib(value: float) -> str:
    return f"{value / KIB / KIB:,.0f} MiB"


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    header = (
        "series",
        "open B/series",
        "idle B/series",
        "idle trimmed",
        "peak RSS",
        "baseline",
        "route s",
        "close s",
    )
    rows = [
        (
            f"{run['series']:,}",
            f"{run['open_bytes_per_series']:,.0f}",
            f"{run['idle_bytes_per_series']:,.0f}",
            f"{run['idle_trimmed_bytes_per_series']:,.0f}",
            _mib(run["peak_rss_bytes"]),
            _mib(run["baseline_rss_bytes"]),
            f"{run['route_s']:.2f}",
            f"{run['close_s']:.2f}",
        )
        for run in result["runs"].values()
    ]
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        f"window state memory: one sample per series, one 1-minute window "
        f"({result['params']['rules_dir']}); python {env['python']}, {env['cpus']} cpus",
        "",
    ]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    goals = result["goals"]
    lines += [
        "",
        f"rss_per_series_bytes (idle, {result['series']:,} series): "
        f"{result['rss_per_series_bytes']:,.0f} (goal < 1,024: "
        f"{'met' if goals['idle_under_1_kib'] else 'missed'}); peak RSS "
        f"{_mib(result['peak_rss_bytes'])} (goal < 2 GiB: "
        f"{'met' if goals['largest_peak_under_2_gib'] else 'missed'})",
    ]
    for series, traced in result["traces"].items():
        lines += [
            "",
            f"tracemalloc, {int(series):,} series: held "
            f"{traced['traced_open_bytes_per_series']:,.0f} B/series open, "
            f"{traced['traced_idle_bytes_per_series']:,.0f} B/series idle; peak while "
            f"emitting and encoding {traced['traced_emit_peak_bytes_per_series']:,.0f} B/series",
        ]
        for state in ("open", "emit", "idle"):
            lines.append(f"  top sites, {state}:")
            for site in traced[f"traced_{state}_top"]:
                lines.append(
                    f"    {site['bytes_per_series']:>8,.1f} B/series  {site['blocks']:>9,} blocks"
                    f"  {site['site']}"
                )
    return "\n".join(lines)


def series_list(text: str) -> list[int]:
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("series counts must be >= 1")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    p.add_argument(
        "--series", type=series_list, default=list(DEFAULT_SERIES), help="e.g. 100000,1000000"
    )
    p.add_argument("--rules-dir", type=Path, default=RULES_DIR)
    trace = p.add_mutually_exclusive_group()
    trace.add_argument("--trace-all", action="store_true", help="tracemalloc every count")
    trace.add_argument("--no-trace", action="store_true", help="no tracemalloc run")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    if args.child is not None:
        out(json.dumps(child(args.child, args.rules_dir, args.trace)))
        return 0
    trace = "none" if args.no_trace else "all" if args.trace_all else "smallest"
    result = measure(args.series, args.rules_dir.resolve(), trace)
    out(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
