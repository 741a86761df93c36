"""The executor shell's pieces that need no broker: what --dry-run prints, and which
secrets it hides."""

from __future__ import annotations

import orjson
import pytest

from processors.executors.loader import Receivers
from processors.executors.receivers import Receiver, Route
from processors.executors.requests import HttpRequest
from processors.executors.routing import RouteNode
from streams.act import Delivery, _print_step, secret_variables
from tests.processors.executors.factories import make_action


def test_dry_run_prints_one_line_per_request_with_secrets_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    action = make_action()
    delivery = Delivery(None, 0, action, b"{}", [], "pd")  # type: ignore[arg-type]
    request = HttpRequest(
        "POST", "https://x/enqueue", {"A": "s3cret-key"}, b'{"k": "s3cret-key"}', 1
    )
    _print_step(request, delivery, ["s3cret-key"])
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == {
        "action_id": action.id,
        "receiver": "pd",
        "method": "POST",
        "url": "https://x/enqueue",
        "headers": {"A": "<secret>"},
        "body": {"k": "<secret>"},
    }


def test_the_secrets_are_the_variables_the_receivers_name() -> None:
    receivers = [
        Receiver.model_validate(r)
        for r in [
            {"name": "pd", "pagerduty": {"routing_key_env": "PD_KEY"}},
            {
                "name": "hook",
                "webhook": {"url": "http://h/", "headers_env": {"Authorization": "TOKEN"}},
            },
            {"name": "run", "command": {"argv": ["true"]}},
        ]
    ]
    loaded = Receivers(
        "r.yaml", {r.name: r for r in receivers}, RouteNode.of(Route(receiver="pd")), 0
    )
    assert secret_variables(loaded) == {"PD_KEY": "pd", "TOKEN": "hook"}
