"""``python -m bench.firehose``: the command line (its arguments and their defaults), the
mode asked for, and its result printed as a table or as one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence

from bench import firehose
from bench.arguments import positive
from bench.firehose.core_mode import core_main
from bench.firehose.kafka_mode import kafka_run
from bench.firehose.render import render

DEFAULT_RECORDS = 200_000
DEFAULT_SERIES = 1_000
DEFAULT_MAX_RECORDS = 10_000  # settings.firehose_max_records


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.firehose", description=(firehose.__doc__ or "").split("\n")[0]
    )
    p.add_argument("--mode", choices=("core", "kafka"), default="core")
    p.add_argument("--records", type=positive, default=DEFAULT_RECORDS, help="records (N)")
    p.add_argument("--series", type=positive, default=DEFAULT_SERIES, help="hosts (series)")
    p.add_argument(
        "--batch-samples",
        type=int,
        default=0,
        metavar="K",
        help="core: also run metric batches of K samples each",
    )
    p.add_argument(
        "--batch-records",
        type=positive,
        default=None,
        help="core: how many batch records (default N // K: about N samples)",
    )
    p.add_argument(
        "--batch-hosts",
        type=positive,
        default=None,
        help="core: hosts sending the batches (default series // K: about as many "
        "metric series as the single-sample run)",
    )
    p.add_argument("--repeat", type=positive, default=3, help="timed runs (the median is shown)")
    p.add_argument(
        "--max-records", type=positive, default=DEFAULT_MAX_RECORDS, help="records per batch"
    )
    p.add_argument("--profile", action="store_true", help="core: cProfile each run as well")
    p.add_argument("--bootstrap", default=None, help="kafka: default OPSRULES_BOOTSTRAP_SERVERS")
    p.add_argument("--partitions", type=positive, default=1, help="kafka: topic partitions")
    p.add_argument("--timeout-s", type=float, default=600.0, help="kafka: give up after this")
    p.add_argument("--keep-topics", action="store_true", help="kafka: do not delete the topics")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    if args.batch_samples < 0:
        parser().error("--batch-samples must be >= 0")
    result = core_main(args) if args.mode == "core" else asyncio.run(kafka_run(args))
    out(json.dumps(result) if args.json else render(result))
    return 0
