"""A rule file read as rules/README.md describes it, defaults included.

The reference reads the same mapping that is written to YAML for the production loader
(``{"rules": [...], "macros": {...}, "lists": {...}}``), so that macros, lists and
exceptions are expanded here, independently of the production loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.reference.expressions import Definitions, Node, Unsettled, lookup, parse

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")

# Sources by topic role (the README's `topic:` names in rule tests).
SOURCE_OF_ROLE = {
    "metrics": "metric",
    "logs": "log",
    "security": "security",
    "health": "health",
    "events": "event",
}
# "keep_firing_for (default 5m)" for rules on single records and the other rule types.
SINGLE_RECORD_KEEP_MS = 300_000
DEFAULT_GRACE_MS = 10_000

Group = tuple[tuple[str, str], ...]  # an alert's group_by values, in order


def duration_ms(text: str) -> int:
    """``500ms``, ``30s``, ``5m``, ``1h30m``, ``1d``, ``1w``."""
    total, pos = 0, 0
    for part in _PART.finditer(text):
        assert part.start() == pos, text
        total += int(part.group(1)) * _UNIT_MS[part.group(2)]
        pos = part.end()
    assert pos == len(text) and text, text
    return total


@dataclass(frozen=True)
class Window:
    size_ms: int
    hop_ms: int
    grace_ms: int
    stat: str
    value: Node


@dataclass(frozen=True)
class Action:
    type: str
    cooldown_ms: int = 0
    realert: tuple[int, int] | None = None  # (initial, max) in ms
    verify_after_ms: int | None = None  # verify: after
    escalate_type: str | None = None  # verify: escalate: type


@dataclass(frozen=True)
class Rule:
    id: str
    source: str
    type: str
    match: Node  # with the exceptions: match and not (exception or …)
    condition: Node
    window: Window | None
    for_ms: int
    keep_firing_ms: int
    group_by: tuple[str, ...]
    actions: tuple[Action, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)  # the type's block


def read_rules(files: list[Mapping[str, Any]]) -> list[Rule]:
    """The enabled rules of a rule folder (one mapping per file; macros and lists of any
    file are usable in every file)."""
    macros: dict[str, str] = {}
    lists: dict[str, list[Any]] = {}
    for each in files:
        macros.update(each.get("macros", {}))
        lists.update(each.get("lists", {}))
    definitions = Definitions(macros, lists)
    return [
        _rule(spec, definitions)
        for each in files
        for spec in each.get("rules", [])
        if spec.get("enabled", True)
    ]


def _rule(spec: Mapping[str, Any], definitions: Definitions) -> Rule:
    source = spec["source"]
    match = parse(spec.get("match", "true"), definitions)
    exceptions = [_exception(item, definitions) for item in spec.get("exceptions", [])]
    if exceptions:
        excluded: Node = exceptions[0]
        for item in exceptions[1:]:
            excluded = ("or", excluded, item)
        match = ("and", match, ("not", excluded))
    window = None
    if "window" in spec:
        block = spec["window"]
        size_ms = duration_ms(block["size"])
        window = Window(
            size_ms=size_ms,
            hop_ms=duration_ms(block["hop"]) if "hop" in block else size_ms,
            grace_ms=duration_ms(block["grace"]) if "grace" in block else DEFAULT_GRACE_MS,
            stat=block["stat"],
            value=parse(block.get("value", "value" if source == "metric" else "1"), definitions),
        )
    rule_type = spec.get("type", "threshold")
    if "keep_firing_for" in spec:
        keep_ms = duration_ms(spec["keep_firing_for"])
    else:
        keep_ms = 0 if window is not None else SINGLE_RECORD_KEEP_MS
    actions = tuple(_action(item) for item in spec.get("actions", [{"type": "alert"}]))
    return Rule(
        id=spec["id"],
        source=source,
        type=rule_type,
        match=match,
        condition=parse(spec.get("condition", "true"), definitions),
        window=window,
        for_ms=duration_ms(spec["for"]) if "for" in spec else 0,
        keep_firing_ms=keep_ms,
        group_by=tuple(spec.get("group_by", [])),
        actions=actions,
        settings=dict(spec.get(rule_type, {})),
    )


def _exception(item: str | Mapping[str, Any], definitions: Definitions) -> Node:
    """An expression, or field -> value (``==``) / list of values (``in``), all holding."""
    if isinstance(item, str):
        return parse(item, definitions)
    parts: list[Node] = []
    for path, value in item.items():
        if isinstance(value, list):
            parts.append(("cmp", "in", ("field", path), ("list", *(("lit", v) for v in value))))
        else:
            parts.append(("cmp", "==", ("field", path), ("lit", value)))
    node = parts[0]
    for part in parts[1:]:
        node = ("and", node, part)
    return node


def _action(spec: Mapping[str, Any]) -> Action:
    realert = spec.get("realert")
    verify = spec.get("verify")
    return Action(
        type=spec["type"],
        cooldown_ms=duration_ms(spec["cooldown"]) if "cooldown" in spec else 0,
        realert=(duration_ms(realert["initial"]), duration_ms(realert["max"])) if realert else None,
        verify_after_ms=duration_ms(verify["after"]) if verify else None,
        escalate_type=verify["escalate"]["type"] if verify else None,
    )


def group_of(rule: Rule, fields: Mapping[str, Any]) -> Group:
    """The ``group_by`` values of a record; the README says nothing of a record that lacks
    one (or holds a non-string there)."""
    values = []
    for path in rule.group_by:
        value = lookup(fields, path)
        if not isinstance(value, str):
            raise Unsettled(f"group_by {path} is {value!r}, not a string")
        values.append((path, value))
    return tuple(values)
