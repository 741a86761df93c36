"""The canonical text of an expression: its tree rendered back, parentheses only where
needed."""

from __future__ import annotations

from processors.rules.expressions.tree import (
    ATOM,
    BINDING,
    COMPARE,
    NEGATE,
    NOT,
    Binary,
    Field,
    ListLit,
    Literal,
    Node,
    Scalar,
    Unary,
)

__all__ = ["render"]


def render(node: Node) -> str:
    """Canonical text: one space around binary operators, parentheses only where needed,
    strings in double quotes. ``parse(render(n)) == n``. Stable: rule versions hash it."""
    if isinstance(node, Literal):
        return _render_literal(node.value)
    if isinstance(node, ListLit):
        return "[" + ", ".join(_render_literal(item.value) for item in node.items) + "]"
    if isinstance(node, Field):
        return node.path
    if isinstance(node, Unary):
        if node.op == "not":  # "not (a == b)" reads better than the equal "not a == b"
            operand = render(node.operand)
            return f"not ({operand})" if isinstance(node.operand, Binary) else f"not {operand}"
        operand = render(node.operand)
        return "-" + (operand if isinstance(node.operand, Field) else f"({operand})")
    binding = BINDING[node.op]
    # Left-associative: an equal left operand needs no parentheses, except a comparison
    # (they do not chain); an equal right operand always does.
    left = _render_operand(node.left, binding, parenthesize_equal=binding == COMPARE)
    right = _render_operand(node.right, binding, parenthesize_equal=True)
    return f"{left} {node.op} {right}"


def _binding_of(node: Node) -> int:
    if isinstance(node, Binary):
        return BINDING[node.op]
    if isinstance(node, Unary):
        return NOT if node.op == "not" else NEGATE
    return ATOM


def _render_operand(node: Node, binding: int, *, parenthesize_equal: bool) -> str:
    own = _binding_of(node)
    text = render(node)
    return f"({text})" if own < binding or (own == binding and parenthesize_equal) else text


def _render_literal(value: Scalar) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
