"""Flap detection: an alert that changes between firing and resolved more than
``changes`` times within ``within`` is flapping.

While it flaps it is held firing (it stays a source of inhibition, marked flapping)
and its firing and resolved notifications are suppressed with reason ``flapping``.
Once the changes within ``within`` are few enough again, one notification brings the
receivers up to date: a firing if it fires and they last heard resolved, a resolved if
it does not fire and they last heard firing (``because: flapping_ended``).
"""

from __future__ import annotations

from processors.rules.noise_control import FlappingConfig


def recent_changes(changes: list[int], config: FlappingConfig, t_ms: int) -> list[int]:
    """The change times still within ``within`` of ``t_ms``."""
    return [c for c in changes if c > t_ms - config.within_ms]


def is_flapping(changes: list[int], config: FlappingConfig) -> bool:
    return len(changes) > config.changes
