"""``python -m bench.latency``: the command line (its arguments and their defaults), one
run, and its result printed as a table or as one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence

from bench import latency
from bench.latency.render import render
from bench.latency.run import run

DEFAULT_RATE = 5_000
DEFAULT_SECONDS = 20.0
DEFAULT_LOG_SHARE = 0.5
DEFAULT_HOSTS = 10
DEFAULT_IDLE_TIMEOUT_S = 1.0
DEFAULT_DRAIN_S = 60.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.latency", description=(latency.__doc__ or "").split("\n")[0]
    )
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, help="offered records/s")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long to offer")
    p.add_argument(
        "--log-share",
        type=float,
        default=DEFAULT_LOG_SHARE,
        help="share of the records that are FATAL logs (the rest: metric samples)",
    )
    p.add_argument("--hosts", type=int, default=DEFAULT_HOSTS, help="metric hosts")
    p.add_argument("--idle-timeout-s", type=float, default=DEFAULT_IDLE_TIMEOUT_S)
    p.add_argument(
        "--drain-s", type=float, default=DEFAULT_DRAIN_S, help="wait this long for late actions"
    )
    p.add_argument("--bootstrap", default=None, help="default OPSRULES_BOOTSTRAP_SERVERS")
    p.add_argument("--keep-topics", action="store_true", help="do not delete the bench topics")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.hosts < 1 or not 0 <= args.log_share <= 1:
        parser().error("need --rate > 0, --seconds > 0, --hosts >= 1, 0 <= --log-share <= 1")
    result = asyncio.run(run(args))
    out(json.dumps(result) if args.json else render(result))
    return 0
