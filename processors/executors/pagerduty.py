"""A PagerDuty receiver: Events API v2 (``POST /v2/enqueue``).

A firing action triggers, a resolved one resolves; both carry ``dedup_key`` = the alert's
fingerprint, so PagerDuty keeps one incident per alert and a repeat of a trigger (a
retry, a redelivery after a restart) adds nothing. ``routing_key`` comes from the
environment variable the file names. The payload: ``summary`` (at most 1,024 characters),
``source`` (the action's target, else its host, else the rule), ``severity`` (ours are
PagerDuty's words), ``timestamp`` (when the alert began), ``component`` (the service, if
grouped by one), ``group`` (the rule), ``class`` (the action type) and
``custom_details`` (labels, group values, annotations, params).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.executors.receivers import PagerDutyConfig
from processors.executors.requests import HttpRequest, json_body, secret
from processors.records import Action

MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255


def dedup_key(action: Action) -> str:
    if action.fingerprint:
        return action.fingerprint[:MAX_DEDUP_KEY_CHARS]
    group = ",".join(f"{k}={v}" for k, v in sorted(action.group.items()))
    return f"{action.rule_id}/{group}"[:MAX_DEDUP_KEY_CHARS]


def body(action: Action, config: PagerDutyConfig, routing_key: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if action.status == "resolved" else "trigger",
        "dedup_key": dedup_key(action),
    }
    if action.status == "resolved":
        return event
    source = action.target or action.group.get("host") or action.rule_id
    payload: dict[str, Any] = {
        "summary": action.summary[:MAX_SUMMARY_CHARS] or action.rule_id,
        "source": source,
        "severity": action.severity,
        "timestamp": action.starts_at or action.ts,
        "group": action.rule_id,
        "class": action.type,
        "custom_details": {
            "labels": action.labels,
            "group": action.group,
            "annotations": action.annotations,
            "params": action.params,
            "action_id": action.id,
        },
    }
    if "service" in action.group:
        payload["component"] = action.group["service"]
    event["payload"] = payload
    event["client"] = config.client
    runbook = action.annotations.get("runbook_url")
    if runbook:
        event["links"] = [{"href": runbook, "text": "runbook"}]
    return event


def request(action: Action, config: PagerDutyConfig, env: Mapping[str, str]) -> HttpRequest:
    routing_key = secret(env, config.routing_key_env)
    headers = {"Content-Type": "application/json"}
    return HttpRequest(
        "POST", config.url, headers, json_body(body(action, config, routing_key)), config.timeout_ms
    )
