"""Load rule files, collecting **every** error with file, line and column.

YAML is parsed with positions (ruamel.yaml) and validated against the models of
:mod:`processors.rules.model` (unknown keys are errors, with "did you mean"). The
macros and lists of every file are collected first (:mod:`processors.rules.macros`),
so a rule may use one defined in any file; then every expression of every rule is
parsed, its names checked against the record of its source, and its macros expanded.
A rulebook is returned only when there is no error at all.

    rules/host.yaml:12:5: rule host_cpu_saturated: unknown field 'treshold'

Disabled rules (``enabled: false``) are loaded and checked like the others; the
compiler leaves them out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from processors.rules.autoscalers import SECTION as AUTOSCALERS
from processors.rules.backups import SECTION as BACKUPS
from processors.rules.canaries import SECTION as CANARIES
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
from processors.rules.generated import Section
from processors.rules.macros import (
    Definitions,
    Scope,
    balanced,
    collect_definitions,
    field_values,
    record_scope,
    resolve,
    window_scope,
)
from processors.rules.model import MADE_FROM, Rule, RuleFile
from processors.rules.policies import Policies, collect_policies
from processors.rules.rule_errors import (
    Kind,
    RuleError,
    RuleSource,
    did_you_mean,
    key_pos,
    node_pos,
    value_pos,
)
from processors.rules.slos import SECTION as SLOS
from processors.rules.templates import (
    ALWAYS,
    rule_templates,
    sample_context,
    template_errors,
    template_scope,
)
from processors.rules.yaml_files import read_yaml

# Sections of a rule file that compile into rules, in the order they are loaded.
SECTIONS: tuple[Section, ...] = (SLOS, BACKUPS, AUTOSCALERS, CANARIES)

__all__ = ["LoadResult", "LoadedRule", "RuleError", "load_rules", "rule_files", "rule_version"]


@dataclass(frozen=True, slots=True)
class LoadedRule:
    """A rule as the engine runs it: macros and lists expanded, and ``exceptions`` folded
    into ``match`` (``match and not (exception or …)``; ``rule.exceptions`` is empty)."""

    rule: Rule
    path: str
    line: int
    version: str  # content hash of the rule as run (a macro it uses is part of it)


@dataclass(slots=True)
class LoadResult:
    rules: list[LoadedRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    policies: Policies = field(default_factory=Policies)  # inhibit_rules, maintenance_windows

    @property
    def ok(self) -> bool:
        return not self.errors


def rule_version(rule: Rule) -> str:
    """A hash of what the rule says; fields left at their defaults are left out, so a
    new optional field in the format does not change every rule's version."""
    fields = rule.model_dump(mode="json", exclude_defaults=True)
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:12]


# Configuration files that may sit beside the rules: opsrules act's receivers and
# opsrules probe's targets (opsrules check checks them with their own loaders).
RECEIVERS_FILES = ("receivers.yaml", "receivers.yml")
PROBES_FILES = ("probes.yaml", "probes.yml")
NOT_RULE_FILES = RECEIVERS_FILES + PROBES_FILES


def rule_files(paths: Iterable[Path | str]) -> list[Path]:
    """YAML files under each path (a file or a directory, not recursing into tests/, and
    leaving out :data:`NOT_RULE_FILES`), each once."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.glob("*.y*ml")
                    if p.suffix in (".yaml", ".yml") and p.name not in NOT_RULE_FILES
                )
            )
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def load_rules(paths: Sequence[Path | str]) -> LoadResult:
    """Load every rule file under ``paths``; collect every error of every file, sorted by
    file (in the order given) and position."""
    result = LoadResult()
    files = rule_files(paths)
    sources = [s for s in (_read(path, result.errors) for path in files) if s is not None]
    definitions, errors = collect_definitions(sources)
    result.errors.extend(errors)
    result.policies = collect_policies(source.data for source in sources)
    seen: dict[str, str] = {}  # rule id -> where it is first defined
    for source in sources:
        _load_rules(source, definitions, result, seen)
        for section in SECTIONS:
            _load_section(source, definitions, result, seen, section)
    order = {str(path): index for index, path in enumerate(files)}
    result.errors.sort(key=lambda e: (order.get(e.path, len(order)), e.line, e.col))
    return result


def _read(path: Path, errors: list[RuleError]) -> RuleSource | None:
    """The file parsed and its top level checked; None when there is nothing more to check."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        errors.append(RuleError(name, 1, 1, None, f"cannot read: {exc.strerror}"))
        return None
    except UnicodeDecodeError as exc:
        errors.append(RuleError(name, 1, 1, None, f"not UTF-8 text (byte {exc.start})"))
        return None
    data = read_yaml(name, text)
    if isinstance(data, RuleError):
        errors.append(data)
        return None
    if data is None:
        return None  # an empty file holds no rules
    source = RuleSource(name, text, data)
    if not isinstance(data, CommentedMap):
        errors.append(source.error((1, 1), None, "a rule file is a mapping with a 'rules:' list"))
        return None
    try:  # the top level, macros and lists; each rule is validated on its own
        entries: dict[str, list[Any]] = {s.key: [] for s in SECTIONS}
        RuleFile.model_validate({**data, "rules": [], **entries})
    except ValidationError as exc:
        errors.extend(source.validation_errors(exc))
    for section in ("rules", *(s.key for s in SECTIONS)):
        items = data.get(section)
        if items is not None and not isinstance(items, CommentedSeq):
            message = f"'{section}' must be a list"
            errors.append(source.error(value_pos(data, section), None, message))
    return source


