"""Alertmanager label matchers: syntax, semantics (missing label = empty), errors."""

from __future__ import annotations

import pytest

from processors.rules.label_matchers import MatcherError, alert_labels, parse_matcher

LABELS = {"alertname": "hot", "host": "web-1", "team": "infra"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("host=web-1", True),
        ('host="web-1"', True),
        ("host = web-1", True),
        ("host=web-2", False),
        ("host!=web-2", True),
        ('host=~"web-.*"', True),
        ('host=~"web"', False),  # anchored
        ('host!~"db-.*"', True),
        ("env!=prod", True),  # a missing label is the empty string
        ("env=", True),
        ('env=~".+"', False),
        ('team=~"infra|sre"', True),
        (r'comment="say \"hi\""', False),
    ],
)
def test_matchers(text: str, matches: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("host", "is not a label matcher", 5),
        ("=web-1", "is not a label matcher", 1),
        ("host web", "is not a label matcher", 6),
        ('host=~"(web"', "invalid regular expression", 8),
    ],
)
def test_bad_matchers_say_where(text: str, message: str, column: int) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert message in str(caught.value)
    assert caught.value.column == column


def test_alert_labels_name_the_rule_and_let_group_values_win() -> None:
    labels = alert_labels("hot", "critical", {"team": "infra", "host": "x"}, {"host": "web-1"})
    assert labels == {"alertname": "hot", "severity": "critical", "team": "infra", "host": "web-1"}
