"""Macros and lists: named expressions and named value lists that every rule file shares.

    macros:
      is_prod: host endswith ".prod"
      cpu_busy: name == "system.cpu.utilization" and is_prod
    lists:
      batch_hosts: [batch-1.prod, batch-2.prod]

A macro is usable wherever an expression is (``match``, ``condition``, a window's
``value``, ``exceptions``) in any file, and may use other macros and lists; a list is
usable after ``in`` / ``not in``. Both are expanded when rules load: the rulebook only
ever sees plain expressions, so a rule's version changes when a macro it uses changes.

Checks, each reported at its place: a name defined twice (in any files), a name that
is a field or a reserved word, a macro that does not parse or names something unknown
to every source, a macro that uses itself (directly or through others), and at each
use, a field the macro names that the rule's source does not have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from ruamel.yaml.comments import CommentedMap

from processors.rules.expressions import (
    KEYWORDS,
    Binary,
    ExpressionError,
    Field,
    ListLit,
    Literal,
    Node,
    Unary,
    closest,
    parse,
)
from processors.rules.fields import SOURCE_FIELDS
from processors.rules.rule_errors import Kind, RuleError, RuleSource, key_pos
from processors.rules.rule_types import Stat

STATS: tuple[str, ...] = get_args(Stat)
# Each macro's expansion is bounded, so that macros using macros twice over cannot
# grow a rule exponentially (a list literal counts as one, whatever its length).
MAX_MACRO_NODES = 10_000


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression may name: ``fields``, any path under ``prefixes`` (free-form
    maps such as ``labels``), and every macro and list; ``label`` says where it is."""

    fields: frozenset[str]
    prefixes: frozenset[str]
    label: str
    note: str | None = None  # what to write instead of a field it does not have

    def knows(self, path: str) -> bool:
        return path in self.fields or any(path.startswith(p + ".") for p in self.prefixes)


def record_scope(source: str) -> Scope:
    """The fields of a record of ``source`` (``match``, window ``value``, exceptions, and
    the ``condition`` of a rule without a window)."""
    fields, prefixes = SOURCE_FIELDS[source]
    return Scope(fields, prefixes, f"source {source}")


def window_scope(group_by: Sequence[str]) -> Scope:
    """What a windowed rule's ``condition`` sees: its stat as ``value``, every stat by
    name, and the ``group_by`` fields."""
    return Scope(
        frozenset({"value", *STATS, *group_by}),
        frozenset(),
        "a window's condition",
        "it sees only value, each stat by name and the group_by fields",
    )


# Any name any expression may use: what a macro may name, and what no macro may be called.
ANY_SCOPE = Scope(
    frozenset({"value", *STATS}.union(*(f | p for f, p in SOURCE_FIELDS.values()))),
    frozenset().union(*(p for _, p in SOURCE_FIELDS.values())),
    "any source",
)


@dataclass(frozen=True, slots=True)
class Definition:
    """A macro or a list as written: ``parent[name]`` in ``source`` holds it."""

    kind: Kind
    name: str
    source: RuleSource
    parent: CommentedMap
    tree: Node  # a macro with its names unexpanded; a list as a list literal

    @property
    def where(self) -> str:
        line, col = key_pos(self.parent, self.name)
        return f"{self.source.path}:{line}:{col}"


@dataclass(slots=True)
class Definitions:
    """Every macro and list of a set of rule files."""

    macros: dict[str, Definition] = field(default_factory=dict)
    lists: dict[str, Definition] = field(default_factory=dict)
    # What a name becomes where it is used: expanded macros and lists.
    expanded: dict[str, Node] = field(default_factory=dict)
    # Macros with an error (reported where they are defined): their uses are not checked.
    broken: set[str] = field(default_factory=set)

    def names(self) -> list[str]:
        return sorted([*self.macros, *self.lists])


@dataclass(frozen=True, slots=True)
class Resolved:
    """An expression checked and expanded: ``tree`` is None when it has ``errors`` or
    uses a broken macro (whose error is reported where the macro is defined)."""

    tree: Node | None
    errors: tuple[ExpressionError, ...] = ()


def collect_definitions(sources: Sequence[RuleSource]) -> tuple[Definitions, list[RuleError]]:
    """The macros and lists of ``sources`` (validated files, in order), checked and
    expanded, and every error found in them."""
    defs, errors = Definitions(), list[RuleError]()
    sections: tuple[tuple[Kind, str], ...] = (("list", "lists"), ("macro", "macros"))
    for source in sources:
        for kind, section in sections:
            parent = source.data.get(section)
            if isinstance(parent, CommentedMap):
                for name, value in parent.items():
                    _add(defs, errors, source, parent, kind, str(name), value)
    for name, definition in defs.macros.items():
        for problem in check_names(definition.tree, ANY_SCOPE, defs, expand=False):
            errors.append(_definition_error(definition, problem))
            defs.broken.add(name)
    errors.extend(_expand(defs))
    return defs, errors