def _load_rules(
    source: RuleSource, definitions: Definitions, result: LoadResult, seen: dict[str, str]
) -> None:
    items = source.data.get("rules")
    if not isinstance(items, CommentedSeq):
        return
    for index, node in enumerate(items):
        rule_id = _rule_id(node)
        errors: list[RuleError] = []
        try:
            rule: Rule | None = Rule.model_validate(node)
        except ValidationError as exc:
            rule = None
            errors.extend(source.validation_errors(exc, ("rules", index), rule_id))
        expanded = None
        if isinstance(node, CommentedMap):
            expanded = _check_expressions(source, node, rule_id, definitions, errors)
        if rule_id is not None:  # also when the rule has other errors
            id_pos = key_pos(node, "id")
            if rule_id in seen:
                message = f"duplicate rule id (first defined at {seen[rule_id]})"
                errors.append(source.error(id_pos, rule_id, message))
            else:
                seen[rule_id] = f"{source.path}:{id_pos[0]}:{id_pos[1]}"
        if rule is not None and rule.type in MADE_FROM:
            errors.append(source.error(value_pos(node, "type"), rule_id, MADE_FROM[rule.type]))
        if rule is not None and isinstance(node, CommentedMap):
            errors.extend(_template_errors(source, node, rule))
        result.errors.extend(errors)
        if rule is not None and expanded is not None and not errors:
            rule = _as_run(rule, expanded)
            result.rules.append(
                LoadedRule(rule, source.path, node_pos(node)[0], rule_version(rule))
            )


def _load_section(
    source: RuleSource,
    definitions: Definitions,
    result: LoadResult,
    seen: dict[str, str],
    section: Section,
) -> None:
    """Each entry of a section that compiles into rules (``slos:``, ``backups:``, …)
    checked like a rule (its model; its expressions against its source's records; its
    rules' templates) and compiled into its rules (:mod:`processors.rules.generated`),
    placed at the entry."""
    items = source.data.get(section.key)
    if not isinstance(items, CommentedSeq):
        return
    for index, node in enumerate(items):
        entry_id = _rule_id(node)
        errors: list[RuleError] = []
        try:
            entry = section.model.model_validate(node)
        except ValidationError as exc:
            entry = None
            errors.extend(source.validation_errors(exc, (section.key, index), entry_id))
        expanded = None
        if isinstance(node, CommentedMap):
            expanded = _check_entry(source, node, entry_id, definitions, errors, section)
            if entry_id is not None:  # also when the entry has other errors
                id_pos = key_pos(node, "id")
                for suffix in section.suffixes(node):
                    rule_id = f"{entry_id}_{suffix}" if suffix else entry_id
                    if rule_id in seen:
                        message = f"its rule {rule_id} has the id of a rule at {seen[rule_id]}"
                        errors.append(source.error(id_pos, entry_id, message, section.kind))
                    else:
                        seen[rule_id] = f"{source.path}:{id_pos[0]}:{id_pos[1]}"
        if entry is None or expanded is None or errors:
            result.errors.extend(errors)
            continue
        for made in section.rules(entry, expanded):
            rule = Rule.model_validate(made.fields)
            overrides = node.get(made.override) if made.override else None
            errors.extend(_template_errors(source, overrides, rule, section.kind, entry_id, node))
            if not errors:
                result.rules.append(
                    LoadedRule(rule, source.path, node_pos(node)[0], rule_version(rule))
                )
        result.errors.extend(errors)


def _check_entry(
    source: RuleSource,
    node: CommentedMap,
    entry_id: str | None,
    definitions: Definitions,
    errors: list[RuleError],
    section: Section,
) -> dict[tuple[str | int, ...], str] | None:
    """An entry's expressions checked against its source's records and expanded (by
    their path in the entry), and the fields it groups by; None when wrong."""
    source_name = section.source(node)
    if not isinstance(source_name, str) or source_name not in SOURCE_FIELDS:
        return None  # reported by validation
    check = _RuleChecker(source, entry_id, definitions, errors, section.kind)
    records = record_scope(source_name)
    for key in section.group_by:
        items = node.get(key)
        for index, name in enumerate(items if isinstance(items, CommentedSeq) else []):
            if isinstance(name, str) and not records.knows(name):
                hint = did_you_mean(name, sorted(records.fields))
                message = f"{key}: unknown field '{name}' for {records.label}{hint}"
                pos = key_pos(items, index)
                errors.append(source.error(pos, entry_id, message, section.kind))
                check.failed = True
    expanded: dict[tuple[str | int, ...], str] = {}
    for expression in section.expressions(node):
        *parents, last = expression.path
        parent = _at(node, parents)
        if not isinstance(parent, CommentedMap):
            continue  # misshapen: reported by validation
        written = parent.get(last)
        if isinstance(written, int | float) and not isinstance(written, bool):
            expanded[expression.path] = repr(written)  # a number written as one
            continue
        scope = records
        if expression.source is not None:
            if expression.source not in SOURCE_FIELDS:
                continue  # reported by validation
            scope = record_scope(expression.source)
        found = check.expression(parent, str(last), expression.default, scope, expression.label)
        if found is not None:
            expanded[expression.path] = _rendered(*found)
    return None if check.failed else expanded


