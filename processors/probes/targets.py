"""The targets file of ``opsrules probe``: what to check, how, how often.

    probes:
      - name: checkout_http
        service: checkout
        http: {url: "http://127.0.0.1:8080/healthz", timeout: 2s}
        interval: 10s
      - name: orders_db
        service: orders
        tcp: {host: 127.0.0.1, port: 5432}
      - name: queue_depth
        service: queue
        command: {argv: ["/usr/lib/nagios/plugins/check_queue", "-w", "100"]}

Each probe has exactly one kind (``http``, ``tcp``, ``command``) and sends one HealthCheck
per run to ``ops.health``: ``service``, ``instance`` (default: what it checks,
``host:port``), ``check`` (default: the probe's name), ``status``, ``latency_ms`` and,
when not passing, ``message`` (the reason). Probes go only where this file says.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from processors.rules.durations import PositiveDurationMs
from processors.rules.model_base import Name, StrictModel, one_of_kinds

HostName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s/]+$")]


class HttpProbe(StrictModel):
    """Passes on an expected status (any 2xx or 3xx unless ``expect_status`` lists
    them) whose body holds ``contains`` when given; no answer within ``timeout`` fails."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+", max_length=2048)]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=list)
    contains: str | None = Field(None, max_length=4096)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_ms: PositiveDurationMs = Field(5000, alias="timeout")


class TcpProbe(StrictModel):
    """Passes when a TCP connection opens within ``timeout``."""

    host: HostName
    port: int = Field(ge=1, le=65535)
    timeout_ms: PositiveDurationMs = Field(5000, alias="timeout")


class CommandProbe(StrictModel):
    """A monitoring plugin's convention (Nagios, Icinga, Sensu): exit 0 passes, 1 warns,
    2 or any other code fails; the first line of its output is the message."""

    argv: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=256)
    timeout_ms: PositiveDurationMs = Field(10_000, alias="timeout")


Kind = Literal["http", "tcp", "command"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class Probe(StrictModel):
    name: Name
    service: Annotated[str, Field(min_length=1, max_length=255)]
    instance: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    check: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    interval_ms: PositiveDurationMs = Field(30_000, alias="interval")
    warn_latency_ms: PositiveDurationMs | None = Field(
        None, alias="warn_latency", description="A pass slower than this is a warn."
    )
    http: HttpProbe | None = None
    tcp: TcpProbe | None = None
    command: CommandProbe | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Probe:
        one_of_kinds(self, KINDS, "probe")
        if self.interval_ms < 1000:
            raise ValueError("interval: at least 1s")
        return self

    @property
    def kind(self) -> Kind:
        return one_of_kinds(self, KINDS, "probe")

    @property
    def target(self) -> str:
        """What it checks, the default instance: the URL's host:port, host:port, or the
        program."""
        if self.http is not None:
            return self.http.url.split("://", 1)[1].split("/", 1)[0]
        if self.tcp is not None:
            return f"{self.tcp.host}:{self.tcp.port}"
        assert self.command is not None
        return self.command.argv[0].rsplit("/", 1)[-1]


class ProbesFile(StrictModel):
    probes: list[Probe] = Field(min_length=1)
