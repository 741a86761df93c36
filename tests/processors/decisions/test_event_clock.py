from __future__ import annotations

from processors.decisions.event_clock import EventClock


def test_the_clock_is_the_newest_signal_and_follows_processing_time_when_idle() -> None:
    clock = EventClock(idle_timeout_ms=30_000)
    assert clock.at(0) is None
    clock.observe(1_000, now_ms=50_000)
    clock.observe(500, now_ms=51_000)  # an older signal does not move it back
    assert clock.at(60_000) == 1_000  # idle 9s: not yet
    assert clock.at(81_000) == 1_000 + 30_000  # idle 30s: from the clock at the last signal
    assert clock.at(81_000) == clock.at(81_000)  # repeated calls do not add up
    clock.observe(2_000, now_ms=90_000)  # after idling: never behind what it showed
    assert clock.at(90_000) == 1_000 + 39_000