def _template_errors(
    source: RuleSource,
    node: Any,
    rule: Rule,
    kind: Kind = "rule",
    owner: str | None = None,
    fallback: Any = None,
) -> list[RuleError]:
    """Every template of the rule parsed, its names checked against what the rule's
    actions will see, and rendered on a sample of them: at the template's position in
    ``node`` (the rule's mapping; for an SLO's rule, its ``page`` or ``ticket``, where a
    template it does not write is placed at ``fallback``, the SLO ``owner``)."""
    errors = []
    known = template_scope(rule)
    sample = sample_context(rule)
    for path, text in rule_templates(rule):
        *parents, last = path
        parent = _at(node, parents)
        pos = value_pos(parent, last) if parent is not None else node_pos(fallback)
        label = ".".join(str(p) for p in path)
        for problem in template_errors(text, sample, known):
            hint = ""
            if problem.startswith("template reads unknown field"):
                name = problem.rsplit(" ", 1)[1].strip("'")
                hint = did_you_mean(name, sorted(known)) or (
                    f" (it sees: {', '.join(sorted(known - ALWAYS))})"
                )
            message = f"{label}: {problem}{hint}"
            errors.append(source.error(pos, owner or rule.id, message, kind))
    return errors


def _at(node: Any, path: Sequence[str | int]) -> Any:
    """The YAML node at ``path`` under ``node`` (keys of mappings, indexes of lists), or
    None where the path leaves the tree."""
    for part in path:
        if isinstance(node, CommentedMap):
            node = node.get(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _rule_id(node: Any) -> str | None:
    rule_id = node.get("id") if isinstance(node, CommentedMap) else None
    return rule_id if isinstance(rule_id, str) else None


# --- expressions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Expanded:
    """A rule's expressions as run (canonical text where a macro, list or exception
    changed them, else as written)."""

    match: str
    condition: str
    value: str | None
    steps: tuple[str, ...] = ()  # a sequence's steps' match; an unfinished's start, end


def _as_run(rule: Rule, expanded: _Expanded) -> Rule:
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


class _RuleChecker:
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


def _check_expressions(
    source: RuleSource,
    node: CommentedMap,
    rule_id: str | None,
    definitions: Definitions,
    errors: list[RuleError],
) -> _Expanded | None:
    """Parse every expression of a rule, check the names it uses and expand its macros
    (from the raw YAML, so these errors are reported even when other fields of the rule
    are wrong). None when something is wrong."""
    source_name = node.get("source")
    if not isinstance(source_name, str) or source_name not in SOURCE_FIELDS:
        return None  # reported by validation (a list or mapping is not even hashable)
    check = _RuleChecker(source, rule_id, definitions, errors)
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
    match_text = _rendered(*match)
    if exceptions:
        match_text = _with_exceptions(match[1], exceptions)
        try:
            parse(match_text)
        except ExpressionError as exc:
            errors.append(
                source.error(key_pos(node, "exceptions"), rule_id, f"exceptions: {exc.message}")
            )
            return None
    return _Expanded(match_text, _rendered(*condition), _rendered(*value) if value else None, steps)


# --- rule types' settings --------------------------------------------------------------


def _check_type_settings(
    check: _RuleChecker, node: CommentedMap, records: Scope, group_by: list[str]
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
        return tuple(_rendered(*f) for f in found if f is not None)
    return ()


def _field_path_value(
    check: _RuleChecker, parent: Any, key: str | int, scope: Scope, label: str
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
    check: _RuleChecker, steps: CommentedSeq, group_by: list[str]
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
            matches.append(_rendered(*found))
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


def _exceptions(check: _RuleChecker, node: CommentedMap, records: Scope) -> list[Node] | None:
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


def _rendered(text: str, tree: Node) -> str:
    """``text`` if it says exactly ``tree`` (nothing was expanded), else canonical text."""
    return text if parse(text) == tree else render(tree)


def _with_exceptions(match: Node, exceptions: list[Node]) -> str:
    excluded = Unary("not", balanced("or", exceptions))
    if match == Literal(True):
        return render(excluded)
    return render(Binary("and", match, excluded))
