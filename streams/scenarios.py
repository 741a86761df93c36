"""Synthetic telemetry for a small fleet: deterministic scenarios for demos and tests.

Pure: no Kafka, no clock. :func:`generate` returns the records of one scenario, from
``start_ms`` on, as :class:`Emit` values sorted by event time; the same name, start and
seed always give the same list. ``streams/simulate.py`` sends them to Kafka.

The fleet: hosts ``web-1`` and ``web-2`` run service ``checkout`` (instances ``web-1``
and ``web-2``), host ``db-1`` runs service ``db`` (instance ``db-1``). Every 10 s of
event time each host sends one metric batch and each instance one HTTP health check,
and each instance writes a few logs. A scenario runs 12 minutes of event time, then a
3-minute healthy tail so that downstream 1-minute windows close and alerts resolve.

Backups of ``orders-db`` (records of ``ops.events``, only in the scenarios that list
them) run on an hourly schedule, so a scenario's backup history may begin hours before
``start_ms``: the records are sent at once, and their event time is what counts. Nothing
comes at or after ``start_ms + DURATION_MS``, so a start :data:`DURATION_MS` ago keeps
every record in the past.

Each scenario lists its abnormal windows (:class:`Abnormal`): whole minutes counted
from ``start_ms``, which are epoch-aligned 1-minute windows when ``start_ms`` is a whole
minute. Outside them every window is healthy under the conditions of
:data:`CONDITIONS`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processors.errors import OpsrulesError

MINUTE_MS = 60_000
TICK_MS = 10_000  # background period: one batch per host, one check per instance
RUN_MS = 12 * MINUTE_MS  # where scenario effects may happen
TAIL_MS = 3 * MINUTE_MS  # healthy tail
# Every record's ts is before start_ms + DURATION_MS, and at or after start_ms but for
# backup histories (see above).
DURATION_MS = RUN_MS + TAIL_MS

CPU = "system.cpu.utilization"
MEMORY = "system.memory.utilization"
FILESYSTEM = "system.filesystem.utilization"
LOAD_1M = "system.cpu.load_average.1m"

ERROR = 17  # OpenTelemetry severity_number of ERROR
_SEVERITY = {"INFO": 9, "WARN": 13, "ERROR": ERROR}

# The conditions the scenarios are built around, per entity and 1-minute window.
CONDITIONS = {
    "cpu": f"mean {CPU} > 0.9 (per host)",
    "memory": f"mean {MEMORY} > 0.9 (per host)",
    "filesystem": f"max {FILESYSTEM} > 0.95 (per host)",
    "errors": "more than 100 logs of severity ERROR or worse (per service)",
    "health": "a failing health check (per service)",
}


@dataclass(frozen=True, slots=True)
class Emit:
    """One record to send: event time, topic role, Kafka key and JSON value."""

    at_ms: int  # event time; equals value["ts"]
    role: str  # "metrics" | "logs" | "health" | "events": the ``topic_<role>`` setting
    key: str  # host for metrics, service for logs and health, entity for events
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # also the name of the service instance on it
    service: str
    cores: int
    cpu: float  # centre of the background levels (ratios)
    memory: float
    filesystem: float


FLEET = (
    Host("web-1", "checkout", cores=4, cpu=0.38, memory=0.50, filesystem=0.45),
    Host("web-2", "checkout", cores=4, cpu=0.32, memory=0.46, filesystem=0.48),
    Host("db-1", "db", cores=8, cpu=0.28, memory=0.60, filesystem=0.55),
)
SERVICES = ("checkout", "db")


@dataclass(frozen=True, slots=True)
class Abnormal:
    """``condition`` (a key of :data:`CONDITIONS`) holds for ``entity`` in every
    1-minute window from minute ``first`` up to, not including, minute ``end``."""

    condition: str
    entity: str  # host for metric conditions, service for errors and health
    first: int
    end: int

    def windows(self) -> set[tuple[str, str, int]]:
        return {(self.condition, self.entity, m) for m in range(self.first, self.end)}

    def describe(self) -> str:
        count = self.end - self.first
        return (
            f"{CONDITIONS[self.condition]} for {self.entity} in the {count} windows "
            f"[{self.first}:00, {self.end}:00)"
        )


# (offset from start in ms, rng) -> the value to send instead of the background, or None.
MetricShape = Callable[[int, random.Random], float | None]


@dataclass(frozen=True, slots=True)
class Outage:
    """Every instance of ``service`` fails its health check in [from_ms, to_ms); with
    ``one_in`` n, only the last of each n checks an instance runs there."""

    service: str
    from_ms: int
    to_ms: int
    message: str = "connection refused"
    one_in: int = 1

    def fails(self, offset_ms: int) -> bool:
        checks = (offset_ms - self.from_ms) // TICK_MS
        return self.from_ms <= offset_ms < self.to_ms and checks % self.one_in == self.one_in - 1


@dataclass(frozen=True, slots=True)
class Backup:
    """One backup of ``entity``, on ops.events: ``started`` at ``start_ms``, then
    ``succeeded`` at ``end_ms`` with ``size_bytes``, or never finished (``end_ms``
    None). Times are offsets from the scenario's start, negative for its history."""

    entity: str
    backup_id: str
    start_ms: int
    end_ms: int | None
    size_bytes: int = 5_368_709_120  # 5 GiB


