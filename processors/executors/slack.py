"""A Slack receiver: an incoming-webhook message (``text``, with Block Kit ``blocks``):
the status and severity, the summary, the group values and a runbook link. The webhook
URL is a secret: it comes from the environment variable the file names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.executors.receivers import SlackConfig
from processors.executors.requests import HttpRequest, json_body, secret
from processors.records import Action

_ICON = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


def text(action: Action) -> str:
    state = "RESOLVED" if action.status == "resolved" else action.severity.upper()
    return f"{_ICON[action.status]} [{state}] {action.rule_id} ({action.type}): {action.summary}"


def body(action: Action, config: SlackConfig) -> dict[str, Any]:
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in sorted(action.group.items())]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(text(action))}}
    ]
    if fields:
        blocks.append({"type": "section", "fields": [_escaped(f) for f in fields[:10]]})
    runbook = action.annotations.get("runbook_url")
    if runbook:
        link = {"type": "mrkdwn", "text": f"<{_escape(runbook)}|runbook>"}
        blocks.append({"type": "context", "elements": [link]})
    out: dict[str, Any] = {"text": text(action), "blocks": blocks}
    if config.channel:
        out["channel"] = config.channel
    return out


def request(action: Action, config: SlackConfig, env: Mapping[str, str]) -> HttpRequest:
    url = secret(env, config.webhook_url_env)
    headers = {"Content-Type": "application/json"}
    return HttpRequest("POST", url, headers, json_body(body(action, config)), config.timeout_ms)


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped(field: dict[str, str]) -> dict[str, str]:
    return {**field, "text": _escape(field["text"])}
