"""``opsrules bench pipeline``: opsrules side by side with its limit and its peers.

On one pre-loaded metrics topic (same records, keys and partitions for everyone), in
one run:

1. ceiling: a plain aiokafka ``getmany`` loop decoding every record with orjson;
2. faust floor: a minimal faust-streaming agent decoding each record;
3. peer: a Quix Streams app, tumbling 10 s mean per series, final emission (own venv);
4. opsrules: the real worker (decode, validate, windows, signals, rules, actions) with
   a rule that evaluates every 10 s window of every series;

then opsrules on 50-sample batches, the latency mode and the memory mode. Prints a
table, or one JSON object with ``--json``; ``make bench`` writes BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.firehose.ceiling import ceiling
from bench.kafka_harness import delete_topics, kafka_settings, preload, wait_for_leaders
from bench.report import loop_rows, num
from bench.tables import environment, progress
from bench.worker_run import time_worker
from bench.workload import batch_records, sample_records
from streams.topics import ensure_topics

RULES = Path(__file__).parent / "rulebooks" / "pipeline"
BATCH_SAMPLES = 50
STEPS = ("ceiling", "faust", "quix", "opsrules", "batched", "latency", "memory")


def _json_of(cmd: list[str], timeout_s: float) -> dict[str, Any]:
    """Run a bench module that prints one JSON object last on stdout."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _preloaded(
    bootstrap: str | None, partitions: int, records: Sequence[Any], label: str
) -> Any:
    settings = kafka_settings(bootstrap, partitions).model_copy(update={"rules_dir": RULES})
    await ensure_topics(settings)
    await wait_for_leaders(settings)
    topic = settings.topic(settings.topic_metrics)
    seconds = await preload(settings, topic, records)
    progress(f"{label}: preloaded {len(records):,} records in {seconds:.1f}s")
    return settings


