"""The records in flight, remembered across crashes, so a poison record is skipped.

The per-record guards turn an exception into a dead letter, but a record can also end
the process with nothing to catch: the kernel's OOM killer, a crash in a C extension,
an operator's ``kill -9`` at the wrong moment. The successor reads the same record
again (its offset was not committed) and, if the record is what killed the process,
dies the same way: one message would be a permanent outage. So each batch loop keeps
a small marker file:

- Before a batch is handled the loop writes the offset range of every partition in
  it; once handled, it clears them. A marker that still holds ranges when a process
  starts means the previous one died while handling them: each range becomes a
  *suspect* with one crash counted.
- A fetched batch that reaches into a suspect range is split: records before it are
  handled as usual, each suspect record alone (marked alone, so a crash now names the
  exact offset and adds one to its count), records after it as usual. A record that
  was in flight at ``max_crashes`` crashes is dead-lettered (``processing_error``)
  instead of handled. Records handled alone without a crash stop being suspects.

One file per running loop: ``<state_dir>/inflight/<component>.<slot>.json``, the slot
being the first whose lock (``flock``, released by the kernel when a process dies)
is free, so several workers on one host each keep their own and a restarted worker
takes over the file of the one that died. The marker is local: a record that kills
workers on different hosts is skipped after ``max_crashes`` crashes on each. Writing
it costs two small ``pwrite`` calls per batch (no fsync: a killed process's writes
are in the page cache; only a host crash loses them).

:class:`InflightLedger` is the pure part (what to do with a batch, what a crash
means); :class:`InflightMarker` keeps it in the file.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.codec import Rejected

log = logging.getLogger(__name__)

MAX_SLOTS = 64
MAX_SUSPECTS = 256  # per marker: older suspects (of partitions gone elsewhere) are dropped


@dataclass(slots=True)
class Suspect:
    """Offsets ``first..last`` of one partition were in flight at ``crashes`` crashes."""

    first: int
    last: int
    crashes: int


@dataclass(frozen=True, slots=True)
class Step:
    """Part of one partition's fetched records: ``records[start:end]`` handled together
    (``alone`` when a suspect), or one record to dead-letter (``poison``)."""

    start: int
    end: int
    alone: bool = False
    poison: bool = False


@dataclass(slots=True)
class InflightLedger:
    """In-flight ranges and suspects per partition (``"topic/partition"``)."""

    inflight: dict[str, tuple[int, int]] = field(default_factory=dict)
    suspects: dict[str, list[Suspect]] = field(default_factory=dict)

    def after_crash(self) -> dict[str, tuple[int, int]]:
        """Count a crash for every range in flight (called at start, when the marker
        still holds some); return those ranges. A single record that was a suspect gets
        the suspect's count plus one, and the untried rest of its range stays suspect."""
        crashed, self.inflight = self.inflight, {}
        for key, (first, last) in crashed.items():
            suspects = self.suspects.setdefault(key, [])
            prior = 0
            for suspect in list(suspects):
                if suspect.first <= first and last <= suspect.last:
                    prior = max(prior, suspect.crashes)
                    suspects.remove(suspect)
                    if last < suspect.last:
                        suspects.append(Suspect(last + 1, suspect.last, suspect.crashes))
            suspects.append(Suspect(first, last, prior + 1))
            suspects.sort(key=lambda s: s.first)
        self._bound()
        return crashed

    def plan(self, key: str, offsets: list[int], max_crashes: int) -> list[Step]:
        """How to handle one partition's fetched records (their ``offsets``, ascending):
        one step for all of them unless some are suspects."""
        suspects = self.suspects.get(key)
        if not suspects or not offsets or offsets[-1] < suspects[0].first:
            return [Step(0, len(offsets))]
        steps: list[Step] = []
        start = 0
        for index, offset in enumerate(offsets):
            crashes = self._crashes(suspects, offset)
            if crashes is None:
                continue
            if start < index:
                steps.append(Step(start, index))
            steps.append(Step(index, index + 1, alone=True, poison=crashes >= max_crashes))
            start = index + 1
        if start < len(offsets):
            steps.append(Step(start, len(offsets)))
        return steps

    def crashes(self, key: str, offset: int) -> int:
        """How many crashes the record at ``offset`` was in flight for (0: none)."""
        return self._crashes(self.suspects.get(key, []), offset) or 0

    def begin(self, ranges: dict[str, tuple[int, int]]) -> None:
        self.inflight = ranges

    def done(self) -> None:
        """The ranges in flight were handled (or dead-lettered): they are no longer
        suspects."""
        for key, (first, last) in self.inflight.items():
            suspects = self.suspects.get(key)
            if not suspects:
                continue
            kept = []
            for suspect in suspects:
                if last < suspect.first or suspect.last < first:
                    kept.append(suspect)
                    continue
                if suspect.first < first:
                    kept.append(Suspect(suspect.first, first - 1, suspect.crashes))
                if last < suspect.last:
                    kept.append(Suspect(last + 1, suspect.last, suspect.crashes))
            if kept:
                self.suspects[key] = kept
            else:
                del self.suspects[key]
        self.inflight = {}

    @staticmethod
    def _crashes(suspects: list[Suspect], offset: int) -> int | None:
        for suspect in suspects:
            if suspect.first <= offset <= suspect.last:
                return suspect.crashes
        return None

    def _bound(self) -> None:
        total = sum(len(s) for s in self.suspects.values())
        while total > MAX_SUSPECTS:
            key = max(self.suspects, key=lambda k: len(self.suspects[k]))
            self.suspects[key].pop(0)
            if not self.suspects[key]:
                del self.suspects[key]
            total -= 1

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "inflight": {k: list(v) for k, v in self.inflight.items()},
                "suspects": {
                    k: [[s.first, s.last, s.crashes] for s in v] for k, v in self.suspects.items()
                },
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> InflightLedger:
        """The ledger a marker holds; an unreadable marker (a torn write) is empty."""
        try:
            data: Any = orjson.loads(raw) if raw.strip() else {}
            return cls(
                inflight={k: (int(a), int(b)) for k, (a, b) in data.get("inflight", {}).items()},
                suspects={
                    k: [Suspect(int(a), int(b), int(c)) for a, b, c in v]
                    for k, v in data.get("suspects", {}).items()
                },
            )
        except (ValueError, TypeError, AttributeError):
            log.warning("unreadable in-flight marker ignored: %r", raw[:200])
            return cls()


