"""``opsrules simulate``: send a synthetic scenario (``streams/scenarios.py``) to Kafka.

A thin shell: the scenario generates its records, this module paces and produces them
(value: single-line JSON, key: host or service as the scenario says). With a speed of
``k`` event time runs ``k`` times faster than wall time; without one, records go out as
fast as the producer takes them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.errors import KafkaUnavailableError
from processors.timestamps import format_ts, parse_ts_ms
from streams.scenarios import DURATION_MS, MINUTE_MS, SCENARIOS, generate
from streams.settings import OpsrulesSettings

PROGRESS_EVERY_S = 2.0
_START_TIMEOUT_S = 30.0


def default_start_ms(now_ms: int) -> int:
    """One scenario duration before ``now_ms``, aligned down to a whole minute: every
    event time is recent, and the scenario's minute windows are epoch windows."""
    return (now_ms - DURATION_MS) // MINUTE_MS * MINUTE_MS


def max_ahead_ms(start_ms: int, speed: float | None, now_ms: int) -> int:
    """How far the event time of a record will be ahead of wall time at most, when a
    run starting at ``now_ms`` sends it (negative: always behind)."""
    duration_wall_ms = DURATION_MS / speed if speed else 0.0
    return round(max(start_ms, start_ms + DURATION_MS - duration_wall_ms) - now_ms)


async def run_simulation(
    settings: OpsrulesSettings,
    scenario: str,
    *,
    start_ms: int,
    speed: float | None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Produce every record of ``scenario`` to its topic; return how many were sent.

    ``speed=None`` sends as fast as possible; ``speed=k`` sleeps so that event time
    advances ``k`` times faster than wall time (60: 15 minutes in 15 s). Returns once
    every record is acknowledged (acks=all); raises :class:`KafkaUnavailableError` when
    the broker does not answer or a record cannot be delivered.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive (or None for as fast as possible)")
    emits = generate(scenario, start_ms=start_ms, seed=seed)
    topics = {
        role: settings.topic(getattr(settings, f"topic_{role}")) for role in {e.role for e in emits}
    }
    producer = AIOKafkaProducer(
        **settings.aiokafka_kwargs(),
        client_id=f"{settings.app_id}-simulate",
        acks="all",
        linger_ms=5,
    )
    try:
        await asyncio.wait_for(producer.start(), _START_TIMEOUT_S)
    except (TimeoutError, KafkaError, OSError) as exc:
        await producer.stop()
        raise KafkaUnavailableError(settings.bootstrap_servers, str(exc) or repr(exc)) from None

    loop = asyncio.get_running_loop()
    wall_start_s = loop.time()
    next_report_s = wall_start_s + PROGRESS_EVERY_S
    pending: list[asyncio.Future[Any]] = []
    sent = 0
    try:
        for emit in emits:
            if speed is not None:
                due_s = wall_start_s + (emit.at_ms - start_ms) / 1000 / speed
                if due_s > loop.time():
                    await asyncio.sleep(due_s - loop.time())
            pending.append(
                await producer.send(
                    topics[emit.role], orjson.dumps(emit.value), key=emit.key.encode()
                )
            )
            sent += 1
            if loop.time() >= next_report_s:
                pending = _raise_failed(pending)
                next_report_s = loop.time() + PROGRESS_EVERY_S
                if progress is not None:
                    progress(_progress_line(sent, len(emits), emit.at_ms))
        await asyncio.gather(*pending)
    except KafkaError as exc:
        raise KafkaUnavailableError(
            settings.bootstrap_servers,
            f"a record was not delivered ({sent} of {len(emits)} handed over): {exc!r}",
        ) from None
    finally:
        await producer.stop()
    if progress is not None and emits:
        progress(_progress_line(sent, len(emits), emits[-1].at_ms))
    return sent


def _raise_failed(pending: list[asyncio.Future[Any]]) -> list[asyncio.Future[Any]]:
    """The deliveries still pending; raises the error of the first one that failed."""
    still = []
    for future in pending:
        if future.done():
            future.result()
        else:
            still.append(future)
    return still


def _progress_line(sent: int, total: int, at_ms: int) -> str:
    return f"{sent}/{total} records sent, event time {format_ts(at_ms)}"


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


def _start_ms(text: str | None, now_ms: int) -> int:
    if text is None:
        return default_start_ms(now_ms)
    if text == "now":
        return now_ms // MINUTE_MS * MINUTE_MS
    try:
        return parse_ts_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_simulate(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    if args.list:
        for name, scenario in SCENARIOS.items():
            print(f"{name}\n    {scenario.description}")
        return 0
    if args.scenario is None:
        print(
            f"opsrules simulate: give --scenario NAME (one of: {', '.join(SCENARIOS)}) or --list",
            file=sys.stderr,
        )
        return 2
    from streams.topics import ensure_topics

    now_ms = int(time.time() * 1000)
    try:
        start_ms = _start_ms(args.start, now_ms)
    except argparse.ArgumentTypeError as exc:
        print(f"opsrules simulate: --start: {exc}", file=sys.stderr)
        return 2
    pace = f"{args.speed:g}x" if args.speed else "as fast as possible"
    _say(f"scenario {args.scenario} from {format_ts(start_ms)}, {pace}")
    ahead_s = max_ahead_ms(start_ms, args.speed, now_ms) / 1000
    if ahead_s > settings.max_future_skew_s:
        _say(
            f"warning: records will be up to {ahead_s:.0f} s ahead of the clock; the worker "
            f"dead-letters records more than {settings.max_future_skew_s:g} s ahead "
            "(OPSRULES_MAX_FUTURE_SKEW_S). Pick an earlier --start or a lower --speed."
        )

    async def simulate() -> int:
        if await ensure_topics(settings):
            # Fresh topics elect leaders for a moment; aiokafka logs its retries as
            # warnings. The records still arrive, so keep them out of the way.
            logging.getLogger("aiokafka").setLevel(logging.ERROR)
        return await run_simulation(
            settings,
            args.scenario,
            start_ms=start_ms,
            speed=args.speed,
            seed=args.seed,
            progress=_say,
        )

    sent = asyncio.run(simulate())
    _say(f"done: {sent} records of {args.scenario} sent")
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def add_simulate_parser(sub: Any) -> None:
    """Register ``opsrules simulate`` on the CLI's subparsers (``handler(args, settings)``)."""
    simulate = sub.add_parser(
        "simulate",
        help="send a synthetic telemetry scenario (cpu saturation, error burst, …)",
        description="Sends 15 minutes of event time of a small fleet (web-1, web-2, db-1; "
        "services checkout and db) to the metrics, logs and health topics: 12 minutes of "
        "the scenario, then a 3-minute healthy tail. Creates missing topics. `--list` "
        "shows each scenario's abnormal 1-minute windows.",
    )
    simulate.add_argument("--scenario", choices=sorted(SCENARIOS), metavar="NAME")
    simulate.add_argument(
        "--speed",
        type=_positive,
        metavar="X",
        help="event time runs X times faster than wall time (60: the whole scenario in "
        "15 s); default: as fast as possible",
    )
    simulate.add_argument(
        "--start",
        metavar="ISO8601|now",
        help="event time of the first record (RFC 3339 with a zone, or 'now' = this "
        "minute, which suits --speed 1); default: now minus 15 minutes, aligned down to a "
        "whole minute, which suits any speed",
    )
    simulate.add_argument("--seed", type=int, default=0, metavar="N", help="default 0")
    simulate.add_argument("--list", action="store_true", help="list the scenarios and exit")
    simulate.set_defaults(handler=_cmd_simulate)
