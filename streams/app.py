"""The faust app: the worker's host.

Both tiers are aiokafka batch loops run as mode services of the faust worker
(:mod:`streams.firehose`, :mod:`streams.decision_tier`); the app gives them the
worker's lifecycle, signal handling and exit codes, and serves ``/metrics`` on its web
server when ``OPSRULES_WEB_PORT`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faust

from streams.metrics import Metrics
from streams.settings import OpsrulesSettings


def state_dir(settings: OpsrulesSettings) -> Path:
    if settings.state_dir is not None:
        return settings.state_dir
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "opsrules" / settings.app_id


def create_app(settings: OpsrulesSettings, metrics: Metrics | None = None) -> faust.App:
    """A faust app with ``/metrics`` on its web server (when ``OPSRULES_WEB_PORT`` is set)."""
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

    async def metrics_page(view: Any, request: Any) -> Any:
        return view.text(metrics.render(), content_type="text/plain")

    app.page("/metrics")(metrics_page)
    return app
