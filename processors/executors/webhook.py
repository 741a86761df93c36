"""A webhook receiver: the action record POSTed exactly as it is on its topic.

Headers: ``Content-Type: application/json``, ``Idempotency-Key: <action id>`` (the same
on every attempt and after a restart, so a server can drop a repeat), the record's
CloudEvents attributes in the HTTP binding's form (Kafka's ``ce_id`` becomes ``ce-id``),
then the file's ``headers`` and ``headers_env`` (values from the environment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from processors.executors.receivers import WebhookConfig
from processors.executors.requests import HttpRequest, secret
from processors.records import Action


def request(
    action: Action,
    value: bytes,
    kafka_headers: Sequence[tuple[str, bytes]],
    config: WebhookConfig,
    env: Mapping[str, str],
) -> HttpRequest:
    headers = {"Content-Type": "application/json", "Idempotency-Key": action.id}
    for name, raw in kafka_headers:
        if name.startswith("ce_"):
            headers["ce-" + name[3:]] = raw.decode("utf-8", "replace")
    headers.update(config.headers)
    for name, variable in config.headers_env.items():
        headers[name] = secret(env, variable)
    return HttpRequest("POST", config.url, headers, value, config.timeout_ms)
