"""Deterministic ids: the same inputs always give the same id, across processes and
replays, so a re-emitted signal or action is recognised downstream."""

from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    """A 32-hex-digit id that depends only on ``parts`` (separated unambiguously)."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(rule_id: str, group: dict[str, str]) -> str:
    """An alert's identity: its rule and its group_by values (order-independent)."""
    return stable_id(rule_id, *(f"{k}={v}" for k, v in sorted(group.items())))[:16]
