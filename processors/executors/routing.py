"""The routing tree, Alertmanager's (``route:`` of alertmanager.yml): which receivers an
action goes to.

An action is matched by its labels (:func:`action_labels`): what silences and inhibit
rules see of its alert (``alertname`` = the rule id, ``severity``, the rule's labels, the
group values) plus ``type`` (alert, heal, scale, incident) and ``status`` (firing,
resolved). The root matches every action. At each node, the children are tried in
order: the first that matches takes the action, routed further down its own children;
when that child says ``continue: true`` the next matching children take it too. A node
whose children all miss takes it itself, with its receiver or, if it names none, its
parent's (inherited, as in Alertmanager). A receiver reached twice gets the action once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from processors.executors.receivers import Route
from processors.records import Action
from processors.rules.label_matchers import (
    LabelMatcher,
    alert_labels,
    matches_all,
    parse_matcher,
)


def action_labels(action: Action) -> dict[str, str]:
    labels = alert_labels(action.rule_id, action.severity, action.labels, action.group)
    labels["type"] = action.type
    labels["status"] = action.status
    return labels


@dataclass(frozen=True, slots=True)
class RouteNode:
    """A compiled :class:`~processors.executors.receivers.Route`."""

    receiver: str  # inherited when the route names none
    matchers: tuple[LabelMatcher, ...]
    continue_: bool
    children: tuple[RouteNode, ...]

    @classmethod
    def of(cls, route: Route, inherited: str | None = None) -> RouteNode:
        """Raises MatcherError for a matcher that does not parse, ValueError when the
        root names no receiver."""
        receiver = route.receiver or inherited
        if receiver is None:
            raise ValueError("the top route needs a receiver: the default for every action")
        matchers = [parse_matcher(text) for text in route.matchers]
        matchers += [LabelMatcher(name, "=", value) for name, value in route.match.items()]
        matchers += [
            parse_matcher(f'{name}=~"{_quoted(pattern)}"')
            for name, pattern in route.match_re.items()
        ]
        children = tuple(cls.of(child, receiver) for child in route.routes)
        return cls(receiver, tuple(matchers), route.continue_, children)

    def receivers(self, labels: Mapping[str, str]) -> list[str]:
        """The receivers of an action with ``labels`` (the root matches everything)."""
        out: list[str] = []
        self._route(labels, out)
        return list(dict.fromkeys(out))

    def _route(self, labels: Mapping[str, str], out: list[str]) -> None:
        taken = False
        for child in self.children:
            if not matches_all(child.matchers, labels):
                continue
            child._route(labels, out)
            taken = True
            if not child.continue_:
                break
        if not taken:
            out.append(self.receiver)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
