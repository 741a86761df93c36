"""``opsrules silence``: add, list and expire silences on the compacted silences topic.

    opsrules silence add --matcher 'host=web-1' --duration 2h --comment 'disk swap'
    opsrules silence list [--all] [--json]
    opsrules silence expire ID

A silence is one record, key = its id; expiring it rewrites it with ``ends_at`` = now
(Alertmanager's way: silences always end). Every decision worker reads the topic fully
and keeps following it (:mod:`streams.decision_views`), so a silence applies within
about a batch on every worker, from its ``starts_at``, by the alerts' event time.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
import time
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from processors.errors import OpsrulesError
from processors.records import SilenceRecord
from processors.rules.durations import parse_duration_ms
from processors.rules.label_matchers import MatcherError, parse_matcher
from processors.timestamps import format_ts, parse_ts_ms
from streams.compacted import read_compacted
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics, topic_partitions, topic_specs

log = logging.getLogger(__name__)


class SilenceError(OpsrulesError):
    """A silence that cannot be made or found."""

    def __init__(self, message: str, silence_id: str | None = None) -> None:
        self.silence_id = silence_id
        super().__init__(message)


def new_silence(
    matchers: list[str],
    *,
    duration_ms: int,
    comment: str,
    created_by: str,
    now_ms: int,
    start_ms: int | None = None,
) -> SilenceRecord:
    """A new silence from ``start_ms`` (default now) for ``duration_ms``."""
    if not matchers:
        raise SilenceError("a silence needs at least one --matcher (e.g. host=web-1)")
    for text in matchers:
        try:
            parse_matcher(text)
        except MatcherError as exc:
            raise SilenceError(f"--matcher {text!r}: {exc}") from None
    if duration_ms <= 0:
        raise SilenceError("--duration must be longer than 0 (e.g. 2h)")
    if not comment.strip():
        raise SilenceError("--comment must say why (e.g. 'replacing the disk of web-1')")
    starts_ms = now_ms if start_ms is None else start_ms
    return SilenceRecord(
        id=str(uuid.uuid4()),
        matchers=matchers,
        starts_at=format_ts(starts_ms),
        ends_at=format_ts(starts_ms + duration_ms),
        created_by=created_by,
        comment=comment,
        created_at=format_ts(now_ms),
    )


def expired(silence: SilenceRecord, now_ms: int) -> SilenceRecord:
    """The silence ending now (or unchanged if it already ended)."""
    if silence.ends_ms <= now_ms:
        return silence
    starts_ms = min(silence.starts_ms, now_ms - 1)  # one that had not started yet ends too
    return silence.model_copy(
        update={"starts_at": format_ts(starts_ms), "ends_at": format_ts(now_ms)}
    )


def silences_topic(settings: OpsrulesSettings) -> str:
    return settings.topic(settings.topic_silences)


async def write_silence(settings: OpsrulesSettings, silence: SilenceRecord) -> None:
    specs = [s for s in topic_specs(settings) if s.role == "silences"]
    await ensure_topics(settings, specs)
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all")
    await producer.start()
    try:
        value = orjson.dumps(silence.model_dump(mode="json"))
        await producer.send_and_wait(silences_topic(settings), value, key=silence.id.encode())
    finally:
        await producer.stop()


async def read_silences(settings: OpsrulesSettings) -> dict[str, SilenceRecord]:
    """Every silence on the topic (the latest version of each id)."""
    topic = silences_topic(settings)
    partitions = [tp.partition for tp in await topic_partitions(settings, [topic])]
    if not partitions:
        return {}
    found = await read_compacted(settings, topic, partitions)
    silences = {}
    for states in found.values():
        for key, value in states.items():
            try:
                silences[key] = SilenceRecord.model_validate(value)
            except ValidationError as exc:  # not written by `opsrules silence`: skipped
                log.warning("%s: record %r is not a silence, skipped: %s", topic, key, exc)
    return silences


# --- the command line ----------------------------------------------------------------


def add_silence_parser(sub: Any) -> None:
    silence = sub.add_parser(
        "silence",
        help="add, list or expire silences (mute alerts by label matchers for a while)",
        description="Silences mute the alerts whose labels match every matcher "
        "(alertname is the rule id; severity, the rule's labels and its group_by values) "
        "from their start to their end, on every decision worker. Written to the "
        "compacted OPSRULES_TOPIC_SILENCES topic (default ops.silences).",
    )
    actions = silence.add_subparsers(dest="silence_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a silence; prints its id")
    add.add_argument(
        "--matcher",
        action="append",
        required=True,
        metavar="M",
        help='name=value, name!=value, name=~"regex" or name!~"regex"; repeat for more '
        "(all must match)",
    )
    add.add_argument("--duration", required=True, metavar="D", help="how long, e.g. 2h or 30m")
    add.add_argument("--comment", required=True, help="why (shown in the decision trail)")
    add.add_argument("--created-by", metavar="NAME", help="who (default: the login name)")
    add.add_argument("--start", metavar="TIME", help="RFC 3339 start (default: now)")
    listing = actions.add_parser("list", help="list active and pending silences")
    listing.add_argument("--all", action="store_true", help="expired ones too")
    listing.add_argument("--json", action="store_true", help="one JSON silence per line")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id", metavar="ID")
    silence.set_defaults(handler=run_silence)


def run_silence(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    now_ms = int(time.time() * 1000)
    if args.silence_command == "add":
        try:
            duration_ms = parse_duration_ms(args.duration)
            start_ms = parse_ts_ms(args.start) if args.start else None
        except ValueError as exc:
            raise SilenceError(str(exc)) from None
        silence = new_silence(
            args.matcher,
            duration_ms=duration_ms,
            comment=args.comment,
            created_by=args.created_by or getpass.getuser(),
            now_ms=now_ms,
            start_ms=start_ms,
        )
        asyncio.run(write_silence(settings, silence))
        print(silence.id)
        print(f"silenced {', '.join(silence.matchers)} until {silence.ends_at}", file=sys.stderr)
        return 0
    silences = asyncio.run(read_silences(settings))
    if args.silence_command == "expire":
        found = silences.get(args.silence_id)
        if found is None:
            raise SilenceError(
                f"no silence {args.silence_id!r}; `opsrules silence list --all` shows them",
                args.silence_id,
            )
        asyncio.run(write_silence(settings, expired(found, now_ms)))
        print(f"expired {found.id}", file=sys.stderr)
        return 0
    shown = sorted(
        (s for s in silences.values() if args.all or s.ends_ms > now_ms),
        key=lambda s: (s.starts_ms, s.id),
    )
    for item in shown:
        if args.json:
            print(json.dumps(item.model_dump(mode="json")))
            continue
        state = (
            "expired"
            if item.ends_ms <= now_ms
            else ("active" if item.starts_ms <= now_ms else "pending")
        )
        print(
            f"{item.id}  {state:<7}  {item.starts_at} → {item.ends_at}  "
            f"{', '.join(item.matchers)}  by {item.created_by}: {item.comment}"
        )
    return 0