def _add(
    defs: Definitions,
    errors: list[RuleError],
    source: RuleSource,
    parent: CommentedMap,
    kind: Kind,
    name: str,
    value: Any,
) -> None:
    pos = key_pos(parent, name)
    first = defs.macros.get(name) or defs.lists.get(name)
    if first is not None:
        what = "" if first.kind == kind else f" as a {first.kind}"
        message = f"'{name}' is already defined{what} at {first.where}"
        errors.append(source.error(pos, name, message, kind))
        return
    if name in KEYWORDS:
        errors.append(source.error(pos, name, f"'{name}' is a reserved word", kind))
        return
    if ANY_SCOPE.knows(name) or name in ANY_SCOPE.prefixes:
        message = f"'{name}' is a field name; a {kind} may not shadow it, choose another name"
        errors.append(source.error(pos, name, message, kind))
        return
    if kind == "list":
        if isinstance(value, list):  # values are checked by the model
            items = tuple(Literal(v) for v in value if isinstance(v, str | int | float | bool))
            tree: Node = ListLit(items)
            defs.lists[name] = Definition(kind, name, source, parent, tree)
            defs.expanded[name] = tree
        return
    if not isinstance(value, str):
        return  # reported by the model
    try:
        tree = parse(value)
    except ExpressionError as exc:
        errors.append(source.expression_error(parent, name, name, "", exc, "macro"))
        tree = Literal(True)
        defs.broken.add(name)
    defs.macros[name] = Definition(kind, name, source, parent, tree)


def _definition_error(definition: Definition, problem: ExpressionError) -> RuleError:
    return definition.source.expression_error(
        definition.parent, definition.name, definition.name, "", problem, "macro"
    )


def _expand(defs: Definitions) -> list[RuleError]:
    """Expand every macro, those it uses first (depth first, in file order); report each
    cycle once, at the macro it was entered by, where that macro uses the next."""
    errors: list[RuleError] = []
    done: set[str] = set()
    for root in defs.macros:
        if root in done:
            continue
        path: list[str] = [root]
        pending: list[Iterator[str]] = [iter(_uses(defs.macros[root].tree, defs))]
        while path:
            following = next(pending[-1], None)
            if following is None:
                name = path.pop()
                pending.pop()
                done.add(name)
                errors.extend(_expand_one(defs, name))
            elif following in path:
                cycle = [*path[path.index(following) :], following]
                errors.append(_cycle_error(defs, cycle))
                defs.broken.update(cycle)
            elif following not in done:
                path.append(following)
                pending.append(iter(_uses(defs.macros[following].tree, defs)))
    return errors


def _expand_one(defs: Definitions, name: str) -> list[RuleError]:
    definition = defs.macros[name]
    if name in defs.broken:
        return []
    if any(used in defs.broken for used in _uses(definition.tree, defs)):
        defs.broken.add(name)  # the macro it uses has the error
        return []
    try:
        tree = parse(str(definition.parent[name]), defs.expanded)
    except ExpressionError as exc:  # e.g. too deep once expanded
        defs.broken.add(name)
        return [_definition_error(definition, exc)]
    if _size(tree) > MAX_MACRO_NODES:
        defs.broken.add(name)
        problem = ExpressionError(
            f"macro expands to more than {MAX_MACRO_NODES} operators and operands",
            1,
            "a macro that uses another twice doubles it; use a list or split the rule",
        )
        return [_definition_error(definition, problem)]
    defs.expanded[name] = tree
    return []


def _size(tree: Node) -> int:
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, Binary):
            stack += (node.left, node.right)
        elif isinstance(node, Unary):
            stack.append(node.operand)
    return count


def _cycle_error(defs: Definitions, cycle: list[str]) -> RuleError:
    definition = defs.macros[cycle[0]]
    column = next(ref.column for ref, _ in _references(definition.tree) if ref.path == cycle[1])
    problem = ExpressionError(
        f"macro uses itself: {' -> '.join(cycle)}",
        column,
        "a macro may use other macros, but not itself, directly or through others",
    )
    return _definition_error(definition, problem)


