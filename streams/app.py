"""The faust app: the decision tier (signals → engine → actions).

Volume here is orders of magnitude below the firehose, so faust's per-record agents,
tables and changelogs are affordable. Alert state lives in the ``alerts`` table (with
a changelog), keyed by alert fingerprint; signals are keyed by series, so every signal
of one alert arrives on the same partition as its state. Values stay raw bytes: we
decode them ourselves so that a bad record is dead-lettered instead of crashing the
agent (a crashed faust agent stops consuming while the worker stays up).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from processors.engine.compiler import CompiledRulebook
from processors.engine.decisions import decide
from streams.codec import Rejected, cloudevent_headers, dead_letter, decode, encode
from streams.metrics import Metrics
from streams.schemas import Action, Signal
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic

log = logging.getLogger(__name__)


def state_dir(settings: OpsrulesSettings) -> Path:
    if settings.state_dir is not None:
        return settings.state_dir
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "opsrules" / settings.app_id


def create_app(
    settings: OpsrulesSettings,
    rulebook: CompiledRulebook | None = None,
    metrics: Metrics | None = None,
) -> faust.App:
    """A faust app with the decision agent (none when ``rulebook`` is None) and, when
    ``OPSRULES_WEB_PORT`` is set, ``/metrics`` on its web server."""
    metrics = metrics if metrics is not None else Metrics()
    app = faust.App(
        settings.app_id,
        broker=settings.faust_broker_url,
        broker_credentials=settings.faust_credentials(),
        autodiscover=False,
        datadir=str(state_dir(settings)),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset=settings.auto_offset_reset,
        producer_acks=-1,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 10,
        web_enabled=settings.web_port is not None,
        web_port=settings.web_port or 6066,
        web_bind="127.0.0.1",
    )
    if rulebook is not None:
        _add_decision_agent(app, settings, rulebook, metrics)

    async def metrics_page(view: Any, request: Any) -> Any:
        return view.text(metrics.render(), content_type="text/plain")

    app.page("/metrics")(metrics_page)
    return app


class _TableStore:
    """The decision core's StateStore on a faust table (assign, never mutate in place:
    only assignments reach the changelog)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self.table.get(key)
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        self.table[key] = value


def _add_decision_agent(
    app: faust.App, settings: OpsrulesSettings, rulebook: CompiledRulebook, metrics: Metrics
) -> None:
    signals = app.topic(settings.topic(settings.topic_signals), partitions=settings.partitions)
    actions = {
        kind: app.topic(action_topic(settings, kind), partitions=settings.partitions)
        for kind in ACTION_TYPES
    }
    deadletter = app.topic(settings.topic(settings.topic_deadletter))
    alerts = app.Table(
        "alerts",
        default=None,
        partitions=settings.partitions,
        # JSON both ways: keys come back from the changelog as the same str.
        schema=faust.Schema(key_serializer="json", value_serializer="json"),
        help="Alert state by fingerprint: phase, firing start, cooldowns.",
    )
    store = _TableStore(alerts)
    source = f"opsrules/{settings.app_id}"

    async def send_action(action: Action) -> None:
        headers = cloudevent_headers(
            event_id=action.id,
            event_type=f"action.{action.type}.{action.status}",
            source=source,
            time_ms=int(time.time() * 1000),
        )
        # Wait for the broker's ack so the source offset commits only after the send.
        await (
            await actions[action.type].send(
                key=action.fingerprint.encode(), value=encode(action), headers=headers
            )
        )

    async def decide_signals(stream: AsyncIterator[Any]) -> AsyncIterator[None]:
        async for event in stream.events():  # type: ignore[attr-defined]
            message = event.message
            signal = decode(event.value, Signal, settings.max_record_bytes)
            if isinstance(signal, Rejected):
                letter = dead_letter(signal, message, event.value, int(time.time() * 1000))
                await (await deadletter.send(key=message.key, value=encode(letter)))
                continue
            try:
                outcome = decide(signal, rulebook, store)
            except Exception as exc:  # a bug must not crash the agent and skip signals
                log.exception("deciding on signal %s failed; dead-lettered", signal.id)
                failed = Rejected("processing_error", f"{type(exc).__name__}: {exc}")
                letter = dead_letter(failed, message, event.value, int(time.time() * 1000))
                await (await deadletter.send(key=message.key, value=encode(letter)))
                continue
            for rule_id in signal.rules:
                metrics.inc("opsrules_rule_evaluations_total", rule_id=rule_id)
            for action in outcome.actions:
                await send_action(action)
                metrics.inc("opsrules_actions_total", type=action.type, status=action.status)
            for suppressed in outcome.suppressed:
                metrics.inc("opsrules_suppressed_actions_total", reason=suppressed.reason)
                log.info("suppressed %s", suppressed)
            yield None

    app.agent(signals, name="decide")(decide_signals)
