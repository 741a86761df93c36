"""The faust app: the decision tier (signals → engine → actions).

Volume here is orders of magnitude below the firehose, so faust's per-record agents,
tables and changelogs are affordable. Values stay raw bytes: we decode them ourselves
so that a bad record is dead-lettered instead of crashing the agent (a crashed faust
agent stops consuming while the worker stays up).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import faust

from processors.skeleton import decide
from streams.codec import Rejected, cloudevent_headers, dead_letter, decode, encode
from streams.schemas import Signal
from streams.settings import OpsrulesSettings
from streams.topics import action_topic

log = logging.getLogger(__name__)


def state_dir(settings: OpsrulesSettings) -> Path:
    if settings.state_dir is not None:
        return settings.state_dir
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "opsrules" / settings.app_id


def create_app(settings: OpsrulesSettings, *, decisions: bool = True) -> faust.App:
    """A faust app with the decision agents (none when ``decisions`` is False)."""
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
        web_enabled=settings.web_port is not None,
        web_port=settings.web_port or 6066,
        web_bind="127.0.0.1",
    )
    if decisions:
        _add_decision_agents(app, settings)
    return app


def _add_decision_agents(app: faust.App, settings: OpsrulesSettings) -> None:
    signals = app.topic(settings.topic(settings.topic_signals), partitions=settings.partitions)
    alerts = app.topic(action_topic(settings, "alert"), partitions=settings.partitions)
    deadletter = app.topic(settings.topic(settings.topic_deadletter))
    source = f"opsrules/{settings.app_id}"

    async def decide_signals(stream: AsyncIterator[Any]) -> AsyncIterator[None]:
        async for event in stream.events():  # type: ignore[attr-defined]
            message = event.message
            now_ms = int(time.time() * 1000)
            signal = decode(event.value, Signal, settings.max_record_bytes)
            if isinstance(signal, Rejected):
                letter = dead_letter(
                    signal,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    raw=event.value,
                    now_ms=now_ms,
                )
                await (await deadletter.send(key=message.key, value=encode(letter)))
                continue
            action = decide(signal, now_ms)
            if action is not None:
                headers = cloudevent_headers(
                    event_id=action.id,
                    event_type=f"action.{action.type}",
                    source=source,
                    time_ms=now_ms,
                )
                # Wait for the broker's ack so the offset commits only after the send.
                await (
                    await alerts.send(
                        key=action.group["host"].encode(), value=encode(action), headers=headers
                    )
                )
            yield None

    app.agent(signals, name="decide")(decide_signals)
