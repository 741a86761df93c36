"""The faust floor: a minimal faust-streaming agent that decodes each record, nothing else.

Runs in opsrules' venv (``python -m bench.peers.faust_floor``) on a pre-loaded topic.
One agent (concurrency 1) iterates the raw values (``value_serializer="raw"``) and
``orjson.loads`` each one. The app id is given per run (``--app-id``: faust derives the
consumer group from it), the web server is off, ``consumer_auto_offset_reset="earliest"``,
faust's default ``broker_commit_interval`` of 2.8 s (``--commit-interval-s``), tables
in memory (there are none). Once ``--records`` records are decoded the process sends
itself SIGTERM: the worker's clean stop path (offsets committed, group left), the one
``opsrules worker`` uses too.

It prints ONE JSON line on stdout:

    {"records": N, "first_record_s": t0, "last_record_s": t1, "rps": N / (t1 - t0),
     "cpu_s": ..., "cpu_s_per_million": ..., "peak_rss_bytes": ..., "windows_out": 0}

``t0`` is taken when the first record reaches the agent (before it is decoded), ``t1``
when the N-th has been decoded: the group join and the first fetch wait come before
``t0``. Times are ``time.perf_counter()`` seconds, ``cpu_s`` is ``time.process_time()``
over the same span (whole process), ``peak_rss_bytes`` the peak RSS of the whole run
(``VmHWM``; ``ru_maxrss_bytes``, ``ru_maxrss * 1024``, beside it: see :func:`peak_rss`).
Faust's logs go to stderr.

    .venv/bin/python -m bench.peers.faust_floor --bootstrap HOST:PORT --topic T \\
        --records N --app-id ID --data-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from importlib.metadata import version

import faust
import orjson
from faust.types import StreamT

from bench.peers.own_rss import peak_rss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.peers.faust_floor", description=__doc__.split("\n")[0]
    )
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True, help="the pre-loaded input topic")
    p.add_argument("--records", type=int, required=True, help="stop after N records")
    p.add_argument("--app-id", required=True, help="faust app id (unique per run)")
    p.add_argument("--data-dir", required=True, help="faust datadir")
    p.add_argument("--partitions", type=int, default=4, help="for faust's own topics")
    p.add_argument("--commit-interval-s", type=float, default=2.8, help="faust's default: 2.8 s")
    p.add_argument("--loglevel", default="warning")
    args = p.parse_args(argv)
    if args.records < 1:
        p.error("--records must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    expect = args.records
    marks: list[float] = []  # [t0 wall, t0 cpu, t1 wall, t1 cpu]
    consumed = 0

    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        autodiscover=False,
        datadir=args.data_dir,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=args.commit_interval_s,
        web_enabled=False,
    )
    source = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    loads = orjson.loads

    @app.agent(source)
    async def floor(stream: StreamT[bytes]) -> None:
        nonlocal consumed
        async for value in stream:
            if not marks:
                marks.extend((time.perf_counter(), time.process_time()))
            loads(value)
            consumed += 1
            if consumed == expect:
                marks.extend((time.perf_counter(), time.process_time()))
                asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = faust.Worker(
        app, loop=loop, loglevel=args.loglevel, quiet=True, redirect_stdouts=False
    )
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1

    if len(marks) < 4:
        print(
            f"faust_floor: worker stopped (exit {code}) after {consumed} of {expect} records",
            file=sys.stderr,
        )
        return code or 1
    t0, cpu0, t1, cpu1 = marks[:4]
    span, cpu_s = t1 - t0, cpu1 - cpu0
    peak, maxrss = peak_rss()
    result = {
        "records": expect,
        "first_record_s": t0,
        "last_record_s": t1,
        "rps": expect / span if span > 0 else 0.0,
        "cpu_s": cpu_s,
        "cpu_s_per_million": cpu_s / expect * 1e6,
        "peak_rss_bytes": peak,
        "ru_maxrss_bytes": maxrss,
        "windows_out": 0,
        "records_seen": consumed,
        "worker_exit": code,
        "settings": {
            "faust_streaming": version("faust-streaming"),
            "aiokafka": version("aiokafka"),
            "orjson": orjson.__version__,
            "python": sys.version.split()[0],
            "auto_offset_reset": "earliest",
            "commit_interval_s": args.commit_interval_s,
            "json": "orjson.loads per record in the agent (value_serializer raw)",
            "app_id": args.app_id,
        },
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