@dataclass(frozen=True, slots=True)
class Release:
    """A canary release of ``entity``: its deploy event (ops.events) at ``deploy_ms``,
    then one request a ``every_ms`` on each of the baseline and the canary host (an
    ``http.server.request.duration`` sample labelled with its track and status class)
    until ``end_ms``; one in ``fail_one_in`` of the canary's requests fails (5xx)."""

    entity: str
    version: str
    previous_version: str
    baseline_host: str
    canary_host: str
    deploy_ms: int
    end_ms: int
    every_ms: int = 3_000
    fail_one_in: int = 3
    rolled_back_ms: int | None = None  # the deploy tool reports the rollback done


@dataclass(frozen=True, slots=True)
class LogBurst:
    """``low``–``high`` logs per minute from ``service`` (spread over its instances) in
    every minute of [first, end)."""

    service: str
    first: int
    end: int
    low: int
    high: int
    body: str
    severity_text: str = "ERROR"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    abnormal: tuple[Abnormal, ...] = ()
    metrics: dict[tuple[str, str], MetricShape] = field(default_factory=dict)  # (host, name)
    outages: tuple[Outage, ...] = ()
    bursts: tuple[LogBurst, ...] = ()
    backups: tuple[Backup, ...] = ()
    releases: tuple[Release, ...] = ()

    @property
    def description(self) -> str:
        """The summary, then exactly which windows are abnormal (minutes after start)."""
        if not self.abnormal:
            return f"{self.summary} No abnormal 1-minute window."
        windows = "; ".join(a.describe() for a in self.abnormal)
        return f"{self.summary} Abnormal 1-minute windows (minutes after start): {windows}."

    def abnormal_windows(self) -> set[tuple[str, str, int]]:
        """Every (condition, entity, minute after start) that the scenario promises."""
        return {w for a in self.abnormal for w in a.windows()}

    def generate(self, *, start_ms: int, seed: int = 0) -> list[Emit]:
        return _Generator(self, start_ms, seed).run()


