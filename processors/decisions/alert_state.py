"""The alert state machine: inactive → pending → firing → resolved, Prometheus's.

Time is event time and is passed in. For a windowed rule each evaluation is one closed
window: ``eval_ms`` is its end and ``since_ms`` its start, so ``for: 5m`` over 1-minute
windows fires at the end of the fifth consecutive true window (the condition held for
the whole five minutes). For a rule on single records ``since_ms == eval_ms``.

- ``for``: a true condition first makes the alert pending; it fires once
  ``eval_ms - active_since_ms >= for_ms``. A false evaluation while pending, or a true
  one that does not continue the previous (a gap), starts over.
- ``keep_firing_for``: once firing, a false evaluation starts a keep-firing period; the
  alert resolves at the first false evaluation at least ``keep_firing_for_ms`` after
  the first false one (0: at the first false one). A true evaluation ends the period.
- Rules on single records (``resolves=False``) have no false evaluations: a match more
  than ``keep_firing_for_ms`` after the previous match starts a new firing; they send
  no resolved notification.
- Evaluations at or before the last one are ignored (a replayed signal changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from processors.rules.compiler import Timing

__all__ = ["INACTIVE", "AlertState", "Event", "Phase", "Timing", "transition"]


class Phase(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class Event(StrEnum):
    """What an evaluation did; FIRING and RESOLVED are the ones that send actions."""

    NONE = "none"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertState:
    phase: Phase = Phase.INACTIVE
    active_since_ms: int | None = None  # start of the current pending/firing episode
    last_eval_ms: int | None = None
    last_true_ms: int | None = None
    keep_firing_since_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "active_since_ms": self.active_since_ms,
            "last_eval_ms": self.last_eval_ms,
            "last_true_ms": self.last_true_ms,
            "keep_firing_since_ms": self.keep_firing_since_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertState:
        return cls(
            phase=Phase(data["phase"]),
            active_since_ms=data["active_since_ms"],
            last_eval_ms=data["last_eval_ms"],
            last_true_ms=data["last_true_ms"],
            keep_firing_since_ms=data["keep_firing_since_ms"],
        )


INACTIVE = AlertState()


def transition(
    state: AlertState, *, condition: bool, eval_ms: int, since_ms: int, timing: Timing
) -> tuple[AlertState, Event]:
    """The next state after one evaluation, and what happened."""
    if state.last_eval_ms is not None and eval_ms <= state.last_eval_ms:
        return state, Event.NONE
    contiguous = state.last_eval_ms is not None and since_ms <= state.last_eval_ms
    if condition:
        return _on_true(state, eval_ms, since_ms, contiguous, timing)
    return _on_false(state, eval_ms, timing)


def _on_true(
    state: AlertState, eval_ms: int, since_ms: int, contiguous: bool, timing: Timing
) -> tuple[AlertState, Event]:
    if state.phase is Phase.FIRING:
        expired = (
            not timing.resolves
            and state.last_true_ms is not None
            and eval_ms - state.last_true_ms > timing.keep_firing_for_ms
        )
        if not expired:
            kept = replace(
                state, last_eval_ms=eval_ms, last_true_ms=eval_ms, keep_firing_since_ms=None
            )
            return kept, Event.NONE
        state = INACTIVE  # a match long after the last one: a new firing
        contiguous = False
    if state.phase is Phase.PENDING and contiguous:
        active_since = state.active_since_ms if state.active_since_ms is not None else since_ms
    else:
        active_since = since_ms
    fires = eval_ms - active_since >= timing.for_ms
    new = AlertState(
        phase=Phase.FIRING if fires else Phase.PENDING,
        active_since_ms=active_since,
        last_eval_ms=eval_ms,
        last_true_ms=eval_ms,
    )
    if fires:
        return new, Event.FIRING
    same_episode = state.phase is Phase.PENDING and state.active_since_ms == active_since
    return new, Event.NONE if same_episode else Event.PENDING


def _on_false(state: AlertState, eval_ms: int, timing: Timing) -> tuple[AlertState, Event]:
    if state.phase is Phase.FIRING:
        since = state.keep_firing_since_ms if state.keep_firing_since_ms is not None else eval_ms
        if eval_ms - since >= timing.keep_firing_for_ms:
            return AlertState(last_eval_ms=eval_ms), Event.RESOLVED
        return replace(state, last_eval_ms=eval_ms, keep_firing_since_ms=since), Event.NONE
    return AlertState(last_eval_ms=eval_ms), Event.NONE