def run(args: argparse.Namespace) -> dict[str, Any]:
    skip = set(args.skip)
    n, series, timeout_s = args.records, args.series, args.timeout_s
    start_ms = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000
    result: dict[str, Any] = {
        "environment": environment(),
        "records": n,
        "series": series,
        "partitions": args.partitions,
        "command": "opsrules bench pipeline " + " ".join(args.argv),
        "settings": {
            "offset_reset": "earliest for every consumer",
            "json": "orjson everywhere",
            "commit": "opsrules: every 1 s, after every output's ack (default "
            "OPSRULES_COMMIT_INTERVAL_MS); faust: every 2.8 s (default); quix: every 5 s "
            "(default)",
            "window": "tumbling 10 s mean per series (event time), final emission",
        },
    }
    singles = asyncio.run(
        _preloaded(args.bootstrap, args.partitions, sample_records(n, series, start_ms), "singles")
    )
    topic = singles.topic(singles.topic_metrics)
    bootstrap = singles.bootstrap_servers
    with tempfile.TemporaryDirectory(prefix="opsrules-bench-") as tmp:
        try:
            if "ceiling" not in skip:
                progress("ceiling: plain getmany + orjson")
                result["ceiling"] = asyncio.run(ceiling(singles, topic, n, timeout_s))
            for kind in ("faust", "quix"):
                if kind not in skip:
                    from bench.peers.run import run_peer

                    progress(f"{kind}: running")
                    result[kind] = run_peer(
                        kind, bootstrap, topic, n, timeout_s, progress, partitions=args.partitions
                    )
            if "opsrules" not in skip:
                progress("opsrules: the real worker")
                result["opsrules"] = time_worker(
                    singles,
                    records=n,
                    samples=n,
                    timeout_s=timeout_s,
                    log=Path(tmp) / "worker.log",
                )
            if "batched" not in skip:
                count = max(1, n // BATCH_SAMPLES)
                batches = asyncio.run(
                    _preloaded(
                        args.bootstrap,
                        args.partitions,
                        batch_records(
                            count, max(1, series // BATCH_SAMPLES), BATCH_SAMPLES, start_ms
                        ),
                        "batched",
                    )
                )
                progress("batched: the real worker on 50-sample batches")
                try:
                    result["batched"] = time_worker(
                        batches,
                        records=count,
                        samples=count * BATCH_SAMPLES,
                        timeout_s=timeout_s,
                        log=Path(tmp) / "batched.log",
                    )
                finally:
                    asyncio.run(delete_topics(batches))
        finally:
            asyncio.run(delete_topics(singles))
    if "latency" not in skip:
        progress("latency: fixed offered rate through the real worker")
        cmd = [
            sys.executable,
            "-m",
            "bench.latency",
            "--json",
            "--rate",
            str(args.rate),
            "--seconds",
            str(args.latency_seconds),
        ]
        if args.bootstrap:
            cmd += ["--bootstrap", args.bootstrap]
        result["latency"] = _json_of(cmd, timeout_s)
    if "memory" not in skip:
        progress(f"memory: {args.memory_series} series through the window processor")
        result["memory"] = _json_of(
            [sys.executable, "-m", "bench.memory", "--json", "--series", args.memory_series],
            timeout_s,
        )
    result.update(_headline(result))
    return result


def _get(result: dict[str, Any], step: str, key: str) -> Any:
    value = result.get(step, {})
    return value.get(key) if isinstance(value, dict) else None


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """The keys the issue names, and the ratios."""
    ceiling_rps = _get(result, "ceiling", "records_per_s")
    faust_rps = _get(result, "faust", "rps")
    quix_rps = _get(result, "quix", "rps")
    ops_rps = _get(result, "opsrules", "records_per_s")
    memory = result.get("memory", {})
    return {
        "ceiling_rps": ceiling_rps,
        "faust_rps": faust_rps,
        "quix_rps": quix_rps,
        "opsrules_rps": ops_rps,
        "opsrules_over_ceiling": round(ops_rps / ceiling_rps, 3)
        if ops_rps and ceiling_rps
        else None,
        "opsrules_over_quix": round(ops_rps / quix_rps, 2) if ops_rps and quix_rps else None,
        "batched_sps": _get(result, "batched", "samples_per_s"),
        "latency_p99_ms": _get(result, "latency", "latency_p99_ms"),
        "rss_per_series_bytes": memory.get("rss_per_series_bytes")
        if isinstance(memory, dict)
        else None,
    }


def render(result: dict[str, Any]) -> str:
    rows = loop_rows(result)
    lines = [
        f"{'loop':<44} {'records/s':>10} {'samples/s':>10} {'cpu s/M rec':>12} "
        f"{'peak RSS MiB':>13}",
    ]
    for label, data, key in rows:
        if not data:
            continue
        cpu = data.get("cpu_s_per_million_records", data.get("cpu_s_per_million"))
        rss = data.get("peak_rss_bytes")
        rate = round(data.get(key) or 0)
        samples = round(data.get("samples_per_s") or rate)
        lines.append(
            f"{label:<44} {rate:>10,} {samples:>10,} {num(cpu):>12} "
            f"{round(rss / 2**20) if rss else '':>13}"
        )
    head = {
        k: result[k]
        for k in (
            "opsrules_over_ceiling",
            "opsrules_over_quix",
            "batched_sps",
            "latency_p99_ms",
            "rss_per_series_bytes",
        )
        if result.get(k) is not None
    }
    lines.append("")
    lines += [f"{k}: {v}" for k, v in head.items()]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--series", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", help="default OPSRULES_BOOTSTRAP_SERVERS")
    parser.add_argument("--rate", type=int, default=5000, help="latency: offered records/s")
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--memory-series", default="100000,1000000")
    parser.add_argument("--timeout-s", type=float, default=1800.0)
    parser.add_argument(
        "--skip",
        default=[],
        type=lambda t: [s for s in t.split(",") if s],
        help=f"comma-separated steps to leave out: {','.join(STEPS)}",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="opsrules bench pipeline", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    result = run(args)
    out(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
