"""Noise control of one action of one alert (rules/README.md "Cooldown and exponential
realert"): "cooldown: 10m on an action: no repeat for the same alert within 10 minutes".

"Within T" is the README's: the newer minus the older is at most T. The cooldown counts
from the last action that went out (a held-back repeat does not extend it).
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
        if self.last_sent_ms is not None and ts_ms - self.last_sent_ms <= self.action.cooldown_ms:
            return False
        self.last_sent_ms = ts_ms
        return True
