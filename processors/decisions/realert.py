"""Exponential realert, ElastAlert's: after an action is sent, repeats wait
``initial``; a repeat due while the previous wait has not long passed doubles the wait
(up to ``max``); the longer it stays quiet, the more the exponent comes back down.

A port of ElastAlert's ``next_alert_time``: state is ``{"until": ms, "exp": n}``.
"""

from __future__ import annotations

from typing import Any

from processors.rules.model import RealertConfig


def realert_wait(state: dict[str, Any] | None, t_ms: int) -> int | None:
    """When a repeat may go, if it may not go at ``t_ms``."""
    if state is not None and t_ms < state["until"]:
        return int(state["until"])
    return None


def next_realert(config: RealertConfig, state: dict[str, Any] | None, t_ms: int) -> dict[str, int]:
    """The state after sending at ``t_ms``."""
    initial = config.initial_ms
    if state is None:
        return {"until": t_ms + initial, "exp": 0}
    exponent = int(state["exp"])
    since_until = t_ms - int(state["until"])
    if since_until < initial * 2**exponent:
        exponent += 1  # alerts keep coming: wait longer
    else:
        while since_until > initial * 2**exponent and exponent > 0:
            since_until -= initial * 2**exponent
            exponent -= 1
    wait = initial * 2**exponent
    if wait >= config.max_ms:
        return {"until": t_ms + config.max_ms, "exp": exponent - 1}
    return {"until": t_ms + wait, "exp": exponent}
