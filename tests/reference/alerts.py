"""When an alert fires and resolves (rules/README.md "Alerts and actions"; Prometheus's
inactive → pending → firing → resolved, evaluated at each closed window's end).

- ``for``: "for: 5m over 1-minute windows fires at the end of the fifth consecutive true
  window": pending from the start of the first window of an unbroken run of true windows;
  firing at the end of the first window at least ``for`` after that start.
- ``keep_firing_for``: like Prometheus, the alert keeps firing until the condition has
  been false for that long, counted from the first false evaluation; a true window in
  between keeps the same firing.
- Rules on single records and the other types fire on a match; "matches within
  keep_firing_for (default 5m) of the previous one belong to the same firing", and they
  send no resolved notification.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.reference.expressions import Unsettled

FIRING = "firing"
RESOLVED = "resolved"


@dataclass
class WindowedAlert:
    """One alert (rule and group) of a windowed rule."""

    for_ms: int
    keep_firing_ms: int
    run_start_ms: int | None = None  # start of the first window of the current true run
    firing: bool = False
    false_since_ms: int | None = None  # first false evaluation while firing

    def evaluate(self, start_ms: int, end_ms: int, active: bool) -> str | None:
        """The window ``[start_ms, end_ms)`` was evaluated; returns what happened then."""
        if active:
            self.false_since_ms = None
            if self.run_start_ms is None:
                self.run_start_ms = start_ms
            if not self.firing and end_ms - self.run_start_ms >= self.for_ms:
                self.firing = True
                return FIRING
            return None
        self.run_start_ms = None
        if not self.firing:
            return None
        if self.false_since_ms is None:
            self.false_since_ms = end_ms
        if end_ms - self.false_since_ms >= self.keep_firing_ms:
            self.firing = False
            self.false_since_ms = None
            return RESOLVED
        return None


@dataclass
class MatchAlert:
    """One alert of a rule that fires on a match (single records, the other types)."""

    keep_firing_ms: int
    last_match_ms: int | None = None

    def match(self, ts_ms: int) -> str | None:
        """A match at ``ts_ms``: a new firing unless the previous match is within
        ``keep_firing_for`` ("within T": the newer minus the older is at most T)."""
        previous, self.last_match_ms = self.last_match_ms, ts_ms
        if previous is not None and ts_ms < previous:
            raise Unsettled("a match older than the previous one: which is 'previous'")
        if previous is not None and ts_ms - previous <= self.keep_firing_ms:
            return None
        return FIRING
