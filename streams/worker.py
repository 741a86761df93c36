"""``opsrules worker``: both tiers in one process.

The faust worker owns the event loop, the signal handlers (SIGINT/SIGTERM stop every
service: each batch loop, firehose and decision tier, finishes, flushes and commits
its batch) and the exit code (0 after a clean stop, 1 after a crash).

Before faust starts, the worker creates the missing topics; while Kafka does not answer
it waits, one line every 5 s and aiokafka's own errors muted
(:mod:`streams.broker_watch`), and Ctrl-C or SIGTERM meanwhile exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import faust
from mode import Service

from processors.errors import KafkaUnavailableError, RulesError
from processors.rules.compiler import CompiledRulebook, compile_rulebook
from processors.rules.loader import load_rules
from streams.app import create_app
from streams.batch_loop import BatchLoopService
from streams.broker_watch import BrokerWatch
from streams.decision_tier import DecisionService
from streams.firehose import FirehoseService
from streams.metrics import Metrics
from streams.reload import RulesWatcher
from streams.settings import OpsrulesSettings
from streams.topics import ensure_topics

log = logging.getLogger(__name__)


class StopAfter(Service):
    """Sends this process SIGTERM after ``timeout_s``: the same clean path as Ctrl-C."""

    def __init__(self, timeout_s: float, **kwargs: Any) -> None:
        self.timeout_s = timeout_s
        super().__init__(**kwargs)

    async def on_started(self) -> None:
        self.loop.call_later(self.timeout_s, os.kill, os.getpid(), signal.SIGTERM)


class _Worker(faust.Worker):  # type: ignore[misc]
    """faust's worker without its terminal spinner (to spin on every log record, faust
    sets the root logger to DEBUG, and every ``log.debug`` of aiokafka's send path then
    built a record that the handlers dropped: 4% of the worker's CPU), which tells the
    batch loops when the app (and its ``/metrics``) is up."""

    def __init__(self, *args: Any, started: asyncio.Event, **kwargs: Any) -> None:
        self.app_started = started
        super().__init__(*args, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None

    async def on_startup_finished(self) -> None:
        self.app_started.set()
        await super().on_startup_finished()


def load_rulebook(settings: OpsrulesSettings) -> CompiledRulebook:
    """Load and compile ``settings.rules_dir``; every error is reported at once."""
    if not settings.rules_dir.exists():
        raise RulesError([f"{settings.rules_dir}: no such directory (OPSRULES_RULES_DIR)"])
    loaded = load_rules([settings.rules_dir])
    if not loaded.ok:
        raise RulesError([str(error) for error in loaded.errors])
    log.info("loaded %d rules from %s", len(loaded.rules), settings.rules_dir)
    return compile_rulebook(loaded.rules, matcher=settings.matcher, policies=loaded.policies)


def tune_gc() -> None:
    """Collect reference cycles far less often than CPython's default.

    The firehose allocates a few short-lived objects per record and keeps many
    long-lived ones (open windows, known series); with the default thresholds
    (700, 10, 10) the cyclic collector ran so often, rescanning that state, that it
    took about a quarter of the worker's CPU (pipeline bench, 300k records: 20-23 CPU s
    per million records before, 14.0-14.6 after). Reference counting frees nearly all
    of it; cycles are rare and still collected. What exists at start (modules, the
    rulebook) is frozen out of every collection.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)


def _topics_once_kafka_answers(
    loop: asyncio.AbstractEventLoop, settings: OpsrulesSettings, watch: BrokerWatch
) -> list[str] | None:
    """Create the missing topics, waiting for Kafka as long as it does not answer (one
    line every ``watch.interval_s``); None if Ctrl-C or SIGTERM came first. faust's
    signal handlers are not installed yet, so ours stand in for them meanwhile."""
    stop = asyncio.Event()

    async def create() -> list[str] | None:
        while True:
            try:
                return await ensure_topics(settings, timeout_s=watch.interval_s)
            except KafkaUnavailableError:
                pass
            if not await watch.until_answers(stop):
                return None

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        return loop.run_until_complete(create())
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run_worker(
    settings: OpsrulesSettings,
    *,
    timeout_s: float | None = None,
    firehose: bool = True,
    decisions: bool = True,
    loglevel: str = "info",
) -> int:
    """Run until stopped; return the process exit code."""
    rulebook = load_rulebook(settings)

    def services(loop: asyncio.AbstractEventLoop, metrics: Metrics) -> list[Service]:
        out: list[Service] = []
        if firehose:
            out.append(FirehoseService(settings, rulebook, metrics, loop=loop))
        if decisions:
            out.append(DecisionService(settings, rulebook, metrics, loop=loop))
        if settings.rules_reload_interval_s > 0:
            tiers = [s for s in out if isinstance(s, DecisionService | FirehoseService)]
            tiers.sort(key=lambda tier: not isinstance(tier, DecisionService))  # decisions first
            out.append(
                RulesWatcher(
                    settings.rules_dir,
                    rulebook,
                    lambda: load_rulebook(settings),
                    tiers,
                    metrics,
                    interval_s=settings.rules_reload_interval_s,
                    loop=loop,
                )
            )
        return out

    return run_services(settings, services, timeout_s=timeout_s, loglevel=loglevel)


def run_services(
    settings: OpsrulesSettings,
    build: Callable[[asyncio.AbstractEventLoop, Metrics], list[Service]],
    *,
    timeout_s: float | None = None,
    loglevel: str = "info",
) -> int:
    """Host the services ``build`` makes (batch loops and their helpers) in a faust
    worker, once the topics exist; run until stopped; return the process exit code."""
    tune_gc()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    watch = BrokerWatch(settings)
    watch.install(loop)
    created = _topics_once_kafka_answers(loop, settings, watch)
    if created is None:
        log.warning("stopped before Kafka answered")
        loop.run_until_complete(watch.close())
        return 0
    if created:
        log.info("created topics: %s", ", ".join(created))
    metrics = Metrics()
    app = create_app(settings, metrics)
    services = build(loop, metrics)
    if timeout_s is not None:
        services.append(StopAfter(timeout_s, loop=loop))
    # The loops consume once the app is up: /metrics then counts from the first record.
    started = asyncio.Event()
    for service in services:
        if isinstance(service, BatchLoopService):
            service.start_after = started
            service.broker = watch
    worker = _Worker(
        app,
        *services,
        started=started,
        loop=loop,
        loglevel=loglevel,
        quiet=True,
        redirect_stdouts=False,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
