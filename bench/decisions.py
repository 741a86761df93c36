"""The decision tier's core alone: signals in, actions, decisions and state out.

``python -m bench.decisions`` feeds ``DecisionBatch.process`` (streams/decision_tier.py,
no broker: the batches are built in memory) with window signals of the shipped rule
``host_disk_full`` for ``--hosts`` hosts over ``--minutes`` one-minute windows, a third
of them true at any time so alerts keep firing and resolving, in batches of one minute.
It prints signals/s per repeat and the outputs (actions, decision records, changelog
updates), which must not change between two versions of the code being compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from bench.arguments import positive
from bench.workload import RULES_DIR
from processors.records import Signal
from processors.rules.compiler import compile_rulebook
from processors.rules.loader import load_rules
from streams.decision_tier import DecisionBatch
from streams.metrics import Metrics
from streams.settings import load_settings

MINUTE_MS = 60_000
T0_MS = 1_795_899_240_000


def signal_batches(topic: str, hosts: int, minutes: int) -> list[dict[TopicPartition, list[Any]]]:
    """One batch per minute: a window signal per host, true for a third of the hosts
    (which third changes every three minutes)."""
    batches, offset = [], 0
    for minute in range(minutes):
        start = T0_MS + minute * MINUTE_MS
        records = []
        for i in range(hosts):
            host = f"db-{i}"
            hot = (minute // 3 + i) % 3 == 0
            signal = Signal(
                id=f"w{minute}-{host}",
                kind="window",
                key=host,
                rules=["host_disk_full"],
                group={"host": host},
                ts_ms=start + MINUTE_MS,
                window_start_ms=start,
                values={"count": 6.0, "max": 0.99 if hot else 0.5},
            )
            value = signal.model_dump_json().encode()
            records.append(
                SimpleNamespace(
                    topic=topic, partition=0, offset=offset, key=host.encode(), value=value
                )
            )
            offset += 1
        batches.append({TopicPartition(topic, 0): records})
    return batches


def run(hosts: int, minutes: int, repeats: int) -> dict[str, Any]:
    settings = load_settings()
    loaded = load_rules([RULES_DIR])
    rulebook = compile_rulebook(loaded.rules, policies=loaded.policies)
    batches = signal_batches(settings.topic(settings.topic_signals), hosts, minutes)
    rates, outputs = [], set()
    for _ in range(repeats):
        batch = DecisionBatch(settings, rulebook, Metrics())
        started, count = time.perf_counter(), 0
        for fetched in batches:
            out, updates = batch.process(fetched, now_ms=T0_MS)
            count += len(out) + len(updates)
        rates.append(hosts * minutes / (time.perf_counter() - started))
        outputs.add(count)
    if len(outputs) != 1:
        raise RuntimeError(f"the repeats made different outputs: {sorted(outputs)}")
    return {
        "signals": hosts * minutes,
        "outputs": outputs.pop(),
        "signals_per_s": round(statistics.median(rates)),
        "signals_per_s_runs": [round(r) for r in rates],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decisions", description=__doc__)
    parser.add_argument("--hosts", type=positive, default=2_000)
    parser.add_argument("--minutes", type=positive, default=60)
    parser.add_argument("--repeats", type=positive, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    result = run(args.hosts, args.minutes, args.repeats)
    if args.json:
        print(json.dumps(result))
    else:
        runs = ", ".join(f"{r:,}" for r in result["signals_per_s_runs"])
        print(
            f"{result['signals']:,} signals, {result['outputs']:,} outputs: "
            f"{result['signals_per_s']:,} signals/s (median; runs {runs})"
        )


if __name__ == "__main__":
    main()