def poison(crashes: int) -> Rejected:
    """The dead-letter reason of a record skipped because it was in flight at
    ``crashes`` crashes of the worker."""
    return Rejected(
        "processing_error",
        f"the worker died {crashes} times while handling this record (killed, out of "
        "memory or crashed without an exception); skipped so that it cannot stop the "
        "pipeline again",
    )


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


class InflightMarker:
    """The ledger of one batch loop, kept in its locked marker file."""

    def __init__(self, directory: Path, component: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for slot in range(MAX_SLOTS):
            path = directory / f"{component}.{slot}.json"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live process has this one
                os.close(fd)
                continue
            self.path, self._fd = path, fd
            break
        else:
            raise RuntimeError(f"more than {MAX_SLOTS} {component} loops share {directory}")
        self._size = os.fstat(self._fd).st_size
        self.ledger = InflightLedger.from_json(os.pread(self._fd, self._size, 0))
        self.crashed = self.ledger.after_crash()
        if self.crashed:
            self._write()

    def begin(self, ranges: dict[str, tuple[int, int]]) -> None:
        self.ledger.begin(ranges)
        self._write()

    def done(self) -> None:
        self.ledger.done()
        self._write()

    def close(self) -> None:
        os.close(self._fd)  # releases the lock

    def _write(self) -> None:
        """One ``pwrite``: shorter contents are padded with spaces (JSON ignores them)
        rather than truncated, which would be a second system call."""
        data = self.ledger.to_json()
        padding = self._size - len(data)
        os.pwrite(self._fd, data + b" " * padding if padding > 0 else data, 0)
        self._size = max(self._size, len(data))


def ranges_of(batches: dict[Any, list[Any]]) -> dict[str, tuple[int, int]]:
    """The offset range of each partition's records in ``batches``."""
    return {
        partition_key(tp.topic, tp.partition): (records[0].offset, records[-1].offset)
        for tp, records in batches.items()
        if records
    }


def split(
    ledger: InflightLedger, batches: dict[Any, list[Any]], max_crashes: int
) -> Iterator[tuple[dict[Any, list[Any]], int]]:
    """``batches`` as the ledger says to handle them, in offset order per partition:
    ``(part, 0)`` to handle, ``(one record, crashes)`` to dead-letter. Without suspects,
    the whole batch at once."""
    if not ledger.suspects:
        yield batches, 0
        return
    plans = {
        tp: ledger.plan(partition_key(tp.topic, tp.partition), [r.offset for r in rs], max_crashes)
        for tp, rs in batches.items()
    }
    if all(len(steps) == 1 and not steps[0].alone for steps in plans.values()):
        yield batches, 0
        return
    plain = {tp: rs for tp, rs in batches.items() if len(plans[tp]) == 1 and not plans[tp][0].alone}
    if plain:
        yield plain, 0
    for tp, steps in plans.items():
        if tp in plain:
            continue
        records = batches[tp]
        key = partition_key(tp.topic, tp.partition)
        for step in steps:
            part = records[step.start : step.end]
            yield {tp: part}, ledger.crashes(key, part[0].offset) if step.poison else 0
