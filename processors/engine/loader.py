"""Load rule files, collecting **every** error with file, line and column.

YAML is parsed with positions (ruamel.yaml), validated against the models of
:mod:`processors.engine.model` (unknown keys are errors, with "did you mean"), and
every expression is parsed and its fields checked against the record of its source.
A rulebook is returned only when there is no error at all.

    rules/host.yaml:12:5: rule host_cpu_saturated: unknown field 'treshold'
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import orjson
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarstring import ScalarString

from processors.engine.expressions import ExpressionError, check_fields, parse
from processors.engine.model import (
    SOURCE_FIELDS,
    ActionConfig,
    Rule,
    RuleFile,
    Stat,
    WindowConfig,
    default_window_value,
)


@dataclass(frozen=True, slots=True)
class RuleError:
    path: str
    line: int  # 1-based
    col: int  # 1-based
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"rule {self.rule_id}: " if self.rule_id else ""
        return f"{self.path}:{self.line}:{self.col}: {where}{self.message}"


@dataclass(frozen=True, slots=True)
class LoadedRule:
    rule: Rule
    path: str
    line: int
    version: str  # content hash of the rule's definition


@dataclass(slots=True)
class LoadResult:
    rules: list[LoadedRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def rule_version(rule: Rule) -> str:
    canonical = orjson.dumps(rule.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:12]


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


_KEYS_BY_CONTEXT = {
    "file": _keys(RuleFile),
    "rule": _keys(Rule),
    "window": _keys(WindowConfig),
    "action": _keys(ActionConfig),
}


def rule_files(paths: Iterable[Path | str]) -> list[Path]:
    """YAML files under each path (a file or a directory, not recursing into tests/)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        else:
            out.append(path)
    return out


def load_rules(paths: Sequence[Path | str]) -> LoadResult:
    """Load every rule file under ``paths``; collect every error of every file."""
    result = LoadResult()
    seen: dict[str, RuleError] = {}
    for path in rule_files(paths):
        first = len(result.errors)
        _load_file(path, result, seen)
        result.errors[first:] = sorted(result.errors[first:], key=lambda e: (e.line, e.col))
    return result


def _load_file(path: Path, result: LoadResult, seen: dict[str, RuleError]) -> None:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        result.errors.append(RuleError(name, 1, 1, None, f"cannot read: {exc.strerror}"))
        return
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        result.errors.append(RuleError(name, line, col, None, f"YAML syntax: {problem}"))
        return
    if data is None:
        return  # an empty file holds no rules
    if not isinstance(data, CommentedMap):
        result.errors.append(
            RuleError(name, 1, 1, None, "a rule file is a mapping with a 'rules:' list")
        )
        return
    for key in data:
        if key != "rules":
            line, col = data.lc.key(key)
            close = difflib.get_close_matches(str(key), ["rules"], n=1)
            hint = " (did you mean 'rules'?)" if close else " (a rule file holds 'rules:' only)"
            result.errors.append(
                RuleError(name, line + 1, col + 1, None, f"unknown field '{key}'{hint}")
            )
    items = data.get("rules")
    if items is None:
        return
    if not isinstance(items, CommentedSeq):
        line, col = data.lc.value("rules")
        result.errors.append(RuleError(name, line + 1, col + 1, None, "'rules' must be a list"))
        return
    for index, node in enumerate(items):
        before = len(result.errors)
        rule = _validate_rule(name, data, index, node, result.errors)
        if isinstance(node, CommentedMap):
            _check_expressions(name, node, result.errors)
        if rule is None:
            continue
        id_pos = _key_pos(node, "id")
        if rule.id in seen:
            first = seen[rule.id]
            result.errors.append(
                RuleError(
                    name,
                    *id_pos,
                    rule.id,
                    f"duplicate rule id (first defined at {first.path}:{first.line}:{first.col})",
                )
            )
        else:
            seen[rule.id] = RuleError(name, *id_pos, rule.id, "")
        if len(result.errors) == before:
            line, col = _node_pos(node)
            result.rules.append(LoadedRule(rule, name, line, rule_version(rule)))


def _validate_rule(
    path: str, data: Any, index: int, node: Any, errors: list[RuleError]
) -> Rule | None:
    try:
        return Rule.model_validate(node)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            error = {**error, "loc": ("rules", index, *error["loc"])}
            errors.append(_validation_error(path, data, error))
    return None


# --- positions -----------------------------------------------------------------------


def _key_pos(node: Any, key: str) -> tuple[int, int]:
    if isinstance(node, CommentedMap) and key in node:
        line, col = node.lc.key(key)
        return line + 1, col + 1
    return _node_pos(node)


