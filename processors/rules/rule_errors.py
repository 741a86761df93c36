"""Errors in rule files, each at its line and column: what ``opsrules check`` prints.

    rules/hosts.yaml:12:5: rule host_cpu_saturated: unknown field 'treshold' (did you mean …)
    rules/hosts.yaml:3:14: macro is_prod: unknown field 'hots' (did you mean 'host'?)

A :class:`RuleSource` is one parsed file (its text and its ruamel.yaml tree, which knows
where every key and value starts); it turns pydantic validation errors and expression
errors into :class:`RuleError` at the right place, including inside quoted and
multi-line YAML strings.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from processors.rules.actions import (
    ActionConfig,
    BudgetConfig,
    CircuitBreakerConfig,
    EscalationConfig,
    RealertConfig,
    VerifyConfig,
)
from processors.rules.autoscalers import Autoscaler
from processors.rules.backups import Backup
from processors.rules.canaries import Canary
from processors.rules.expressions import ExpressionError
from processors.rules.generated import AlertOverride
from processors.rules.model import MADE_FROM, Rule, RuleFile
from processors.rules.noise_control import (
    FlappingConfig,
    InhibitRule,
    LabelMaintenanceWindow,
    MaintenanceWindow,
)
from processors.rules.rule_types import (
    TYPE_SETTINGS,
    BehaviorConfig,
    CanaryCheckConfig,
    CanaryStageConfig,
    ScalingPolicyConfig,
    ScalingRulesConfig,
    SequenceStep,
    WindowConfig,
)
from processors.rules.slos import SliConfig, Slo

Kind = Literal[
    "rule", "slo", "backup", "autoscaler", "canary", "macro", "list", "receiver", "route", "probe"
]


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in a rule file. ``line`` and ``col`` are 1-based; ``name`` is the id of
    the rule (or the name of the macro or list, per ``kind``) it is in, when known."""

    path: str
    line: int
    col: int
    name: str | None
    message: str
    kind: Kind = "rule"

    @property
    def rule_id(self) -> str | None:
        return self.name if self.kind == "rule" else None

    def __str__(self) -> str:
        where = f"{self.kind} {self.name}: " if self.name else ""
        return f"{self.path}:{self.line}:{self.col}: {where}{self.message}"


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model's mapping may have, as a file writes them (aliases)."""
    return [f.alias or name for name, f in model.model_fields.items()]


