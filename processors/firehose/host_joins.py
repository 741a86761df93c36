"""Host utilisations joined from several readings of one scrape: Vector's
``host_metrics`` source sends CPU and memory as readings that say nothing alone, one
Kafka message each, so no pure decoder can map them onto the host rules' names
(processors/formats/host_metrics.py maps the rest). This per-partition core joins them:

- **CPU**: ``host_cpu_seconds_total`` (an absolute counter per ``cpu`` and ``mode``,
  seconds since boot) → ``system.cpu.utilization`` = 1 − Δidle / Δall between two
  scrapes, over all CPUs, as the Collector's hostmetrics and ``opsrules collect`` count it
  (iowait is busy). ``guest`` and ``guest_nice`` are left out of "all": Linux already
  counts them in ``user`` and ``nice``. A scrape's readings share one timestamp; the
  sample is made by the reading that completes the scrape, the one that brings as many
  readings as the host's previous scrape had (so from the second scrape on). The first
  scrape with more CPUs is measured over its first readings, as many as before (the
  CPUs the previous scrape had, when they come in the same order); the first with fewer
  makes nothing; the next is whole again. A smaller total than the last (a reboot) gives
  nothing and is kept as the new last.
- **Memory**: ``host_memory_total_bytes`` and ``host_memory_available_bytes`` of one
  scrape → ``system.memory.utilization`` (``state: used``) = 1 − available / total:
  memory the system cannot hand out without swapping, what ``opsrules collect`` sends.

The names are those of host_metrics' default namespace, ``host``. A host's readings must
reach one partition: the Vector sink keys them by host (``key_field = ".tags.host"``),
as the README configures it; readings spread over partitions never complete a join.

Readings older than the host's open scrape are ignored (out of order, or read again
after a rewind). At most ``max_hosts`` states are held, a host's CPU and its memory one
each (about 460 bytes for both, measured with tracemalloc over 10,000 hosts, the host
names aside), the least recently updated forgotten first (:attr:`HostJoins.evicted`);
its next scrape starts afresh. This state is not recovered after a restart: the first
scrapes after one make nothing, as above.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, TypeVar

CPU_SECONDS = "host_cpu_seconds_total"
MEMORY_TOTAL = "host_memory_total_bytes"
MEMORY_AVAILABLE = "host_memory_available_bytes"
JOINED = frozenset({CPU_SECONDS, MEMORY_TOTAL, MEMORY_AVAILABLE})  # sample names joined

_NOT_CPU_TIME = frozenset({"guest", "guest_nice"})  # counted in user and nice already


class _Cpu:
    """One host's CPU scrapes: the open one's running sums and the previous one's."""

    __slots__ = ("count", "expected", "idle", "last", "made", "total", "ts_ms")

    def __init__(self, ts_ms: int) -> None:
        self.ts_ms = ts_ms
        self.idle = self.total = 0.0
        self.count = 0
        self.expected: int | None = None  # readings in the previous scrape
        self.made = False  # the open scrape's sample was made
        self.last: tuple[float, float] | None = None  # previous scrape's (idle, total)

    def next_scrape(self, ts_ms: int) -> None:
        self.last = (self.idle, self.total)
        self.expected = self.count
        self.ts_ms, self.idle, self.total, self.count, self.made = ts_ms, 0.0, 0.0, 0, False

    def add(self, mode: str | None, seconds: float) -> float | None:
        """The utilisation when this reading completes the scrape, else None."""
        self.count += 1
        if mode not in _NOT_CPU_TIME:
            self.total += seconds
            if mode == "idle":
                self.idle += seconds
        if self.made or self.count != self.expected or self.last is None:
            return None
        self.made = True
        last_idle, last_total = self.last
        busy_and_idle = self.total - last_total
        if busy_and_idle <= 0 or self.idle < last_idle:  # a reboot, or no time passed
            return None
        return round(min(1.0, max(0.0, 1.0 - (self.idle - last_idle) / busy_and_idle)), 6)


class _Memory:
    __slots__ = ("available", "made", "total", "ts_ms")

    def __init__(self, ts_ms: int) -> None:
        self.next_scrape(ts_ms)

    def next_scrape(self, ts_ms: int) -> None:
        self.ts_ms = ts_ms
        self.total: float | None = None
        self.available: float | None = None
        self.made = False


_S = TypeVar("_S", _Cpu, _Memory)


class HostJoins:
    def __init__(self, max_hosts: int) -> None:
        if max_hosts < 1:
            raise ValueError("need max_hosts >= 1")
        self.max_hosts = max_hosts
        self.evicted = 0  # hosts forgotten to keep at most max_hosts
        self._hosts: OrderedDict[tuple[str, str], _Cpu | _Memory] = OrderedDict()  # LRU

    def __len__(self) -> int:
        return len(self._hosts)

    def add(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The joined sample that a validated metric sample named in :data:`JOINED`
        completes, or None."""
        name: str = record["name"]
        ts_ms: int = record["ts_ms"]
        if name == CPU_SECONDS:
            cpu = self._state(record, "cpu", _Cpu, ts_ms)
            if ts_ms < cpu.ts_ms:
                return None
            if ts_ms > cpu.ts_ms:
                cpu.next_scrape(ts_ms)
            utilization = cpu.add(record["labels"].get("mode"), record["value"])
            if utilization is None:
                return None
            return _sample(record, "system.cpu.utilization", utilization, {})
        memory = self._state(record, "memory", _Memory, ts_ms)
        if ts_ms < memory.ts_ms:
            return None
        if ts_ms > memory.ts_ms:
            memory.next_scrape(ts_ms)
        if name == MEMORY_TOTAL:
            memory.total = record["value"]
        else:
            memory.available = record["value"]
        total, available = memory.total, memory.available
        if memory.made or total is None or available is None or total <= 0:
            return None
        memory.made = True
        used = round(min(1.0, max(0.0, 1.0 - available / total)), 6)
        return _sample(record, "system.memory.utilization", used, {"state": "used"})

    def _state(self, record: Mapping[str, Any], what: str, kind: type[_S], ts_ms: int) -> _S:
        key = (record["host"], what)
        state = self._hosts.get(key)
        if state is None:
            if len(self._hosts) >= self.max_hosts:
                self._hosts.popitem(last=False)
                self.evicted += 1
            state = self._hosts[key] = kind(ts_ms)
        else:
            self._hosts.move_to_end(key)
        assert isinstance(state, kind)
        return state


def _sample(
    record: Mapping[str, Any], name: str, value: float, labels: dict[str, str]
) -> dict[str, Any]:
    return {
        "ts_ms": record["ts_ms"],
        "name": name,
        "value": value,
        "unit": "1",
        "host": record["host"],
        "service": record["service"],
        "labels": labels,
    }
