"""``opsrules probe``: active health checks. Runs the targets file's HTTP, TCP and command
probes, each every ``interval``, and sends each result to ``ops.health`` as a native
HealthCheck keyed by service, so ``service_down``, heartbeat and SLO rules work
without another tool. What a result means is decided in processors/probes/checks.py.

Probes start spread over their interval (a stable offset from the probe's name), so a
file of many probes does not fire them all at once; a probe never overlaps itself (a
slow run delays its next one). ``--once`` runs every probe once and exits (cron, CI);
``--dry-run`` prints the records instead of sending them. SIGINT/SIGTERM stop it after
the runs in progress, their results sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processors.errors import KafkaUnavailableError
from processors.executors.requests import Program
from processors.probes.checks import Status, command_status, http_status, record, tcp_status
from processors.probes.loader import load_probes
from processors.probes.targets import Probe
from streams.programs import run_program
from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 65_536  # of an HTTP answer, searched for `contains`


class Prober:
    def __init__(self, probes: list[Probe], host: str) -> None:
        self.probes = probes
        self.host = host
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Prober:
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def run(self, probe: Probe) -> dict[str, Any]:
        """One run of ``probe``: its HealthCheck record."""
        started = time.monotonic()
        status, message = await self._check(probe)
        latency_ms = (time.monotonic() - started) * 1000
        return record(probe, status, latency_ms, message, int(time.time() * 1000), self.host)

    async def _check(self, probe: Probe) -> tuple[Status, str]:
        if probe.http is not None:
            return await self._http_check(probe)
        if probe.tcp is not None:
            tcp = probe.tcp
            return tcp_status(await _connect(tcp.host, tcp.port, tcp.timeout_ms / 1000))
        assert probe.command is not None
        answer = await run_program(
            Program(tuple(probe.command.argv), probe.command.timeout_ms), MAX_BODY_BYTES
        )
        return command_status(answer.code, answer.body, answer.failure)

    async def _http_check(self, probe: Probe) -> tuple[Status, str]:
        http = probe.http
        assert http is not None and self._http is not None
        timeout = aiohttp.ClientTimeout(total=http.timeout_ms / 1000)
        try:
            async with self._http.request(
                http.method, http.url, headers=http.headers, timeout=timeout, allow_redirects=False
            ) as response:
                body = await response.content.read(MAX_BODY_BYTES)
                return http_status(probe, response.status, body, "")
        except TimeoutError:
            return http_status(probe, 0, b"", f"no answer within {http.timeout_ms / 1000:g}s")
        except aiohttp.ClientError as exc:
            return http_status(probe, 0, b"", f"{type(exc).__name__}: {exc}")


async def _connect(host: str, port: int, timeout_s: float) -> str:
    """ "" when a TCP connection opened within ``timeout_s``, else why not."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except TimeoutError:
        return f"no connection to {host}:{port} within {timeout_s:g}s"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(OSError):  # closing an open connection: nothing to report
        await writer.wait_closed()
    return ""


def offset_s(probe: Probe) -> float:
    """A stable start offset within the probe's interval, from its name."""
    digest = int.from_bytes(hashlib.sha256(probe.name.encode()).digest()[:4], "big")
    return (digest / 2**32) * probe.interval_ms / 1000


class Sink:
    """Where results go: ``ops.health`` (keyed by service), or stdout for a dry run."""

    def __init__(self, settings: OpsrulesSettings, dry_run: bool) -> None:
        self.topic = settings.topic(settings.topic_health)
        self.bootstrap = settings.bootstrap_servers
        self.dry_run = dry_run
        self._producer = (
            None
            if dry_run
            else AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all", linger_ms=5)
        )

    async def __aenter__(self) -> Sink:
        if self._producer is not None:
            try:
                await self._producer.start()
            except KafkaError as exc:
                await self._producer.stop()
                raise KafkaUnavailableError(self.bootstrap, str(exc) or repr(exc)) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.flush()
            await self._producer.stop()

    async def send(self, result: dict[str, Any]) -> None:
        value = orjson.dumps(result)
        if self._producer is None:
            sys.stdout.write(value.decode() + "\n")
            sys.stdout.flush()
            return
        await self._producer.send(self.topic, value, key=result["service"].encode())


async def probe_loop(
    probes: list[Probe],
    sink: Sink,
    prober: Prober,
    stop: asyncio.Event,
    *,
    once: bool,
) -> int:
    """Run the probes until ``stop`` (or once each); the number of runs."""
    runs = 0

    async def every(probe: Probe) -> None:
        nonlocal runs
        if not once and await _wait(stop, offset_s(probe)):
            return
        while True:
            due = time.monotonic() + probe.interval_ms / 1000
            result = await prober.run(probe)
            await sink.send(result)
            runs += 1
            if result["status"] != "pass":
                log.info("probe %s: %s (%s)", probe.name, result["status"], result.get("message"))
            if once or await _wait(stop, due - time.monotonic()):
                return

    await asyncio.gather(*(every(probe) for probe in probes))
    return runs


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` (at least 0); True if ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    except TimeoutError:
        return False
    return True


def run_probe(
    settings: OpsrulesSettings,
    *,
    targets: Path,
    once: bool = False,
    dry_run: bool = False,
    timeout_s: float | None = None,
) -> int:
    """``opsrules probe``; the exit code (2: a bad targets file)."""
    loaded = load_probes(targets)
    if loaded.probes is None:
        for error in loaded.errors:
            print(error, file=sys.stderr)
        print(f"opsrules probe: {len(loaded.errors)} error(s) in {targets}", file=sys.stderr)
        return 2
    probes = loaded.probes

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if timeout_s is not None:
            loop.call_later(timeout_s, stop.set)
        async with Sink(settings, dry_run) as sink, Prober(probes, socket.gethostname()) as prober:
            print(
                f"probing {len(probes)} target(s) from {targets}"
                + ("" if dry_run else f" into {sink.topic}"),
                file=sys.stderr,
            )
            runs = await probe_loop(probes, sink, prober, stop, once=once)
        print(f"{runs} check(s) sent", file=sys.stderr)
        return 0

    return asyncio.run(main())