def _node_pos(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def _locate(data: Any, loc: Sequence[int | str]) -> tuple[int, int, Any]:
    """Line/col of the deepest YAML node on ``loc``, and the parent mapping of the last key."""
    node, pos, parent = data, _node_pos(data), data
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.key(part)
            pos, parent, node = (line + 1, col + 1), node, node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
            pos, parent, node = (line + 1, col + 1), node, node[part]
        else:
            break
    return pos[0], pos[1], parent


def _context(loc: Sequence[int | str]) -> str:
    """Which kind of mapping the last key of ``loc`` sits in."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    if not parents:
        return "file"
    if parents[-1] == "window":
        return "window"
    if parents[-1] == "actions":
        return "action"
    return "rule"


def _rule_id_at(data: Any, loc: Sequence[int | str]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules")
        if isinstance(rules, CommentedSeq) and loc[1] < len(rules):
            rule = rules[loc[1]]
            if isinstance(rule, CommentedMap) and isinstance(rule.get("id"), str):
                return str(rule["id"])
    return None


def _validation_error(path: str, data: Any, error: Any) -> RuleError:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]  # drop union tags
    line, col, _ = _locate(data, loc)
    rule_id = _rule_id_at(data, loc)
    key = str(loc[-1]) if loc else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _KEYS_BY_CONTEXT[_context(loc)]
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
        message = f"unknown field '{key}'{hint}"
    elif kind == "missing":
        message = f"missing required field '{key}'"
    else:
        where = ".".join(str(p) for p in loc[2:] if not isinstance(p, int))
        message = f"{where}: {_clean(error['msg'])}" if where else _clean(error["msg"])
    return RuleError(path, line, col, rule_id, message)


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


# --- expressions ---------------------------------------------------------------------


_STATS: tuple[str, ...] = get_args(Stat)


def _text_or(node: Any, key: str, default: str) -> str | None:
    value = node.get(key, default) if isinstance(node, CommentedMap) else default
    return value if isinstance(value, str) else None


def _check_expressions(path: str, node: CommentedMap, errors: list[RuleError]) -> None:
    """Parse every expression of a rule and check the fields it names (from the raw
    YAML, so these errors are reported even when other fields of the rule are wrong)."""
    source = node.get("source")
    if source not in SOURCE_FIELDS:
        return  # reported by validation
    rule_id = node.get("id") if isinstance(node.get("id"), str) else None
    known, open_prefixes = (set(x) for x in SOURCE_FIELDS[source])
    group_by = node.get("group_by")
    group_by = [g for g in group_by if isinstance(g, str)] if isinstance(group_by, list) else []
    window = node.get("window")
    checks: list[tuple[Any, str, str | None, set[str], set[str]]] = [
        (node, "match", _text_or(node, "match", "true"), known, open_prefixes),
    ]
    if isinstance(window, CommentedMap):
        value_text = _text_or(window, "value", default_window_value(source))
        checks.append((window, "value", value_text, known, open_prefixes))
        checks.append(
            (
                node,
                "condition",
                _text_or(node, "condition", "true"),
                {"value", *_STATS, *group_by},
                set(),
            )
        )
    else:
        checks.append(
            (node, "condition", _text_or(node, "condition", "true"), known, open_prefixes)
        )
    for field_name in group_by:
        if field_name not in known and not any(
            field_name.startswith(p + ".") for p in open_prefixes
        ):
            close = difflib.get_close_matches(field_name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            errors.append(
                RuleError(
                    path,
                    *_key_pos(node, "group_by"),
                    rule_id,
                    f"group_by: unknown field '{field_name}' for source {source}{hint}",
                )
            )
    for parent, key, text, fields_known, prefixes in checks:
        if text is None:
            continue  # not a string: reported by validation
        try:
            tree = parse(text)
        except ExpressionError as exc:
            errors.append(_expression_error(path, parent, key, rule_id, exc))
            continue
        for problem in check_fields(tree, fields_known, open_prefixes=prefixes):
            errors.append(_expression_error(path, parent, key, rule_id, problem))


def _expression_error(
    path: str, parent: Any, key: str, rule_id: str | None, exc: ExpressionError
) -> RuleError:
    if isinstance(parent, CommentedMap) and key in parent:
        line, col = parent.lc.value(key)
        value = parent[key]
        quoted = isinstance(value, ScalarString) and getattr(value, "style", None) in ("'", '"')
        block = str(getattr(value, "style", "")) in ("|", ">")
        if block:
            line += 1
        else:
            col += exc.column - 1 + (1 if quoted else 0)
        position = (line + 1, col + 1)
    else:
        position = _node_pos(parent)
    hint = f" ({exc.hint})" if exc.hint else ""
    return RuleError(path, *position, rule_id, f"{key}: {exc.message}{hint}")
