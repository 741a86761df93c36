"""Process settings, read once from the environment (prefix ``OPSRULES_``).

Build an :class:`OpsrulesSettings` in ``main()`` and pass it down; nothing in
``processors/`` reads settings. Invalid values fail at start with a message that
names the environment variable (:func:`load_settings`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.errors import SettingsError
from processors.formats.registry import format_names
from streams.ingest import SOURCES

ENV_PREFIX = "OPSRULES_"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
OffsetReset = Literal["earliest", "latest"]


class OpsrulesSettings(BaseSettings):
    """Everything a process needs to know about its cluster and its topics."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    app_id: str = Field(
        "opsrules",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="faust app id; also the prefix of every consumer group id.",
    )
    topic_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix for every topic name, e.g. 'team-a.' gives 'team-a.ops.metrics'.",
    )

    # Topic names (before the prefix).
    topic_metrics: str = "ops.metrics"
    topic_logs: str = "ops.logs"
    topic_security: str = "ops.security"
    topic_health: str = "ops.health"
    topic_events: str = "ops.events"
    topic_signals: str = "ops.signals"
    topic_actions_alert: str = "ops.actions.alert"
    topic_actions_heal: str = "ops.actions.heal"
    topic_actions_scale: str = "ops.actions.scale"
    topic_actions_incident: str = "ops.actions.incident"
    topic_actions_results: str = "ops.actions.results"
    topic_deadletter: str = "ops.deadletter"
    topic_silences: str = "ops.silences"  # compacted; `opsrules silence` writes it
    topic_decisions: str = "ops.decisions"  # the decision trail of every action

    # What producers write to each input topic: ``auto`` recognises every format opsrules
    # reads per record (processors/formats/registry.py); a format's name reads only it.
    format_metrics: str = Field("auto", description="Format of the metrics topic.")
    format_logs: str = Field("auto", description="Format of the logs topic.")
    format_security: str = Field("auto", description="Format of the security topic.")
    format_health: str = Field("auto", description="Format of the health topic.")
    format_events: str = Field("auto", description="Format of the events topic.")

    partitions: int = Field(4, ge=1, le=10_000, description="Partitions of every topic.")
    replication_factor: int = Field(1, ge=1, le=32)

    auto_offset_reset: OffsetReset = "earliest"

    # Kafka security, passed through to aiokafka and faust.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    max_record_bytes: int = Field(
        1_048_576, ge=1024, description="Larger input records are dead-lettered as too_large."
    )
    max_future_skew_s: float = Field(
        300, ge=0, description="Records stamped further in the future are dead-lettered."
    )
    max_age_s: float = Field(
        7 * 86_400, gt=0, description="Records older than this are dead-lettered."
    )
    idle_timeout_s: float = Field(
        30,
        gt=0,
        description="A partition without records for this long advances its "
        "event clock with processing time, so its windows close.",
    )
    rules_dir: Path = Field(Path("rules"), description="Where the rule files are.")
    probe_targets: Path = Field(
        Path("rules/probes.yaml"),
        description="What opsrules probe checks: HTTP, TCP and command probes.",
    )
    receivers_file: Path = Field(
        Path("rules/receivers.yaml"),
        description="Where opsrules act sends actions: receivers and the routing tree.",
    )
    act_max_in_flight: int = Field(
        1000,
        ge=1,
        description="Unfinished deliveries past which opsrules act stops fetching actions "
        "(until half of them are done).",
    )
    act_concurrency: int = Field(
        4, ge=1, le=256, description="Deliveries each receiver makes at once."
    )
    dry_run: bool = Field(
        False,
        description="Decide and record every action on the decisions topic, send none "
        "(as if every rule said dry_run: true).",
    )
    decision_history_s: float = Field(
        86_400,
        gt=0,
        description="How far back a decision worker reads the decisions and action results "
        "topics at start (for budgets, circuit breakers and verification); at least the "
        "longest budget window of the rules is read.",
    )
    matcher: Literal["durable_rules", "compiled"] = Field(
        "durable_rules",
        description="What decides windowed rules' conditions: durable_rules, or our own "
        "compiled expressions (same results, faster).",
    )
    state_dir: Path | None = Field(
        None,
        description="faust's data dir and the in-flight markers of poison-record "
        "detection; defaults to $XDG_STATE_HOME/opsrules/<app_id>.",
    )

    session_timeout_s: float = Field(
        30,
        ge=6,
        le=300,
        description="Consumer group session timeout: how long a "
        "crashed worker's partitions wait before another worker takes them.",
    )

    # Firehose batch loop.
    firehose_max_records: int = Field(
        10_000, ge=1, description="Most records one getmany() returns."
    )
    firehose_poll_timeout_ms: int = Field(200, ge=1, le=60_000)
    rules_reload_interval_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often the worker looks for changed rule files and reloads a "
        "valid change (0: never).",
    )
    anomaly_window_ms: int = Field(
        0,
        ge=0,
        le=86_400_000,
        description="What the anomaly detector scores: 0 = every raw sample; else the "
        "mean of each tumbling window of this many ms per series.",
    )
    counter_series_max: int = Field(
        100_000,
        ge=1,
        le=100_000_000,
        description="Cumulative counter series each metrics partition remembers to make "
        "their <name>.rate samples (about 200 bytes each); fewer than the live series "
        "make no rates at all (each is forgotten before its next sample).",
    )
    commit_interval_ms: int = Field(
        1_000,
        ge=0,
        le=600_000,
        description="How often each batch loop waits for its outputs' acks and commits "
        "offsets (0: after every batch). Longer: less work per record, more to re-read "
        "after a crash.",
    )
    max_crashes_per_record: int = Field(
        3,
        ge=1,
        le=100,
        description="A record that was being handled at this many crashes of the worker "
        "(kill -9, out of memory) is dead-lettered instead of handled again "
        "(streams/inflight.py).",
    )
    fault_kill_on: str | None = Field(
        None,
        min_length=1,
        description="Fault injection, for crash-recovery tests only: a batch loop about to "
        "handle a record whose value contains this text kills its process (SIGKILL).",
    )

    # The faust web server (off unless a port is set).
    web_port: int | None = Field(None, ge=1, le=65_535)

    # Local Kafka (``opsrules kafka up``).
    kafka_port: int = Field(9092, ge=1, le=65_535)
    kafka_controller_port: int | None = Field(
        None, ge=1, le=65_535, description="Defaults to kafka_port + 1."
    )
    kafka_heap: str = Field("512m", pattern=r"^[0-9]+[kKmMgG]$")
    kafka_data_dir: Path | None = Field(
        None, description="Defaults to $XDG_STATE_HOME/opsrules/kafka-<port>."
    )
    kafka_cache_dir: Path | None = Field(
        None, description="Where Maven copies the broker jars; defaults to $XDG_CACHE_HOME."
    )
    kafka_start_timeout_s: float = Field(90.0, gt=0)

    @field_validator(
        "format_metrics", "format_logs", "format_security", "format_health", "format_events"
    )
    @classmethod
    def _check_format(cls, value: str, info: ValidationInfo) -> str:
        role = str(info.field_name).removeprefix("format_")
        names = format_names(SOURCES[role])
        if value not in names:
            raise ValueError(
                f"unknown format {value!r} for the {role} topic; one of: {', '.join(names)}"
            )
        return value

    def topic_format(self, role: str) -> str:
        """The format of the input topic of ``role`` (``metrics``, ``logs``…)."""
        return str(getattr(self, f"format_{role}", "auto"))

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("needs at least one host:port")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65_536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    def as_env(self) -> dict[str, str]:
        """``OPSRULES_*`` variables that give a child process exactly these settings."""
        return {
            f"{ENV_PREFIX}{name.upper()}": str(value)
            for name in type(self).model_fields
            if (value := getattr(self, name)) is not None
        }

    def topic(self, name: str) -> str:
        """The full topic name for a base name such as ``ops.metrics``."""
        return f"{self.topic_prefix}{name}"

    def group_id(self, component: str) -> str:
        """Consumer group id of one component (the faust app uses ``app_id`` itself)."""
        return f"{self.app_id}.{component}"

    @property
    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{server}" for server in self.bootstrap_servers.split(","))

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        from aiokafka.helpers import create_ssl_context

        return create_ssl_context(
            cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
        )

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Connection keyword arguments shared by aiokafka consumers, producers and admin."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def faust_credentials(self) -> Any:
        """``broker_credentials`` for faust, or None for PLAINTEXT."""
        import faust

        if self.security_protocol.startswith("SASL"):
            return faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        if self.security_protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        return None


def load_settings(**overrides: Any) -> OpsrulesSettings:
    """Read settings from the environment; raise :class:`SettingsError` naming each bad
    variable (``OPSRULES_BOOTSTRAP_SERVERS: 'x' is not host:port``)."""
    try:
        settings = OpsrulesSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            value = error.get("input")
            problems.append(f"{ENV_PREFIX}{field.upper()}={value!r}: {error['msg']}")
        raise SettingsError(problems) from None
    if settings.security_protocol.startswith("SASL") and not (
        settings.sasl_username and settings.sasl_password
    ):
        raise SettingsError(
            [
                f"{ENV_PREFIX}SECURITY_PROTOCOL={settings.security_protocol!r} needs "
                f"{ENV_PREFIX}SASL_USERNAME and {ENV_PREFIX}SASL_PASSWORD"
            ]
        )
    return settings
