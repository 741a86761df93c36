"""Offsets the rule-type cores still hold state from: committed only once released."""

from __future__ import annotations

from processors.firehose.held_offsets import SEGMENT_RECORDS, HeldOffsets


def test_the_first_offset_is_held_until_its_segment_is_a_horizon_old() -> None:
    held = HeldOffsets(horizon_ms=1000)
    assert held.first_offset() is None
    for offset in range(SEGMENT_RECORDS + 10):
        held.note(offset, ts_ms=offset)  # the second segment starts at SEGMENT_RECORDS
    held.release(SEGMENT_RECORDS - 1 + 1000)  # the first segment's newest: exactly a horizon
    assert held.first_offset() == 0
    held.release(SEGMENT_RECORDS + 1000)
    assert held.first_offset() == SEGMENT_RECORDS
    held.release(10**9)
    assert held.first_offset() is None


def test_an_old_record_after_newer_ones_is_held_by_its_segment() -> None:
    held = HeldOffsets(horizon_ms=100)
    held.note(0, ts_ms=500)
    held.note(1, ts_ms=0)  # out of time order: the segment keeps its greatest time
    held.release(550)
    assert held.first_offset() == 0
