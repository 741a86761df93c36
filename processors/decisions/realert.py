"""Exponential realert, ElastAlert's: after an action is sent, repeats wait
``initial``; a repeat due while the previous wait has not long passed doubles the wait
(up to ``max``); the longer it stays quiet, the more the exponent comes back down.

A port of ElastAlert's ``next_alert_time``.
"""

from __future__ import annotations

from typing import NamedTuple

from processors.rules.actions import RealertConfig


class RealertState(NamedTuple):
    until_ms: int  # no repeat before
    exp: int  # the exponent of the last wait


def realert_wait(state: RealertState | None, t_ms: int) -> int | None:
    """When a repeat may go, if it may not go at ``t_ms``."""
    if state is not None and t_ms < state.until_ms:
        return state.until_ms
    return None


def next_realert(config: RealertConfig, state: RealertState | None, t_ms: int) -> RealertState:
    """The state after sending at ``t_ms``."""
    initial = config.initial_ms
    if state is None:
        return RealertState(t_ms + initial, 0)
    exponent = state.exp
    since_until = t_ms - state.until_ms
    if since_until < initial * 2**exponent:
        exponent += 1  # alerts keep coming: wait longer
    else:
        while since_until > initial * 2**exponent and exponent > 0:
            since_until -= initial * 2**exponent
            exponent -= 1
    wait = initial * 2**exponent
    if wait >= config.max_ms:
        return RealertState(t_ms + config.max_ms, exponent - 1)
    return RealertState(t_ms + wait, exponent)