_KEYS_BY_CONTEXT = {
    "file": model_keys(RuleFile),
    "rule": [key for key in model_keys(Rule) if key not in MADE_FROM],
    "window": model_keys(WindowConfig),
    "action": model_keys(ActionConfig),
    # the decision side's mappings, by the key they are written under
    "flapping": model_keys(FlappingConfig),
    "maintenance": model_keys(MaintenanceWindow),
    "maintenance_windows": model_keys(LabelMaintenanceWindow),
    "inhibit_rules": model_keys(InhibitRule),
    "realert": model_keys(RealertConfig),
    "budgets": model_keys(BudgetConfig),
    "circuit_breaker": model_keys(CircuitBreakerConfig),
    "verify": model_keys(VerifyConfig),
    "escalate": model_keys(EscalationConfig),
    # rule types' settings, by the key they are written under
    **{name: model_keys(model) for name, model in TYPE_SETTINGS.items()},
    "steps": model_keys(SequenceStep),
    # an SLO's mappings
    "slos": model_keys(Slo),
    "sli": model_keys(SliConfig),
    "page": model_keys(AlertOverride),
    "ticket": model_keys(AlertOverride),
    # a backup's
    "backups": model_keys(Backup),
    **{alert: model_keys(AlertOverride) for alert in ("failed", "missed", "stuck", "too_small")},
    # an autoscaler's
    "autoscalers": model_keys(Autoscaler),
    "scale": model_keys(AlertOverride),
    "behavior": model_keys(BehaviorConfig),
    "scale_up": model_keys(ScalingRulesConfig),
    "scale_down": model_keys(ScalingRulesConfig),
    "policies": model_keys(ScalingPolicyConfig),
    # a canary's
    "canaries": model_keys(Canary),
    "checks": model_keys(CanaryCheckConfig),
    "rollback": model_keys(AlertOverride),
    "promote": model_keys(AlertOverride),
    "advance": model_keys(AlertOverride),
    "stages": model_keys(CanaryStageConfig),
}
# Sections that compile into rules: how an entry's errors name it.
_SECTION_KINDS: dict[str, Kind] = {
    "slos": "slo",
    "backups": "backup",
    "autoscalers": "autoscaler",
    "canaries": "canary",
}


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(slots=True)
class RuleSource:
    """One rule file: its ``path`` as given, its ``text``, its YAML tree ``data``."""

    path: str
    text: str
    data: Any
    _lines: list[str] = field(default_factory=list)

    # --- positions -------------------------------------------------------------------

    def error(
        self, pos: tuple[int, int], name: str | None, message: str, kind: Kind = "rule"
    ) -> RuleError:
        return RuleError(self.path, pos[0], pos[1], name, message, kind)

    def expression_error(
        self,
        parent: Any,
        key: str | int,
        name: str | None,
        label: str,
        exc: ExpressionError,
        kind: Kind = "rule",
    ) -> RuleError:
        """``exc`` (a column in the expression) at its place in the file: ``parent[key]``
        holds the expression text; ``label`` (if any) prefixes the message (``"match"``)."""
        hint = f" ({exc.hint})" if exc.hint else ""
        prefix = f"{label}: " if label else ""
        pos = self.expression_pos(parent, key, exc.column)
        return self.error(pos, name, f"{prefix}{exc.message}{hint}", kind)

    def expression_pos(self, parent: Any, key: str | int, column: int) -> tuple[int, int]:
        """Where character ``column`` (1-based) of the string ``parent[key]`` is written."""
        start = _value_start(parent, key)
        if start is None:
            return node_pos(parent)
        text = parent[key]
        if not isinstance(text, str):
            return start[0] + 1, start[1] + 1
        style = getattr(text, "style", None)
        # Count characters other than white space: YAML folds lines and unescapes, but
        # those come out in the same order as written.
        wanted = sum(1 for char in text[: column - 1] if not char.isspace())
        total = wanted + sum(1 for char in text[column - 1 :] if not char.isspace())
        if total == 0:
            return start[0] + 1, start[1] + 1
        seen = 0
        for char, line, col in self._scalar_chars(start, style):
            if char.isspace():
                continue
            if seen == wanted:
                return line + 1, col + 1
            seen += 1
            if seen == total:  # the column is past the last character
                return line + 1, col + 2
        return start[0] + 1, start[1] + 1

    def _scalar_chars(
        self, start: tuple[int, int], style: str | None
    ) -> Iterator[tuple[str, int, int]]:
        """The characters a YAML scalar starting at ``start`` (0-based) holds, with where
        each is written; a quoted scalar's escapes give one character at the escape."""
        if not self._lines:
            self._lines = self.text.splitlines() or [""]
        line, col = start
        if style in ("|", ">"):
            line, col = line + 1, 0  # the content starts below the indicator
        elif style in ("'", '"'):
            col += 1
        while line < len(self._lines):
            text = self._lines[line]
            while col < len(text):
                char = text[col]
                if style == "'" and char == "'":
                    if text[col + 1 : col + 2] != "'":
                        return
                    yield "'", line, col
                    col += 2
                    continue
                if style == '"' and char == '"':
                    return
                if style == '"' and char == "\\":
                    escape = text[col + 1 : col + 2]
                    width = {"x": 2, "u": 4, "U": 8}.get(escape, 0)
                    if escape:
                        yield ("x" if escape not in "tn \t" else " "), line, col
                    col += 2 + width
                    continue
                yield char, line, col
                col += 1
            yield "\n", line, col
            line, col = line + 1, 0

    # --- pydantic validation errors ---------------------------------------------------

    def validation_errors(
        self, exc: ValidationError, prefix: Sequence[int | str] = (), rule_id: str | None = None
    ) -> list[RuleError]:
        """One error per problem pydantic found in the node at ``prefix`` of the file
        (``("rules", 3)`` for the fourth rule, whose id is ``rule_id``)."""
        return [
            self._validation_error(
                (*prefix, *error["loc"]),
                error["type"],
                error["msg"],
                rule_id,
                (error.get("ctx") or {}).get("column"),
            )
            for error in exc.errors(include_url=False)
        ]

    def _validation_error(
        self,
        loc: Sequence[int | str],
        error_type: str,
        msg: str,
        rule_id: str | None,
        column: int | None = None,
    ) -> RuleError:
        """``column``: a validator's pointer into the string value (a cron field, a
        matcher's regex), 1-based."""
        in_key = "[key]" in loc
        loc = [p for p in loc if not (isinstance(p, str) and "[" in p)]  # "[key]", unions
        pos, found = locate(self.data, loc)
        if column is not None:
            parent = _node_at(self.data, loc[:-1])
            if parent is not None and loc:
                pos = self.expression_pos(parent, loc[-1], column)
        kind: Kind = "rule"
        name, shown = rule_id, found[1:]  # rules.<n>.window.stat is shown as window.stat
        if loc and loc[0] in ("macros", "lists") and len(loc) > 1:
            kind, name, shown = "macro" if loc[0] == "macros" else "list", str(loc[1]), []
        elif loc and loc[0] in _SECTION_KINDS:
            kind = _SECTION_KINDS[str(loc[0])]
        elif not loc or loc[0] != "rules":
            shown = found
        key = str(loc[-1]) if loc else ""
        if error_type == "extra_forbidden":
            allowed = _KEYS_BY_CONTEXT[_context(loc)]
            hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
            message = f"unknown field '{key}'{hint}"
        elif error_type == "missing":
            message = f"missing required field '{key}'"
        else:
            where = ".".join(str(p) for p in shown) or ("name" if in_key else "")
            text = msg.removeprefix("Value error, ")
            message = f"{where}: {text}" if where else text
        return self.error(pos, name, message, kind)


