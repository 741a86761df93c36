"""Memory of pending sequence starts: bytes per pending first event at a million keys.

The state a ``sequence`` rule holds between its first step and the rest is the
:class:`processors.firehose.sequence.SequenceJoin` of each signals partition. This puts
``--pending`` first events (step 0, one per join key ``host-<i>``, as the signals
router hands them over: a fresh key string each) into one join with a 10-minute
timeframe, and reports, each in a fresh child process:

- ``rss``: resident memory after the events minus before (keys included), per event,
  after ``malloc_trim``;
- ``traced``: bytes Python allocated and still holds (``tracemalloc``), per event;
- ``durable_rules`` (``--durable-rules N``, 0 to skip): the same first events posted to
  a durable_rules two-step correlation (docs/architecture.md, "The rule engine"), which keeps each
  unmatched event: RSS per event. For comparison only; the engine does not use it.

    .venv/bin/python -m bench.sequence_memory [--pending 1000000] [--durable-rules 20000]

Prints one JSON object. The budget in the rule-authoring issue: a million pending first
events under 1 GiB.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import gc
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Sequence
from typing import Any

import psutil

BASE_TS_MS = 1_767_225_600_000
TIMEFRAME_MS = 600_000
GIB = 1024**3


def _trim() -> None:
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).malloc_trim(0)


def _rss() -> int:
    gc.collect()
    _trim()
    return int(psutil.Process().memory_info().rss)


def measure_join(pending: int, traced: bool) -> dict[str, Any]:
    from processors.firehose.sequence import SequenceJoin

    join = SequenceJoin(
        2, timeframe_ms=TIMEFRAME_MS, grace_ms=60_000, ordered=True, max_keys=2 * pending
    )
    if traced:
        tracemalloc.start()
    before = _rss()
    for i in range(pending):
        join.add(f"host-{i}", 0, BASE_TS_MS + i % 60_000, now_ms=0)
    after = _rss()
    out: dict[str, Any] = {"keys": len(join), "pending_events": join.pending_events()}
    if traced:
        current, _peak = tracemalloc.get_traced_memory()
        out["traced_bytes"] = current
        out["traced_bytes_per_pending"] = round(current / pending, 1)
    else:
        out["rss_bytes"] = after - before
        out["rss_bytes_per_pending"] = round((after - before) / pending, 1)
    return out


def measure_durable_rules(pending: int) -> dict[str, Any]:
    """First events of a two-step correlation left pending in durable_rules."""
    import durable.engine  # type: ignore[import-untyped]
    from durable.lang import c, m, when_all  # type: ignore[import-untyped]

    class Host(durable.engine.Host):  # type: ignore[misc]
        def _run(self) -> None:  # no timer threads, as processors/rules/durable_rules_matcher.py
            pass

    def done(closure: Any) -> None:
        pass

    rule = when_all(c.first << (m.step == 0), c.second << ((m.step == 1) & (m.key == c.first.key)))
    host = Host()
    host.register_rulesets({"bench_sequence": {"r_0": rule(done).define()}})
    before = _rss()
    for i in range(pending):
        with contextlib.suppress(durable.engine.MessageObservedException):
            host.post("bench_sequence", {"id": i, "step": 0, "key": f"host-{i}"})
    after = _rss()
    return {
        "pending": pending,
        "rss_bytes": after - before,
        "rss_bytes_per_pending": round((after - before) / pending, 1),
    }


def _child(mode: str, pending: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.sequence_memory", "--child", mode, "--pending", str(pending)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sequence_memory", description=__doc__)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--durable-rules", type=int, default=20_000, metavar="N")
    parser.add_argument("--child", choices=["rss", "traced", "durable_rules"], help="internal")
    args = parser.parse_args(argv)
    if args.child == "durable_rules":
        print(json.dumps(measure_durable_rules(args.pending)))
        return 0
    if args.child:
        print(json.dumps(measure_join(args.pending, traced=args.child == "traced")))
        return 0
    rss = _child("rss", args.pending)
    traced = _child("traced", args.pending)
    report: dict[str, Any] = {
        "pending_first_events": args.pending,
        "timeframe_ms": TIMEFRAME_MS,
        "bytes_per_pending": rss["rss_bytes_per_pending"],
        "rss_bytes": rss["rss_bytes"],
        "traced_bytes_per_pending": traced["traced_bytes_per_pending"],
        "fits_1_gib_at_1m": rss["rss_bytes_per_pending"] * 1_000_000 < GIB,
    }
    if args.durable_rules:
        report["durable_rules"] = _child("durable_rules", args.durable_rules)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
