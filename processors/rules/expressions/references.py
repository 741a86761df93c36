"""The fields an expression reads, and the check of them against the fields a source has
(with "did you mean")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from processors.rules.expressions.errors import ExpressionError
from processors.rules.expressions.tree import Field, Node, walk

__all__ = ["check_fields", "closest", "fields"]


def fields(node: Node) -> set[str]:
    """Every field path the expression reads."""
    return {n.path for n in walk(node) if isinstance(n, Field)}


def check_fields(
    node: Node, known: Iterable[str], *, open_prefixes: Iterable[str] = ()
) -> list[ExpressionError]:
    """One error per reference to a path that is neither in ``known`` nor under one of
    ``open_prefixes`` (free-form maps such as ``labels``: ``labels.<anything>``)."""
    names = sorted(set(known))
    prefixes = tuple(f"{p}." for p in open_prefixes)
    errors: list[ExpressionError] = []
    for ref in sorted((n for n in walk(node) if isinstance(n, Field)), key=lambda f: f.column):
        if ref.path in names or ref.path.startswith(prefixes):
            continue
        close = closest(ref.path, names, open_prefixes)
        hint = f"did you mean '{close}'?" if close else None
        errors.append(ExpressionError(f"unknown field '{ref.path}'", ref.column, hint))
    return errors


def closest(path: str, names: Iterable[str], open_prefixes: Iterable[str] = ()) -> str | None:
    """The name closest to the unknown ``path`` (for "did you mean"), if one is close
    enough. ``lables.cpu`` may mean ``labels.cpu`` when ``labels`` is an open prefix."""
    candidates = list(dict.fromkeys(names))
    _, dot, rest = path.partition(".")
    if dot:
        candidates += [f"{p}.{rest}" for p in open_prefixes]
    close = difflib.get_close_matches(path, candidates, n=1)
    return close[0] if close else None