class UnknownScenarioError(OpsrulesError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no scenario {name!r}; known: {', '.join(SCENARIOS)}")


def generate(name: str, *, start_ms: int, seed: int = 0) -> list[Emit]:
    """The records of scenario ``name`` from ``start_ms`` on, sorted by ``at_ms``."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise UnknownScenarioError(name)
    return scenario.generate(start_ms=start_ms, seed=seed)


def _m(minutes: float) -> int:
    return round(minutes * MINUTE_MS)


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _ramp(offset_ms: int, from_ms: int, to_ms: int, low: float, high: float) -> float:
    return low + (high - low) * (offset_ms - from_ms) / (to_ms - from_ms)


_INFO = {
    "checkout": (
        "POST /api/orders 201 in {ms} ms",
        "GET /api/cart/{id} 200 in {ms} ms",
        "order {id} placed",
        "payment authorized for order {id} in {ms} ms",
    ),
    "db": (
        "checkpoint complete: wrote {n} buffers",
        "connection authorized: user=checkout database=shop",
        "automatic vacuum of table shop.orders: {n} pages removed",
    ),
}
_WARN = {
    "checkout": (
        "slow response from inventory service in {slow} ms",
        "retrying payment gateway call for order {id} (attempt 2)",
    ),
    "db": ("duration: {slow} ms  statement: SELECT * FROM orders WHERE customer_id = $1",),
}
_ERROR = {
    "checkout": (
        "unhandled exception in POST /api/orders: KeyError 'sku'",
        "payment declined for order {id}: gateway returned 502",
    ),
    "db": (
        "deadlock detected on relation orders",
        "could not serialize access due to concurrent update",
    ),
}


class _Generator:
    """One scenario run. Background randomness comes from one generator per host,
    instance and service, seeded by name, so a scenario's effects never shift the
    background of other entities: scenarios differ only where they say they do."""

    def __init__(self, scenario: Scenario, start_ms: int, seed: int) -> None:
        self.scenario = scenario
        self.start_ms = start_ms
        self.seed = seed
        self.out: list[Emit] = []

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"opsrules:{self.seed}:{self.scenario.name}:{purpose}")

    def _background_rng(self, purpose: str) -> random.Random:
        return random.Random(f"opsrules:{self.seed}:{purpose}")

    def run(self) -> list[Emit]:
        for index, host in enumerate(FLEET):
            self._metrics(index, host)
            self._health(index, host)
            self._instance_logs(host)
        for service in SERVICES:
            self._service_logs(service)
        for burst in self.scenario.bursts:
            self._burst(burst)
        for backup in self.scenario.backups:
            self._backup(backup)
        for release in self.scenario.releases:
            self._release(release)
        self.out.sort(key=lambda e: e.at_ms)
        return self.out

    def _emit(self, offset_ms: int, role: str, key: str, value: dict[str, Any]) -> None:
        ts = self.start_ms + offset_ms
        self.out.append(Emit(at_ms=ts, role=role, key=key, value={"ts": ts, **value}))

    def _metrics(self, index: int, host: Host) -> None:
        rng = self._background_rng(f"metrics:{host.name}")
        effect_rng = self._rng(f"metrics:{host.name}")
        phase = index / len(FLEET)
        overrides = self.scenario.metrics
        for offset_ms in range(0, DURATION_MS, TICK_MS):
            tick = offset_ms / TICK_MS
            wave = math.sin(2 * math.pi * (tick / 30 + phase))
            slow_wave = math.sin(2 * math.pi * (tick / 90 + phase))
            values = {
                CPU: _clamp(host.cpu + 0.08 * wave + rng.uniform(-0.05, 0.05), 0.15, 0.6),
                MEMORY: _clamp(
                    host.memory + 0.03 * slow_wave + rng.uniform(-0.01, 0.01), 0.35, 0.7
                ),
                FILESYSTEM: _clamp(host.filesystem + 0.02 * tick / 90, 0.40, 0.6),
            }
            load_noise = rng.uniform(0.85, 1.15)
            for name in values:
                shape = overrides.get((host.name, name))
                changed = shape(offset_ms, effect_rng) if shape is not None else None
                if changed is not None:
                    values[name] = changed
            values[LOAD_1M] = values[CPU] * host.cores * load_noise
            samples: list[dict[str, Any]] = [
                {"name": CPU, "value": round(values[CPU], 4)},
                {"name": MEMORY, "value": round(values[MEMORY], 4), "labels": {"state": "used"}},
                {
                    "name": FILESYSTEM,
                    "value": round(values[FILESYSTEM], 4),
                    "labels": {"mountpoint": "/"},
                },
                {"name": LOAD_1M, "value": round(values[LOAD_1M], 2)},
            ]
            batch = {"host": host.name, "service": host.service, "samples": samples}
            self._emit(offset_ms, "metrics", host.name, batch)

    def _health(self, index: int, host: Host) -> None:
        rng = self._background_rng(f"health:{host.name}")
        jitter_ms = 250 * (index + 1)  # checks of different instances do not coincide
        outages = [o for o in self.scenario.outages if o.service == host.service]
        for tick_ms in range(0, DURATION_MS, TICK_MS):
            offset_ms = tick_ms + jitter_ms
            latency_ms = round(rng.uniform(5, 30), 1)
            check: dict[str, Any] = {
                "service": host.service,
                "instance": host.name,
                "check": "http",
                "status": "pass",
                "latency_ms": latency_ms,
                "host": host.name,
            }
            for outage in outages:
                if outage.fails(offset_ms):
                    check.update(status="fail", latency_ms=None, message=outage.message)
            self._emit(offset_ms, "health", host.service, check)

    def _log(
        self, offset_ms: int, host: Host, severity_text: str, body: str, **attributes: Any
    ) -> None:
        record = {
            "host": host.name,
            "service": host.service,
            "severity_text": severity_text,
            "severity_number": _SEVERITY[severity_text],
            "body": body,
            "attributes": {"instance": host.name, **attributes},
        }
        self._emit(offset_ms, "logs", host.service, record)

    @staticmethod
    def _body(rng: random.Random, templates: tuple[str, ...]) -> str:
        return rng.choice(templates).format(
            ms=rng.randint(8, 180),
            slow=rng.randint(800, 2500),
            id=rng.randint(10_000, 99_999),
            n=rng.randint(20, 900),
        )

    def _instance_logs(self, host: Host) -> None:
        """1–3 INFO logs per instance every 10 s."""
        rng = self._background_rng(f"logs:{host.name}")
        for tick_ms in range(0, DURATION_MS, TICK_MS):
            for _ in range(rng.randint(1, 3)):
                offset_ms = tick_ms + rng.randrange(TICK_MS)
                self._log(offset_ms, host, "INFO", self._body(rng, _INFO[host.service]))

    def _service_logs(self, service: str) -> None:
        """0–2 WARN and 0–3 ERROR logs per service per minute, on random instances."""
        rng = self._background_rng(f"logs:{service}")
        hosts = [h for h in FLEET if h.service == service]
        for minute_ms in range(0, DURATION_MS, MINUTE_MS):
            for severity_text, templates, most in (
                ("WARN", _WARN[service], 2),
                ("ERROR", _ERROR[service], 3),
            ):
                for _ in range(rng.randint(0, most)):
                    offset_ms = minute_ms + rng.randrange(MINUTE_MS)
                    host = rng.choice(hosts)
                    self._log(offset_ms, host, severity_text, self._body(rng, templates))

    def _burst(self, burst: LogBurst) -> None:
        rng = self._rng(f"burst:{burst.service}:{burst.first}")
        hosts = [h for h in FLEET if h.service == burst.service]
        for minute in range(burst.first, burst.end):
            for i in range(rng.randint(burst.low, burst.high)):
                offset_ms = _m(minute) + rng.randrange(MINUTE_MS)
                host = hosts[i % len(hosts)]
                order_id = rng.randint(10_000, 99_999)
                self._log(offset_ms, host, burst.severity_text, burst.body, order_id=order_id)

    def _backup(self, backup: Backup) -> None:
        event = {"type": "backup", "entity": backup.entity, "backup_id": backup.backup_id}
        self._emit(backup.start_ms, "events", backup.entity, {**event, "status": "started"})
        if backup.end_ms is not None:
            done = {**event, "status": "succeeded", "size_bytes": backup.size_bytes}
            self._emit(backup.end_ms, "events", backup.entity, done)

    def _release(self, release: Release) -> None:
        deploy = {
            "type": "deploy",
            "entity": release.entity,
            "status": "started",
            "version": release.version,
            "previous_version": release.previous_version,
            "strategy": "canary",
        }
        self._emit(release.deploy_ms, "events", release.entity, deploy)
        if release.rolled_back_ms is not None:
            done = {**deploy, "status": "rolled_back"}
            self._emit(release.rolled_back_ms, "events", release.entity, done)
        rng = self._rng(f"release:{release.entity}")
        sides = (("baseline", release.baseline_host), ("canary", release.canary_host))
        for n, offset_ms in enumerate(range(release.deploy_ms, release.end_ms, release.every_ms)):
            for track, host in sides:
                failed = track == "canary" and n % release.fail_one_in == 0
                sample = {
                    "name": "http.server.request.duration",
                    "value": round(rng.uniform(0.08, 0.12), 4),
                    "labels": {"track": track, "status_class": "5xx" if failed else "2xx"},
                }
                record = {"host": host, "service": release.entity, "samples": [sample]}
                self._emit(offset_ms, "metrics", host, record)


def _cpu_saturated(offset_ms: int, rng: random.Random) -> float | None:
    return rng.uniform(0.95, 0.99) if _m(2) <= offset_ms < _m(9) else None


def _memory_leaking(offset_ms: int, rng: random.Random) -> float | None:
    if offset_ms < _m(1):
        return None
    if offset_ms < _m(6):  # 0.6 → 0.98; the minute-5 window's mean is about 0.94
        return _ramp(offset_ms, _m(1), _m(6), 0.6, 0.98)
    if offset_ms < _m(12):
        return rng.uniform(0.955, 0.985)
    return rng.uniform(0.48, 0.52)  # restarted


def _cpu_climbing(offset_ms: int, rng: random.Random) -> float | None:
    if _m(2) <= offset_ms < _m(5):  # 0.5 → 0.9; the minute-4 window's mean is about 0.83
        return _ramp(offset_ms, _m(2), _m(5), 0.5, 0.9) + rng.uniform(-0.02, 0.02)
    if _m(5) <= offset_ms < _m(8):
        return rng.uniform(0.92, 0.97)
    return None


def _disk_filling(offset_ms: int, rng: random.Random) -> float | None:
    if offset_ms < _m(1):
        return None
    if offset_ms < _m(5):  # 0.6 → 0.97; first sample over 0.95 at 4:50
        return _ramp(offset_ms, _m(1), _m(5), 0.6, 0.97)
    if offset_ms < _m(8):
        return rng.uniform(0.97, 0.99)
    return rng.uniform(0.549, 0.551)  # cleaned up


# orders-db is backed up every hour, in 12 minutes: the last success is 68 minutes
# before the start, so the next is due (every 1h + grace 10m) by minute 2.
_MISSED_BACKUPS = (
    Backup("orders-db", "b1", _m(-200), _m(-188)),
    Backup("orders-db", "b2", _m(-140), _m(-128), size_bytes=314_572),  # 0.3 MiB
    Backup("orders-db", "b3", _m(-80), _m(-68)),
    Backup("orders-db", "b4", _m(-20), None),  # hangs
    Backup("orders-db", "b5", _m(4), _m(14)),  # run again by the heal
)

_SCENARIO_LIST = (
    Scenario(
        "healthy",
        "Background telemetry only: cpu 0.15–0.6, memory 0.35–0.7, filesystem 0.40–0.6, "
        "every health check passing, at most 3 ERROR logs per service per minute.",
    ),
    Scenario(
        "cpu-saturation",
        "web-1 cpu at 0.95–0.99 from minute 2 to minute 9, else background.",
        abnormal=(Abnormal("cpu", "web-1", 2, 9),),
        metrics={("web-1", CPU): _cpu_saturated},
    ),
    Scenario(
        "memory-leak",
        "web-2 memory rises linearly from 0.6 at minute 1 to 0.98 at minute 6, stays at "
        "0.955–0.985 until minute 12, then drops to about 0.5 (restart).",
        abnormal=(Abnormal("memory", "web-2", 5, 12),),
        metrics={("web-2", MEMORY): _memory_leaking},
    ),
    Scenario(
        "disk-fill",
        "db-1 filesystem / rises linearly from 0.6 at minute 1 to 0.97 at minute 5, stays "
        "at 0.97–0.99 until minute 8, then drops to 0.55 (cleanup).",
        abnormal=(Abnormal("filesystem", "db-1", 4, 8),),
        metrics={("db-1", FILESYSTEM): _disk_filling},
    ),
    Scenario(
        "error-burst",
        "checkout logs 150–200 ERROR 'payment gateway timeout after 3000 ms' per minute, "
        "across web-1 and web-2, in minutes 4 and 5.",
        abnormal=(Abnormal("errors", "checkout", 4, 6),),
        bursts=(
            LogBurst("checkout", 4, 6, 150, 200, body="payment gateway timeout after 3000 ms"),
        ),
    ),
    Scenario(
        "service-down",
        "Both checkout instances (web-1, web-2) fail their http check ('connection refused', "
        "no latency) from minute 3 to minute 8, then pass again.",
        abnormal=(Abnormal("health", "checkout", 3, 8),),
        outages=(Outage("checkout", _m(3), _m(8)),),
    ),
    Scenario(
        "slo-burn",
        "One in six http checks of each checkout instance (web-1, web-2) fails ('HTTP 503', "
        "no latency) from minute 3 to minute 9: never all of them, so service_down stays "
        "quiet, but checkout_availability's budget burns: its ticket, its page and the "
        "deploy freeze fire.",
        abnormal=(Abnormal("health", "checkout", 3, 9),),
        outages=(Outage("checkout", _m(3), _m(9), message="HTTP 503", one_in=6),),
    ),
    Scenario(
        "scale-up",
        "web-1 and web-2 cpu rise linearly from 0.5 at minute 2 to 0.9 at minute 5, stay at "
        "0.92–0.97 until minute 8, else background: checkout_autoscale asks for 3 "
        "replicas of checkout, then 4; host_cpu_saturated stays quiet (it needs 5 "
        "saturated minutes).",
        abnormal=(Abnormal("cpu", "web-1", 5, 8), Abnormal("cpu", "web-2", 5, 8)),
        metrics={("web-1", CPU): _cpu_climbing, ("web-2", CPU): _cpu_climbing},
    ),
    Scenario(
        "missed-backup",
        "orders-db is backed up (ops.events) every hour from 200 minutes before the start, "
        "in 12 minutes: the second backup is only 0.3 MiB (orders_backup_too_small at "
        "once), the fourth, 20 minutes before the start, hangs, so none succeeds after 68 "
        "minutes before the start: orders_backup_missed alerts and heals (run_backup) at "
        "minute 2, orders_backup_stuck fires at minute 10; the backup run again from "
        "minute 4 succeeds at minute 14.",
        backups=_MISSED_BACKUPS,
    ),
    Scenario(
        "bad-canary",
        "checkout 2.4.0 is deployed as a canary at minute 1 (ops.events; previous version "
        "2.3.1): web-1 serves the baseline and web-2 the canary, a request every 3s each, "
        "and one in three of the canary's requests fails (5xx): checkout_canary fails the "
        "minutes [1:00, 2:00) and [2:00, 3:00) and rolls back to 2.3.1 at minute 3; the "
        "deploy tool reports the rollback done at minute 6.",
        releases=(
            Release(
                "checkout", "2.4.0", "2.3.1", "web-1", "web-2", _m(1), _m(6), rolled_back_ms=_m(6)
            ),
        ),
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIO_LIST}