def node_pos(node: Any) -> tuple[int, int]:
    """1-based line and column where ``node`` starts (1, 1 when unknown)."""
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def key_pos(node: Any, key: str | int) -> tuple[int, int]:
    """Where ``key`` is written in the mapping ``node`` (or the item in a list); where
    ``node`` starts for a key written elsewhere (merged in with ``<<: *anchor``)."""
    if isinstance(node, CommentedMap) and key in node:
        start = _written(node.lc.key, key)
    elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
        start = _written(node.lc.item, key)
    else:
        start = None
    return (start[0] + 1, start[1] + 1) if start else node_pos(node)


def value_pos(node: Any, key: str | int) -> tuple[int, int]:
    start = _value_start(node, key)
    return (start[0] + 1, start[1] + 1) if start else node_pos(node)


def _value_start(parent: Any, key: str | int) -> tuple[int, int] | None:
    if isinstance(parent, CommentedMap) and key in parent:
        return _written(parent.lc.value, key)
    if isinstance(parent, CommentedSeq) and isinstance(key, int) and 0 <= key < len(parent):
        return _written(parent.lc.item, key)
    return None


def _written(position: Any, key: str | int) -> tuple[int, int] | None:
    """``position(key)`` of ruamel.yaml's line/column record (0-based), or None where it
    has none: a key merged in from an anchor was not written in this mapping."""
    try:
        found = position(key)
    except (KeyError, IndexError, TypeError):
        return None
    return (found[0], found[1]) if found is not None else None


def locate(data: Any, loc: Sequence[int | str]) -> tuple[tuple[int, int], list[str]]:
    """Where the deepest YAML node on ``loc`` is written, and the keys of ``loc`` found
    in the YAML (a name pydantic adds that the YAML lacks, such as a union tag, is
    skipped)."""
    node, pos, found = data, node_pos(data), []
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            pos, node = key_pos(node, part), node[part]
            found.append(str(part))
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            pos, node = key_pos(node, part), node[part]
        elif isinstance(part, int) or not isinstance(node, CommentedMap):
            break
    return pos, found


def _node_at(data: Any, loc: Sequence[int | str]) -> Any:
    """The YAML node at ``loc``, or None when the YAML has no such node."""
    node = data
    for part in loc:
        in_map = isinstance(node, CommentedMap) and part in node
        in_list = isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_map or in_list):
            return None
        node = node[part]
    return node


def _context(loc: Sequence[int | str]) -> str:
    """Which kind of mapping the last key of ``loc`` sits in."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    if not parents:
        return "file"
    if parents[-1] == "window":
        return "window"
    if parents[-1] == "actions":
        return "action"
    return parents[-1] if parents[-1] in _KEYS_BY_CONTEXT else "rule"
