"""``opsrules decode``: what the worker reads in a shipper's messages, without Kafka.

Reads one Kafka message value per line (a file, or ``-`` for stdin, e.g. the output of
``kafka-console-consumer``), decodes each as the firehose would for the given topic
(``--format``, default the topic's ``OPSRULES_FORMAT_<TOPIC>``: ``auto`` recognises every
format opsrules reads), and prints every native record it gives, one JSON object per
line with ``ts`` in RFC 3339. A line that does not decode is reported on stderr as
``line N: <reason>: <message>`` and the next one is read; the exit code is 1 when any
line failed. Record times are not checked against the clock (the worker rejects those
older than ``OPSRULES_MAX_AGE_S``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from processors.formats.registry import format_names
from processors.timestamps import format_ts
from streams.codec import Rejected
from streams.ingest import SOURCES, Limits, decode_input
from streams.settings import OpsrulesSettings

INPUT_ROLES = [role for role in SOURCES if role != "signals"]
_ANY_TIME = 2**62


def decode_lines(
    lines: Iterable[bytes], source: str, fmt: str, max_record_bytes: int
) -> Iterator[tuple[int, list[dict[str, Any]] | Rejected]]:
    """``(line number, records or why not)`` for each non-empty line."""
    limits = Limits(max_record_bytes, max_future_skew_ms=_ANY_TIME, max_age_ms=_ANY_TIME)
    for number, line in enumerate(lines, start=1):
        value = line.rstrip(b"\r\n")
        if value.strip():
            yield number, decode_input(source, value, limits, 0, fmt)


def printable(record: dict[str, Any]) -> dict[str, Any]:
    """A decoded record as the topic would carry it natively: ``ts`` in RFC 3339."""
    out = {"ts": format_ts(record["ts_ms"])}
    out.update((k, v) for k, v in record.items() if k != "ts_ms")
    return out


def run_decode(
    settings: OpsrulesSettings, role: str, fmt: str | None, stream: IO[bytes], out: IO[str]
) -> int:
    fmt = fmt or settings.topic_format(role)
    names = format_names(SOURCES[role])
    if fmt not in names:
        print(
            f"opsrules decode: unknown format {fmt!r} for --topic {role}; "
            f"one of: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for number, decoded in decode_lines(stream, SOURCES[role], fmt, settings.max_record_bytes):
        if isinstance(decoded, Rejected):
            failed += 1
            print(f"line {number}: {decoded.reason}: {decoded.message}", file=sys.stderr)
            continue
        for record in decoded:
            out.write(orjson.dumps(printable(record), default=str).decode() + "\n")
    return 1 if failed else 0


def add_decode_parser(sub: Any) -> None:
    decode = sub.add_parser(
        "decode",
        help="decode shipper messages (one per line) into the records the worker reads",
        description=__doc__.split("\n\n", 1)[1].replace("``", "") if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    decode.add_argument(
        "--topic", required=True, choices=INPUT_ROLES, help="the input topic the lines came from"
    )
    decode.add_argument(
        "--format",
        metavar="NAME",
        help="auto, native or a producer format (default: OPSRULES_FORMAT_<TOPIC>, auto); "
        "an unknown name lists the known ones",
    )
    decode.add_argument("file", metavar="FILE", help="one message value per line; - for stdin")
    decode.set_defaults(handler=_cmd_decode)


def _cmd_decode(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    if args.file == "-":
        return run_decode(settings, args.topic, args.format, sys.stdin.buffer, sys.stdout)
    try:
        with open(args.file, "rb") as stream:
            return run_decode(settings, args.topic, args.format, stream, sys.stdout)
    except OSError as exc:
        print(f"opsrules decode: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
