"""The receivers file read and checked, every problem at its line and column, as rule
files are (``opsrules check`` prints both): YAML and schema errors, a name given twice, a
route or runbook step naming no receiver, a runbook step that is a runbook, a matcher
that does not parse, and a template in a command that would not render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processors.executors.receivers import (
    AlertmanagerConfig,
    CommandConfig,
    KubernetesConfig,
    PagerDutyConfig,
    Receiver,
    ReceiversFile,
    RetryConfig,
    Route,
    RunbookConfig,
    RunbookStep,
    SlackConfig,
    WebhookConfig,
)
from processors.executors.routing import RouteNode
from processors.rules.config_files import ConfigShape, read_config
from processors.rules.label_matchers import MatcherError, parse_matcher
from processors.rules.rule_errors import (
    RuleError,
    RuleSource,
    did_you_mean,
    model_keys,
    value_pos,
)
from processors.rules.templates import template_errors

# the keys allowed in each mapping, by the key it is written under
_KEYS = {
    "file": model_keys(ReceiversFile),
    "receivers": model_keys(Receiver),
    "webhook": model_keys(WebhookConfig),
    "alertmanager": model_keys(AlertmanagerConfig),
    "pagerduty": model_keys(PagerDutyConfig),
    "slack": model_keys(SlackConfig),
    "command": model_keys(CommandConfig),
    "kubernetes": model_keys(KubernetesConfig),
    "runbook": model_keys(RunbookConfig),
    "steps": model_keys(RunbookStep),
    "retry": model_keys(RetryConfig),
    "route": model_keys(Route),
    "routes": model_keys(Route),
}

# What a command's templates may read: an action's fields (records.Action) and its group
# values; a sample to render them against.
_SAMPLE_ACTION: dict[str, Any] = {
    "id": "0123456789abcdef",
    "type": "heal",
    "status": "firing",
    "rule_id": "host_cpu_saturated",
    "rule_version": "v1",
    "severity": "critical",
    "group": {"host": "web-1"},
    "fingerprint": "fedcba9876543210",
    "labels": {"team": "infra"},
    "summary": "CPU 97% on web-1",
    "annotations": {},
    "params": {"target": "web-1"},
    "evidence": [],
    "starts_at": "2026-01-01T00:00:00Z",
    "ts": "2026-01-01T00:05:00Z",
    "target": "web-1",
    "incident_id": None,
    "decision": None,
    "host": "web-1",
}
_KNOWN = frozenset(_SAMPLE_ACTION)


@dataclass(frozen=True)
class Receivers:
    """A checked receivers file: its receivers by name and its compiled routing tree."""

    path: str
    by_name: dict[str, Receiver]
    route: RouteNode
    drain_timeout_ms: int


@dataclass
class ReceiversLoad:
    receivers: Receivers | None = None
    errors: list[RuleError] = field(default_factory=list)


SHAPE = ConfigShape(
    model=ReceiversFile,
    items="receivers",
    item_kind="receiver",
    top_level="receivers file is a mapping with 'receivers:' and 'route:'",
    keys=_KEYS,
)


def load_receivers(path: Path | str) -> ReceiversLoad:
    read = read_config(path, SHAPE, ReceiversFile)
    result = ReceiversLoad(errors=read.errors)
    if read.model is None or read.source is None:
        return result
    model = read.model
    result.errors.extend(sorted(_cross_checks(read.source, model), key=lambda e: (e.line, e.col)))
    if not result.errors:
        by_name = {r.name: r for r in model.receivers}
        route = RouteNode.of(model.route)
        result.receivers = Receivers(str(path), by_name, route, model.drain_timeout_ms)
    return result


def _cross_checks(source: RuleSource, model: ReceiversFile) -> list[RuleError]:
    errors: list[RuleError] = []
    data = source.data
    names: dict[str, int] = {}
    for index, receiver in enumerate(model.receivers):
        node = data["receivers"][index]
        if receiver.name in names:
            first = names[receiver.name]
            twice = f"receiver {receiver.name!r} is defined twice (first as receivers[{first}])"
            errors.append(source.error(value_pos(node, "name"), receiver.name, twice, "receiver"))
        names.setdefault(receiver.name, index)
    by_name = {r.name: r for r in model.receivers}

    def unknown(name: str) -> str:
        return f"no receiver is named {name!r}{did_you_mean(name, list(by_name))}"

    for index, receiver in enumerate(model.receivers):
        node = data["receivers"][index]
        if receiver.runbook is not None:
            for i, step in enumerate(receiver.runbook.steps):
                step_node = node["runbook"]["steps"][i]
                other = by_name.get(step.receiver)
                message: str | None = None
                if other is None:
                    message = unknown(step.receiver)
                elif other.runbook is not None:
                    message = (
                        f"step {i + 1}: {step.receiver!r} is a runbook; steps are other receivers"
                    )
                if message:
                    pos = value_pos(step_node, "receiver")
                    errors.append(source.error(pos, receiver.name, message, "receiver"))
        if receiver.command is not None:
            argv_node = node["command"]["argv"]
            templates: list[tuple[Any, int | str, str]] = [
                (argv_node, i, t) for i, t in enumerate(receiver.command.argv)
            ]
            env_node = node["command"].get("env")
            templates += [(env_node, k, t) for k, t in receiver.command.env.items()]
            for parent, key, template in templates:
                for problem in template_errors(template, _SAMPLE_ACTION, _KNOWN):
                    pos = value_pos(parent, key)
                    errors.append(source.error(pos, receiver.name, problem, "receiver"))
    errors += _route_errors(source, model.route, data["route"], by_name, unknown, top=True)
    return errors


def _route_errors(
    source: RuleSource,
    route: Route,
    node: Any,
    by_name: dict[str, Receiver],
    unknown: Any,
    *,
    top: bool = False,
) -> list[RuleError]:
    errors: list[RuleError] = []
    if route.receiver is not None and route.receiver not in by_name:
        errors.append(
            source.error(value_pos(node, "receiver"), None, unknown(route.receiver), "route")
        )
    elif top and route.receiver is None:
        message = "the top route needs a receiver: the default for every action"
        errors.append(source.error((node.lc.line + 1, node.lc.col + 1), None, message, "route"))
    texts: list[tuple[Any, int | str, str]] = [
        (node["matchers"], i, t) for i, t in enumerate(route.matchers)
    ]
    texts += [(node["match_re"], k, f'{k}=~"{v}"') for k, v in route.match_re.items()]
    for parent, key, text in texts:
        try:
            parse_matcher(text)
        except MatcherError as exc:
            errors.append(source.error(value_pos(parent, key), None, str(exc), "route"))
    for index, child in enumerate(route.routes):
        errors += _route_errors(source, child, node["routes"][index], by_name, unknown)
    return errors
