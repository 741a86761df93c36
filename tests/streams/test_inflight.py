"""The in-flight ledger: a crash makes suspects, suspects are handled alone, a record
in flight at ``max_crashes`` crashes is dead-lettered, and the marker file survives a
process and is shared by no two live loops."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from streams.inflight import InflightLedger, InflightMarker, Step, Suspect, ranges_of, split

KEY = "ops.metrics/0"


def crashed_at(*ranges: tuple[int, int], ledger: InflightLedger | None = None) -> InflightLedger:
    """A ledger after crashes while each of ``ranges`` was in flight, in order."""
    ledger = ledger or InflightLedger()
    for first, last in ranges:
        ledger.begin({KEY: (first, last)})
        ledger.after_crash()
    return ledger


def test_without_suspects_a_batch_is_one_step() -> None:
    assert InflightLedger().plan(KEY, [5, 6, 7], max_crashes=3) == [Step(0, 3)]


def test_a_crash_makes_the_range_in_flight_a_suspect_with_one_crash() -> None:
    ledger = crashed_at((100, 104))
    assert ledger.inflight == {}
    assert ledger.suspects == {KEY: [Suspect(100, 104, 1)]}


def test_suspect_records_are_handled_alone_and_the_rest_together() -> None:
    ledger = crashed_at((102, 103))
    steps = ledger.plan(KEY, [100, 101, 102, 103, 104], max_crashes=3)
    assert steps == [Step(0, 2), Step(2, 3, alone=True), Step(3, 4, alone=True), Step(4, 5)]


def test_a_record_alone_at_a_crash_inherits_its_ranges_count_and_the_rest_stays_suspect() -> None:
    ledger = crashed_at((100, 104))
    ledger.begin({KEY: (100, 100)})
    ledger.done()  # 100 was fine alone
    ledger.begin({KEY: (101, 101)})
    ledger.after_crash()  # 101 alone killed it
    assert ledger.suspects[KEY] == [Suspect(101, 101, 2), Suspect(102, 104, 1)]


def test_after_max_crashes_on_one_offset_the_record_is_poison() -> None:
    ledger = crashed_at((100, 104), (101, 101), (101, 101))
    assert ledger.crashes(KEY, 101) == 3
    steps = ledger.plan(KEY, [101, 102], max_crashes=3)
    assert steps[0] == Step(0, 1, alone=True, poison=True)
    assert steps[1] == Step(1, 2, alone=True, poison=False)
    assert crashed_at((100, 104), (101, 101)).plan(KEY, [101], 3) == [Step(0, 1, alone=True)]


def test_handled_suspects_are_forgotten() -> None:
    ledger = crashed_at((100, 101))
    for offset in (100, 101):
        ledger.begin({KEY: (offset, offset)})
        ledger.done()
    assert ledger.suspects == {}
    assert ledger.plan(KEY, [100, 101], 3) == [Step(0, 2)]


def test_a_crash_outside_every_suspect_counts_separately() -> None:
    ledger = crashed_at((100, 101), (200, 205))
    assert ledger.suspects[KEY] == [Suspect(100, 101, 1), Suspect(200, 205, 1)]


def test_the_ledger_round_trips_and_a_torn_marker_reads_as_empty() -> None:
    ledger = crashed_at((100, 104), (101, 101))
    ledger.begin({KEY: (102, 102), "ops.logs/3": (7, 9)})
    assert InflightLedger.from_json(ledger.to_json()) == ledger
    assert InflightLedger.from_json(b'{"inflight": {"a/0": [1') == InflightLedger()
    assert InflightLedger.from_json(b"") == InflightLedger()
    assert InflightLedger.from_json(b'{"inflight": [1, 2]}') == InflightLedger()


@dataclass(frozen=True)
class Rec:
    offset: int


def test_split_keeps_partitions_without_suspects_together() -> None:
    a, b = TopicPartition("ops.metrics", 0), TopicPartition("ops.metrics", 1)
    batches = {a: [Rec(o) for o in range(100, 104)], b: [Rec(o) for o in range(7, 9)]}
    assert list(split(InflightLedger(), batches, 3)) == [(batches, 0)]
    ledger = crashed_at((101, 101), (101, 101), (101, 101))
    parts = list(split(ledger, batches, 3))
    assert parts == [
        ({b: batches[b]}, 0),
        ({a: [Rec(100)]}, 0),
        ({a: [Rec(101)]}, 3),
        ({a: [Rec(102), Rec(103)]}, 0),
    ]
    assert ranges_of(batches) == {"ops.metrics/0": (100, 103), "ops.metrics/1": (7, 8)}


def test_the_marker_counts_a_crash_of_the_previous_process(tmp_path: Path) -> None:
    """A child process begins a batch and dies (os._exit) before it is done."""
    script = (
        "import os, sys; from pathlib import Path; from streams.inflight import InflightMarker\n"
        "m = InflightMarker(Path(sys.argv[1]), 'firehose')\n"
        "m.begin({'ops.metrics/0': (5, 9)}); m.done()\n"
        "m.begin({'ops.metrics/0': (10, 12)})\n"
        "os._exit(1)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False)
    marker = InflightMarker(tmp_path, "firehose")
    assert marker.crashed == {KEY: (10, 12)}
    assert marker.ledger.suspects == {KEY: [Suspect(10, 12, 1)]}
    marker.begin({KEY: (10, 10)})
    marker.done()
    marker.close()
    again = InflightMarker(tmp_path, "firehose")
    assert again.crashed == {}
    assert again.ledger.suspects == {KEY: [Suspect(11, 12, 1)]}
    again.close()


def test_two_live_loops_get_their_own_marker(tmp_path: Path) -> None:
    first = InflightMarker(tmp_path, "firehose")
    second = InflightMarker(tmp_path, "firehose")
    assert first.path != second.path
    first.begin({KEY: (1, 2)})
    assert second.ledger.inflight == {}  # not the other's, and not a crash
    first.close()
    second.close()
    third = InflightMarker(tmp_path, "firehose")  # takes the first free slot
    assert third.path == first.path
    assert third.crashed == {KEY: (1, 2)}  # its holder stopped mid-batch
    third.close()
