"""The routing tree follows Alertmanager's: first matching child, continue, inherited
receivers, the parent when no child matches."""

from __future__ import annotations

import pytest

from processors.executors.receivers import Route
from processors.executors.routing import RouteNode, action_labels
from tests.processors.executors.factories import make_action


def tree(**route: object) -> RouteNode:
    return RouteNode.of(Route.model_validate(route))


TREE = tree(
    receiver="default",
    routes=[
        {"match": {"type": "heal"}, "receiver": "restart"},
        {
            "match": {"type": "incident"},
            "receiver": "pager",
            "continue": True,
            "routes": [{"matchers": ['severity=~"warn.*"'], "receiver": "ticket"}],
        },
        {"match_re": {"alertname": "host_.*"}, "receiver": "infra"},
        {"matchers": ["team=infra"], "routes": [{"match": {"status": "resolved"}}]},
    ],
)


@pytest.mark.parametrize(
    ("action", "receivers"),
    [
        (make_action(type="heal"), ["restart"]),  # the first match only
        (make_action(type="incident"), ["pager", "infra"]),  # continue: the next match too
        (make_action(type="incident", severity="warning"), ["ticket", "infra"]),
        (make_action(rule_id="db_down", labels={"team": "infra"}), ["default"]),  # inherited
        (make_action(rule_id="db_down", labels={"team": "db"}), ["default"]),  # no match
        (make_action(rule_id="db_down", status="resolved"), ["default"]),
    ],
)
def test_an_action_goes_where_alertmanager_would_send_its_alert(action, receivers) -> None:
    assert TREE.receivers(action_labels(action)) == receivers


def test_a_receiver_reached_twice_gets_the_action_once() -> None:
    twice = tree(
        receiver="log",
        routes=[
            {"match": {"type": "alert"}, "continue": True},
            {"match": {"severity": "critical"}},
        ],
    )
    assert twice.receivers(action_labels(make_action())) == ["log"]


def test_an_action_is_matched_by_its_alert_labels_its_type_and_status() -> None:
    labels = action_labels(make_action(group={"host": "web-1", "team": "web"}))
    assert labels == {
        "alertname": "host_cpu_saturated",
        "severity": "critical",
        "team": "web",  # a group value wins over the rule's label, as for silences
        "host": "web-1",
        "type": "alert",
        "status": "firing",
    }


def test_the_top_route_must_name_a_receiver() -> None:
    with pytest.raises(ValueError, match="top route needs a receiver"):
        tree(routes=[{"receiver": "x"}])
