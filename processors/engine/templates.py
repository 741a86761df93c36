"""Annotation templates: ``"CPU {{ value }} on {{ host }}"``.

A sandbox by construction: a placeholder is a field path looked up in a mapping, never
code. A missing value renders as ``<no host>`` instead of failing; numbers render with
up to four significant digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def lookup(context: Mapping[str, Any], path: str) -> Any:
    if path in context:
        return context[path]
    node: Any = context
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_template(template: str, context: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = lookup(context, match.group(1))
        return f"<no {match.group(1)}>" if value is None else _show(value)

    return _PLACEHOLDER.sub(replace, template)
