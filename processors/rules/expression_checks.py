"""Checking a rule's expressions as the loader reads it (:mod:`processors.rules.loader`):
each expression of a rule parsed, its names checked against the records of its source,
its macros and lists expanded, its exceptions folded into ``match``; the field paths and
expressions of the rule types' settings; errors placed at their line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from processors.rules.expressions import (
    Binary,
    ExpressionError,
    Field,
    Literal,
    Node,
    Unary,
    parse,
    render,
)
from processors.rules.fields import SOURCE_FIELDS, default_window_value
from processors.rules.macros import (
    Definitions,
    Scope,
    balanced,
    field_values,
    record_scope,
    resolve,
    window_scope,
)
from processors.rules.model import Rule
from processors.rules.rule_errors import (
    Kind,
    RuleError,
    RuleSource,
    did_you_mean,
    key_pos,
    value_pos,
)

# --- expressions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expanded:
    """A rule's expressions as run (canonical text where a macro, list or exception
    changed them, else as written)."""

    match: str
    condition: str
    value: str | None
    steps: tuple[str, ...] = ()  # a sequence's steps' match; an unfinished's start, end


def as_run(rule: Rule, expanded: Expanded) -> Rule:
    update: dict[str, Any] = {
        "match": expanded.match,
        "condition": expanded.condition,
        "exceptions": [],
    }
    if rule.window is not None and rule.window.value is not None:
        update["window"] = rule.window.model_copy(update={"value": expanded.value})
    if rule.sequence is not None:
        steps = [
            step.model_copy(update={"match": match})
            for step, match in zip(rule.sequence.steps, expanded.steps, strict=True)
        ]
        update["sequence"] = rule.sequence.model_copy(update={"steps": steps})
    if rule.unfinished is not None:
        start, end = expanded.steps
        update["unfinished"] = rule.unfinished.model_copy(update={"start": start, "end": end})
    return rule.model_copy(update=update)


def _text_or(node: Any, key: str | int, default: str) -> str | None:
    if isinstance(node, CommentedMap):
        value = node.get(key, default)
    else:
        value = node[key] if isinstance(node, CommentedSeq) else default
    return value if isinstance(value, str) else None


class RuleChecker:
    """Checks and expands the expressions of one rule node, collecting errors."""

    def __init__(
        self,
        source: RuleSource,
        rule_id: str | None,
        definitions: Definitions,
        errors: list[RuleError],
        kind: Kind = "rule",
    ) -> None:
        self.source = source
        self.rule_id = rule_id
        self.definitions = definitions
        self.errors = errors
        self.kind: Kind = kind
        self.failed = False

    def expression(
        self, parent: Any, key: str | int, default: str, scope: Scope, label: str
    ) -> tuple[str, Node] | None:
        """The text of ``parent[key]`` and its expanded tree, or None (errors recorded)."""
        text = _text_or(parent, key, default)
        if text is None:
            self.failed = True  # not a string: reported by validation
            return None
        resolved = resolve(text, scope, self.definitions)
        for problem in resolved.errors:
            self.errors.append(
                self.source.expression_error(parent, key, self.rule_id, label, problem, self.kind)
            )
        if resolved.tree is None:
            self.failed = True
            return None
        return text, resolved.tree

    def field_path(self, parent: CommentedMap, key: Any, scope: Scope, label: str) -> bool:
        path = str(key)
        try:
            tree = parse(path)
        except ExpressionError:
            tree = None
        if not (isinstance(tree, Field) and tree.path == path):
            message = f"{label}: '{path}' is not a field path (write e.g. host or labels.state)"
        elif scope.knows(path):
            return True
        else:
            hint = did_you_mean(path, sorted(scope.fields))
            message = f"{label}: unknown field '{path}' for {scope.label}{hint}"
        pos = key_pos(parent, key)
        self.errors.append(self.source.error(pos, self.rule_id, message, self.kind))
        self.failed = True
        return False


def check_expressions(
    source: RuleSource,
    node: CommentedMap,
    rule_id: str | None,
    definitions: Definitions,
    errors: list[RuleError],
) -> Expanded | None:
    """Parse every expression of a rule, check the names it uses and expand its macros
    (from the raw YAML, so these errors are reported even when other fields of the rule
    are wrong). None when something is wrong."""
    source_name = node.get("source")
    if not isinstance(source_name, str) or source_name not in SOURCE_FIELDS:
        return None  # reported by validation (a list or mapping is not even hashable)
    check = RuleChecker(source, rule_id, definitions, errors)
    records = record_scope(source_name)
    items = node.get("group_by")
    group_by = []
    for index, name in enumerate(items if isinstance(items, CommentedSeq) else []):
        if not isinstance(name, str):
            continue  # reported by validation
        group_by.append(name)
        if not records.knows(name) and node.get("type") != "sequence":  # a join key's name
            hint = did_you_mean(name, sorted(records.fields))
            message = f"group_by: unknown field '{name}' for {records.label}{hint}"
            errors.append(source.error(key_pos(items, index), rule_id, message))
            check.failed = True
    match = check.expression(node, "match", "true", records, "match")
    window = node.get("window")
    value = None
    if isinstance(window, CommentedMap):
        value_default = default_window_value(source_name)
        value = check.expression(window, "value", value_default, records, "window.value")
        condition_scope = window_scope(group_by)
    elif window is None:
        condition_scope = records
    else:
        return None  # not a mapping: reported by validation
    condition = check.expression(node, "condition", "true", condition_scope, "condition")
    exceptions = _exceptions(check, node, records)
    steps = _check_type_settings(check, node, records, group_by)
    if check.failed or match is None or condition is None or exceptions is None or steps is None:
        return None
    match_text = rendered(*match)
    if exceptions:
        match_text = _with_exceptions(match[1], exceptions)
        try:
            parse(match_text)
        except ExpressionError as exc:
            errors.append(
                source.error(key_pos(node, "exceptions"), rule_id, f"exceptions: {exc.message}")
            )
            return None
    return Expanded(match_text, rendered(*condition), rendered(*value) if value else None, steps)


# --- rule types' settings --------------------------------------------------------------


def _check_type_settings(
    check: RuleChecker, node: CommentedMap, records: Scope, group_by: list[str]
) -> tuple[str, ...] | None:
    """The field paths in a rule type's settings, and the expressions in them, checked
    and expanded (as run): a sequence's steps' match against each step's source, an
    unfinished rule's start and end. None when wrong; a missing or misshapen block is
    reported by validation."""
    rule_type = node.get("type")
    block = node.get(rule_type) if isinstance(rule_type, str) else None
    if not isinstance(block, CommentedMap):
        return ()
    if rule_type in ("change", "cardinality") and "field" in block:
        _field_path_value(check, block, "field", records, f"{rule_type}.field")
    elif rule_type == "new_term" and isinstance(block.get("fields"), CommentedSeq):
        for index in range(len(block["fields"])):
            _field_path_value(check, block["fields"], index, records, "new_term.fields")
    elif rule_type == "sequence" and isinstance(block.get("steps"), CommentedSeq):
        return _check_steps(check, block["steps"], group_by)
    elif rule_type == "unfinished":
        found = [
            check.expression(block, key, "true", records, f"unfinished.{key}")
            for key in ("start", "end")
        ]
        return tuple(rendered(*f) for f in found if f is not None)
    return ()


def _field_path_value(
    check: RuleChecker, parent: Any, key: str | int, scope: Scope, label: str
) -> bool:
    """``parent[key]`` names a field of ``scope``; else an error at the value."""
    path = parent[key]
    if not isinstance(path, str):
        return False  # reported by validation
    try:
        tree = parse(path)
    except ExpressionError:
        tree = None
    if not (isinstance(tree, Field) and tree.path == path.strip()):
        message = f"{label}: '{path}' is not a field path (write e.g. host or labels.state)"
    elif scope.knows(tree.path):
        return True
    else:
        hint = did_you_mean(tree.path, sorted(scope.fields))
        message = f"{label}: unknown field '{tree.path}' for {scope.label}{hint}"
    check.errors.append(check.source.error(value_pos(parent, key), check.rule_id, message))
    check.failed = True
    return False


def _check_steps(
    check: RuleChecker, steps: CommentedSeq, group_by: list[str]
) -> tuple[str, ...] | None:
    """Each step's match against its source, and where each group_by name (the join
    key) is in its records."""
    matches: list[str] = []
    for index, step in enumerate(steps):
        label = f"sequence step {index + 1}"
        source_name = step.get("source") if isinstance(step, CommentedMap) else None
        if not isinstance(source_name, str) or source_name not in SOURCE_FIELDS:
            check.failed = True  # reported by validation
            continue
        scope = record_scope(source_name)
        found = check.expression(step, "match", "true", scope, f"{label} match")
        if found is not None:
            matches.append(rendered(*found))
        fields = step.get("fields")
        mapping = fields if isinstance(fields, CommentedMap) else CommentedMap()
        for name in mapping:
            if name not in group_by:
                message = f"{label} fields: '{name}' is not one of group_by {group_by}"
                check.errors.append(
                    check.source.error(key_pos(mapping, name), check.rule_id, message)
                )
                check.failed = True
            elif isinstance(mapping[name], str):
                _field_path_value(check, mapping, name, scope, f"{label} fields.{name}")
        for name in group_by:
            if name not in mapping and not scope.knows(name):
                message = (
                    f"{label}: records of source {source_name} have no field '{name}'; "
                    f"say where the join value is: fields: {{{name}: <field>}}"
                )
                check.errors.append(
                    check.source.error(key_pos(step, "source"), check.rule_id, message)
                )
                check.failed = True
    return None if check.failed else tuple(matches)


def _exceptions(check: RuleChecker, node: CommentedMap, records: Scope) -> list[Node] | None:
    items = node.get("exceptions")
    if not isinstance(items, CommentedSeq):
        return []  # absent, or reported by validation
    trees: list[Node] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            found = check.expression(items, index, "true", records, "exceptions")
            if found is not None:
                trees.append(found[1])
        elif isinstance(item, CommentedMap) and not item:
            message = "exceptions: an empty mapping would leave out every record"
            check.errors.append(check.source.error(key_pos(items, index), check.rule_id, message))
            check.failed = True
        elif isinstance(item, CommentedMap):
            paths_ok = [check.field_path(item, key, records, "exceptions") for key in item]
            values_ok = all(_is_values(v) for v in item.values())  # else reported by validation
            if all(paths_ok) and values_ok:
                trees.append(field_values({str(k): v for k, v in item.items()}))
            else:
                check.failed = True
        else:
            check.failed = True  # reported by validation
    return None if check.failed else trees


def _is_values(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, str | int | float | bool) for v in value)
    return isinstance(value, str | int | float | bool)


def rendered(text: str, tree: Node) -> str:
    """``text`` if it says exactly ``tree`` (nothing was expanded), else canonical text."""
    return text if parse(text) == tree else render(tree)


def _with_exceptions(match: Node, exceptions: list[Node]) -> str:
    excluded = Unary("not", balanced("or", exceptions))
    if match == Literal(True):
        return render(excluded)
    return render(Binary("and", match, excluded))
