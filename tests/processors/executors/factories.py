"""Actions as the decision tier writes them, for the executors' tests."""

from __future__ import annotations

from typing import Any

import orjson

from processors.records import Action


def make_action(**overrides: Any) -> Action:
    fields: dict[str, Any] = {
        "id": "a1b2c3d4e5f60718",
        "type": "alert",
        "status": "firing",
        "rule_id": "host_cpu_saturated",
        "rule_version": "3f2a",
        "severity": "critical",
        "group": {"host": "web-1"},
        "fingerprint": "9f86d081884c7d65",
        "labels": {"team": "infra"},
        "summary": "CPU 97% on web-1",
        "annotations": {"runbook_url": "https://runbooks.example.org/cpu"},
        "params": {},
        "starts_at": "2026-12-08T00:00:00Z",
        "ts": "2026-12-08T00:05:00Z",
        "target": "host=web-1",
        **overrides,
    }
    return Action.model_validate(fields)


def value_of(action: Action) -> bytes:
    """The record's value as the decision tier writes it."""
    return orjson.dumps(action.model_dump(mode="json"))
