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
from processors.rules.expression_checks import (
    RuleChecker,
    as_run,
    check_expressions,
    rendered,
)
from processors.rules.fields import SOURCE_FIELDS
from processors.rules.generated import Section
from processors.rules.macros import (
    Definitions,
    collect_definitions,
    record_scope,
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
            expanded = check_expressions(source, node, rule_id, definitions, errors)
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
            rule = as_run(rule, expanded)
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
    check = RuleChecker(source, entry_id, definitions, errors, section.kind)
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
            expanded[expression.path] = rendered(*found)
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
