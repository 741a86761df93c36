"""Rule files and rule-test files as YAML trees with positions (ruamel.yaml), bounded
against hostile YAML before the tree is built:

- nesting: at most :data:`MAX_DEPTH` levels of mappings and lists, aliases included
  (ruamel's composer recurses, and failed with RecursionError near 200 levels);
- aliases: at most :data:`MAX_ALIAS_VALUES` values added by them (a "billion laughs":
  nine anchors of nine aliases of the one before stand for 387 million strings in a
  1 KiB file, and pydantic and ``rule_version`` walked every one of them);
- an alias inside its own anchor (``&a [*a]``), which stands for no finite value;
- tags beyond strings, numbers, booleans, null, lists and mappings (``!!binary``,
  ``!!set``, ``!custom``): rules and their tests are JSON-like data, and such values
  failed when a rule was hashed or a record sent;
- text that is not Unicode (lone surrogates, ``"\\ud800"``) and integers beyond 64
  bits: neither can be written as JSON (by orjson) when a rule is hashed, an action
  sent or a test record decoded; and integers longer than Python converts (4,300
  digits), which ruamel.yaml's int() raised ValueError on.

A first pass over the parser's events (no tree; the parser is not recursive) measures
all of this and says where the first problem is, so the tree is only built when it is
safe; then every YAML syntax error comes with its line and column too.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError

from processors.rules.rule_errors import RuleError

MAX_DEPTH = 64  # the rule format needs about 10
MAX_ALIAS_VALUES = 100_000  # values aliases may add to a file, beyond those written

_PLAIN_INT = re.compile(r"[-+]?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|[0-9][0-9_]*)")
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)


def read_yaml(path: str, text: str) -> Any | RuleError:
    """The YAML tree of ``text`` (the file at ``path``), or the first reason not to
    build it: a syntax error or a bound passed, at its line and column."""
    try:
        problem = _bounds_problem(path, text)
        if problem is not None:
            return problem
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True  # positions inside quoted strings need the style
        return yaml.load(text)
    except YAMLError as exc:
        return yaml_error(path, text, exc)


@dataclass(slots=True)
class _Open:
    """A mapping or list being read: values in it so far (aliases expanded, itself
    included), the height of its tallest child, and its anchor."""

    values: int
    height: int
    anchor: str | None


def _bounds_problem(path: str, text: str) -> RuleError | None:
    """The first bound ``text`` passes, at its place; None when it is within them all."""
    stack: list[_Open] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of its node
    added = 0  # values that aliases stand for
    for event in YAML(typ="rt").parse(text):
        problem: str | None = None
        if isinstance(event, ScalarEvent | CollectionStartEvent):
            problem = _tag_problem(event.tag)
        if problem is None and isinstance(event, CollectionStartEvent):
            stack.append(_Open(1, 0, event.anchor))
            if len(stack) > MAX_DEPTH:
                problem = f"nested more than {MAX_DEPTH} levels deep; flatten it"
        elif problem is None and isinstance(event, ScalarEvent):
            problem = _scalar_problem(event.value, plain=not event.style)
            values, height, anchor = 1, 0, event.anchor
        elif isinstance(event, CollectionEndEvent):
            node = stack.pop()
            values, height, anchor = node.values, node.height + 1, node.anchor
        elif isinstance(event, AliasEvent):
            values, height = anchors.get(event.anchor, (1, 0))  # undefined: the parser says
            added += values
            problem = _alias_problem(event.anchor, stack, added, height)
            anchor = None
        if problem is not None:
            mark = event.start_mark
            return RuleError(path, mark.line + 1, mark.column + 1, None, problem)
        if not isinstance(event, ScalarEvent | CollectionEndEvent | AliasEvent):
            continue  # a collection opens, or a stream or document starts or ends
        if anchor is not None:
            anchors[anchor] = (values, height)
        if stack:
            stack[-1].values += values
            stack[-1].height = max(stack[-1].height, height)
    return None


def _tag_problem(tag: Any) -> str | None:
    if tag is None or str(tag) in _CORE_TAGS:
        return None
    shown = str(tag).replace("tag:yaml.org,2002:", "!!")
    return (
        f"tag {shown}: only strings, numbers, true/false, null, lists and mappings are "
        "allowed here; remove the tag"
    )


def _alias_problem(name: str, stack: list[_Open], added: int, height: int) -> str | None:
    """``added``: the values every alias so far stands for; ``height``: the levels of
    this one's anchor."""
    if any(node.anchor == name for node in stack):
        return f"alias *{name} is inside its own anchor: it never ends"
    if added > MAX_ALIAS_VALUES:
        return (
            f"aliases up to *{name} stand for more than {MAX_ALIAS_VALUES} values "
            "(a 'billion laughs'?); write the values out"
        )
    if len(stack) + height > MAX_DEPTH:
        return f"alias *{name} nests the file more than {MAX_DEPTH} levels deep"
    return None


def _scalar_problem(text: str, *, plain: bool) -> str | None:
    """What is wrong with a scalar (a key or a value) as JSON-like data, if anything;
    ``plain``: written without quotes, so YAML may read it as a number."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"U+{ord(text[exc.start]):04X} is half of a surrogate pair, not text"
    if not plain or not _PLAIN_INT.fullmatch(text):
        return None
    digits = text.lstrip("+-").replace("_", "")
    limit = sys.get_int_max_str_digits()
    if limit and len(digits) > limit:
        return f"an integer of {len(digits)} digits; quote it if it is text"
    base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
    body = digits if base == 10 else digits[2:]
    number = int(body, base) if body else 0  # "0x_" has no digits
    if not -(2**63) <= (-number if text.startswith("-") else number) < 2**64:
        return "an integer beyond 64 bits; quote it if it is text"
    return None


def yaml_error(path: str, text: str, exc: YAMLError) -> RuleError:
    """ruamel.yaml's error as a :class:`RuleError` at its line and column."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return RuleError(path, line, col, None, f"YAML syntax: {problem}")
    if isinstance(exc, ReaderError):  # a character YAML does not allow
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = exc.character
        code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        message = f"YAML syntax: unacceptable character {code}: {exc.reason}"
        return RuleError(path, line, col, None, message)
    return RuleError(path, 1, 1, None, f"YAML syntax: {exc}")
