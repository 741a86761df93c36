"""Coarse lazy timers: a popped key is always due; nothing is handed back early."""

from __future__ import annotations

from processors.firehose.timers import Timers


def test_keys_come_back_once_the_clock_passes_their_bucket() -> None:
    timers = Timers(1000)
    timers.schedule("a", 1500)  # bucket 2: due from 2000
    timers.schedule("b", 1000)  # bucket 1: due from 1000
    timers.schedule("c", 5000)
    assert timers.pop_due(999) == []
    assert timers.pop_due(1000) == ["b"]
    assert timers.pop_due(1999) == []
    assert timers.pop_due(4999) == ["a"]
    assert len(timers) == 1
    assert timers.pop_first() == ["c"] and timers.pop_first() == []


def test_a_key_scheduled_twice_comes_back_twice() -> None:
    timers = Timers(10)
    timers.schedule("a", 5)
    timers.schedule("a", 25)
    assert timers.pop_due(100) == ["a", "a"]
