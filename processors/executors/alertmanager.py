"""An Alertmanager receiver: ``POST <url>/api/v2/alerts`` with one postable alert
(Alertmanager's OpenAPI ``postableAlerts``): ``labels`` (``alertname`` = the rule id,
``severity``, the rule's labels, the group values), ``annotations`` (``summary`` and the
rule's), ``startsAt``, ``endsAt`` and ``generatorURL``.

A firing alert's ``endsAt`` is ``ends_after`` (1h) past its action's time: Alertmanager
resolves an alert not re-sent by then, so a firing alert the engine forgot still ends. A
resolved one has ``endsAt`` = its action's time, which resolves it at once.
"""

from __future__ import annotations

from processors.executors.receivers import AlertmanagerConfig
from processors.executors.requests import HttpRequest, json_body
from processors.records import Action
from processors.rules.label_matchers import alert_labels
from processors.timestamps import format_ts, parse_ts_ms


def body(action: Action, config: AlertmanagerConfig) -> list[dict[str, object]]:
    at_ms = parse_ts_ms(action.ts)
    ends_ms = at_ms if action.status == "resolved" else at_ms + config.ends_after_ms
    alert: dict[str, object] = {
        "labels": alert_labels(action.rule_id, action.severity, action.labels, action.group),
        "annotations": {"summary": action.summary, **action.annotations},
        "startsAt": action.starts_at or action.ts,
        "endsAt": format_ts(ends_ms),
    }
    if config.generator_url:
        alert["generatorURL"] = config.generator_url
    return [alert]


def request(action: Action, config: AlertmanagerConfig) -> HttpRequest:
    url = config.url.rstrip("/") + "/api/v2/alerts"
    headers = {"Content-Type": "application/json"}
    return HttpRequest("POST", url, headers, json_body(body(action, config)), config.timeout_ms)