def _uses(tree: Node, defs: Definitions) -> list[str]:
    """The macros ``tree`` names directly, in order, each once."""
    names = (ref.path for ref, _ in _references(tree) if ref.path in defs.macros)
    return list(dict.fromkeys(names))


def _references(tree: Node, in_list_position: bool = False) -> Iterator[tuple[Field, bool]]:
    """Every field reference, in text order, and whether it is right of ``in``."""
    if isinstance(tree, Field):
        yield tree, in_list_position
    elif isinstance(tree, Unary):
        yield from _references(tree.operand)
    elif isinstance(tree, Binary):
        yield from _references(tree.left)
        yield from _references(tree.right, tree.op in ("in", "not in"))


def check_names(
    tree: Node, scope: Scope, defs: Definitions, *, expand: bool = True, via: tuple[str, ...] = ()
) -> list[ExpressionError]:
    """One error per name in ``tree`` that ``scope`` does not know and that is not a macro
    or list (used right: a list after ``in``). With ``expand``, each macro used is
    checked against ``scope`` too, its errors placed at the use."""
    errors: list[ExpressionError] = []
    for ref, in_list_position in _references(tree):
        name = ref.path
        if name in defs.macros:
            if expand and name not in defs.broken:
                inner = check_names(defs.macros[name].tree, scope, defs, via=(*via, name))
                errors.extend(ExpressionError(e.message, ref.column, e.hint) for e in inner)
        elif name in defs.lists:
            if not in_list_position:
                errors.append(
                    _in_macro(
                        via,
                        ExpressionError(
                            f"list '{name}' can only follow 'in' or 'not in'",
                            ref.column,
                            f"write e.g. 'host in {name}'",
                        ),
                    )
                )
        elif not scope.knows(name):
            errors.append(_unknown(ref, scope, defs, in_list_position, via))
    return errors


def _unknown(
    ref: Field, scope: Scope, defs: Definitions, in_list_position: bool, via: tuple[str, ...]
) -> ExpressionError:
    if via or ANY_SCOPE.knows(ref.path):  # a field, but not of these records
        close = closest(ref.path, scope.fields, scope.prefixes)
        hint = f"did you mean '{close}'?" if close else scope.note
        message = f"unknown field '{ref.path}' for {scope.label}"
        return _in_macro(via, ExpressionError(message, ref.column, hint))
    dotted = "." in ref.path
    close = None
    if in_list_position and not dotted:  # after 'in', a list is the likelier meaning
        close = closest(ref.path, defs.lists)
    if close is None:
        close = closest(
            ref.path, [*scope.fields, *([] if dotted else defs.names())], scope.prefixes
        )
    kind = "field"
    if close in defs.lists or (close is None and in_list_position and not dotted):
        kind = "list"
    elif close in defs.macros:
        kind = "macro"
    hint = f"did you mean '{close}'?" if close else None
    return ExpressionError(f"unknown {kind} '{ref.path}'", ref.column, hint)


def _in_macro(via: tuple[str, ...], error: ExpressionError) -> ExpressionError:
    if not via:
        return error
    return ExpressionError(f"macro {' -> '.join(via)}: {error.message}", error.column, error.hint)


def resolve(text: str, scope: Scope, defs: Definitions) -> Resolved:
    """``text`` parsed, its names checked against ``scope``, its macros and lists expanded."""
    try:
        raw = parse(text)
    except ExpressionError as exc:
        return Resolved(None, (exc,))
    errors = check_names(raw, scope, defs)
    if errors:
        return Resolved(None, tuple(errors))
    if any(ref.path in defs.broken for ref, _ in _references(raw)):
        return Resolved(None)
    try:
        return Resolved(parse(text, defs.expanded))
    except ExpressionError as exc:  # e.g. too deep once expanded
        return Resolved(None, (exc,))


def field_values(mapping: Mapping[str, Any]) -> Node:
    """An exception written as field -> value(s): every field equals its value or is in its
    list of values."""
    tests: list[Node] = []
    for path, values in mapping.items():
        if isinstance(values, list):
            tests.append(Binary("in", Field(path), ListLit(tuple(Literal(v) for v in values))))
        else:
            tests.append(Binary("==", Field(path), Literal(values)))
    return balanced("and", tests)


def balanced(op: str, nodes: Sequence[Node]) -> Node:
    """``nodes`` (one or more) joined with ``op`` as a balanced tree (long allow-lists
    stay shallow)."""
    assert nodes, "nothing to join"
    if len(nodes) == 1:
        return nodes[0]
    half = len(nodes) // 2
    return Binary(op, balanced(op, nodes[:half]), balanced(op, nodes[half:]))
