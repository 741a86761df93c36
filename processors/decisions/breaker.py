"""Circuit breakers for remediation: per rule, action and target, opened by
``failures`` failed ActionResults in a row; after ``cool_off`` it is half-open and
lets one trial action through; the trial's success closes it, its failure opens it
again. Derived from the ledger (actions sent and their results) at decision time, so
there is no breaker state to store or restore.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.decisions.ledger import Ledger, breaker_key
from processors.rules.actions import CircuitBreakerConfig
from processors.timestamps import format_ts


@dataclass(frozen=True, slots=True)
class OpenBreaker:
    state: str  # "open" | "half_open" (a trial is out)
    failures: int
    opened_ms: int
    retry_ms: int  # when it goes half-open

    def trail(self) -> dict[str, object]:
        return {
            "breaker": self.state,
            "failures": self.failures,
            "opened_at": format_ts(self.opened_ms),
            "half_open_at": format_ts(self.retry_ms),
        }


def open_breaker(
    ledger: Ledger,
    config: CircuitBreakerConfig,
    *,
    rule_id: str,
    action_index: int,
    target: str | None,
    t_ms: int,
) -> OpenBreaker | None:
    """Why the breaker holds the action back at ``t_ms``, or None when it may go."""
    history = ledger.history(breaker_key(rule_id, action_index, target))
    results = sorted((result.ts_ms, result.status) for _, result in history if result is not None)
    failures, opened_ms = 0, None
    for ts_ms, status in results:
        if status == "failed":
            failures += 1
            if failures >= config.failures:
                opened_ms = ts_ms  # (re)opened by this failure
        elif status == "succeeded":
            failures, opened_ms = 0, None
    if opened_ms is None:
        return None
    retry_ms = opened_ms + config.cool_off_ms
    if t_ms < retry_ms:
        return OpenBreaker("open", failures, opened_ms, retry_ms)
    trial_out = any(sent.ts_ms >= retry_ms and result is None for sent, result in history)
    if trial_out:
        return OpenBreaker("half_open", failures, opened_ms, retry_ms)
    return None
