"""The Quix Streams peer: a tumbling 10 s window mean per series, final emission.

Runs in the quix venv (``bench/peers/quix_env.py``), never in opsrules' own: it must
not import opsrules. It reads a pre-loaded topic of metric samples
(``{"ts": <epoch ms>, "name", "value", "host", "labels", ...}``, key = series) with a
Quix Streams ``Application`` (a fresh consumer group, ``auto_offset_reset="earliest"``,
the default ``commit_interval`` of 5 s, at-least-once), decodes values with
``JSONDeserializer(loads=orjson.loads)`` (Quix's own default is a thin wrapper over
orjson.loads too), takes event time from ``ts`` (timestamp extractor), computes
``.tumbling_window(10_000).mean()`` over ``value`` per key with ``.final()`` emission
(windows close per key by default: ``--closing-strategy``), counts the results and
produces them to ``--output-topic`` (JSON: ``{"start", "end", "value"}``).

It stops after ``--records`` input records and prints ONE JSON line on stdout:

    {"records": N, "first_record_s": t0, "last_record_s": t1, "rps": N / (t1 - t0),
     "cpu_s": ..., "cpu_s_per_million": ..., "peak_rss_bytes": ..., "windows_out": ...}

``t0`` is taken when the first record reaches Quix code (its timestamp extractor runs,
right after its value was decoded), ``t1`` when the N-th record has been processed
(``on_message_processed``): the group join, state recovery and the first fetch wait
come before ``t0``; the final commit on stop comes after ``t1``. Times are
``time.perf_counter()`` seconds; ``cpu_s`` is ``time.process_time()`` over the same
span (the whole process: librdkafka's threads included); ``peak_rss_bytes`` is the
peak RSS of the whole run (``VmHWM``; ``ru_maxrss_bytes``, ``ru_maxrss * 1024``, beside
it: see :func:`peak_rss` for why they differ). Logs go to stderr.

    <quix-venv>/bin/python bench/peers/quix_app.py --bootstrap HOST:PORT --topic T \\
        --records N --group G --output-topic O --state-dir DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

import orjson
from quixstreams import Application
from quixstreams.models import TimestampType, TopicConfig
from quixstreams.models.serializers.json import JSONDeserializer, JSONSerializer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True, help="the pre-loaded input topic")
    p.add_argument("--records", type=int, required=True, help="stop after N input records")
    p.add_argument("--group", required=True, help="consumer group (unique per run)")
    p.add_argument("--output-topic", required=True, help="window results go here")
    p.add_argument("--output-partitions", type=int, default=4)
    p.add_argument("--state-dir", required=True, help="RocksDB state directory")
    p.add_argument("--window-ms", type=int, default=10_000)
    p.add_argument("--commit-interval-s", type=float, default=5.0, help="Quix's default: 5 s")
    p.add_argument("--closing-strategy", choices=("key", "partition"), default="key")
    p.add_argument("--loglevel", default="WARNING")
    args = p.parse_args(argv)
    if args.records < 1:
        p.error("--records must be >= 1")
    return args


# The same as bench/peers/own_rss.py: this app runs isolated (``python -I``) in the quix
# venv and imports nothing from the checkout.
def peak_rss() -> tuple[int, int]:
    """(this process's own peak RSS, ``ru_maxrss * 1024``) in bytes.

    The first is ``VmHWM`` of /proc/self/status: the high-water mark of this address
    space only. Linux's ``ru_maxrss`` also keeps the peak of the process image that
    exec'd this one (the launcher, as forked), so it overstates a child started by a
    large parent; it is kept alongside for reference (and used where /proc is absent).
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024, maxrss
    except OSError:
        pass
    return maxrss, maxrss


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    expect = args.records
    # [t0 wall, t0 cpu, t1 wall, t1 cpu]; plain lists and ints: cheap on the hot path.
    marks: list[float] = []
    consumed = 0
    windows_out = 0

    def event_time(value: Any, headers: Any, timestamp: int, kind: TimestampType) -> int:
        if not marks:
            marks.extend((time.perf_counter(), time.process_time()))
        ts: int = value["ts"]
        return ts

    def processed(topic: str, partition: int, offset: int) -> None:
        nonlocal consumed
        consumed += 1
        if consumed == expect:
            marks.extend((time.perf_counter(), time.process_time()))
            app.stop()

    def count_window(result: Any) -> None:
        nonlocal windows_out
        windows_out += 1

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval_s,
        state_dir=args.state_dir,
        on_message_processed=processed,
        loglevel=args.loglevel,
        processing_guarantee="at-least-once",
    )
    source = app.topic(
        args.topic,
        key_deserializer="bytes",
        value_deserializer=JSONDeserializer(loads=orjson.loads),
        timestamp_extractor=event_time,
    )
    sink = app.topic(
        args.output_topic,
        key_serializer="bytes",
        value_serializer=JSONSerializer(),
        config=TopicConfig(num_partitions=args.output_partitions, replication_factor=1),
    )
    sdf = app.dataframe(source)
    sdf = sdf.apply(lambda sample: sample["value"])
    sdf = sdf.tumbling_window(args.window_ms).mean().final(args.closing_strategy)
    sdf = sdf.update(count_window)
    sdf.to_topic(sink)
    app.run()

    if len(marks) < 4:
        print(f"quix_app: stopped after {consumed} of {expect} records", file=sys.stderr)
        return 1
    t0, cpu0, t1, cpu1 = marks[:4]
    span, cpu_s = t1 - t0, cpu1 - cpu0
    peak, maxrss = peak_rss()
    result = {
        "records": consumed,
        "first_record_s": t0,
        "last_record_s": t1,
        "rps": consumed / span if span > 0 else 0.0,
        "cpu_s": cpu_s,
        "cpu_s_per_million": cpu_s / consumed * 1e6,
        "peak_rss_bytes": peak,
        "ru_maxrss_bytes": maxrss,
        "windows_out": windows_out,
        "settings": {
            "quixstreams": _version("quixstreams"),
            "confluent_kafka": _version("confluent-kafka"),
            "orjson": orjson.__version__,
            "python": sys.version.split()[0],
            "auto_offset_reset": "earliest",
            "commit_interval_s": args.commit_interval_s,
            "processing_guarantee": "at-least-once",
            "json": "JSONDeserializer(loads=orjson.loads)",
            "window": f"tumbling_window({args.window_ms}).mean().final({args.closing_strategy!r})",
            "group": args.group,
            "output_topic": args.output_topic,
        },
    }
    print(json.dumps(result), flush=True)
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())
