"""Noise control of one action of one alert (rules/README.md "Cooldown and exponential
realert"): "no repeat for the same alert until 10 minutes have passed since it last
went out (a repeat exactly 10 minutes later goes)". A held-back repeat does not extend
the cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.reference.rulefile import Action


@dataclass
class ActionGate:
    action: Action
    last_sent_ms: int | None = None

    def passes(self, ts_ms: int) -> bool:
        """Whether a firing of this action at ``ts_ms`` goes out (and remember it if so)."""
        if self.last_sent_ms is not None and ts_ms - self.last_sent_ms < self.action.cooldown_ms:
            return False
        self.last_sent_ms = ts_ms
        return True
