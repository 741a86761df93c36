"""The tree of an expression: its nodes (frozen dataclasses) and its operators' precedence.

Operators, lowest precedence first: ``or``; ``and``; prefix ``not``; the comparisons
``== != < <= > >= in, not in, startswith, endswith, contains, matches`` (not
chainable); ``+ -``; ``* / %``; unary ``-``. :data:`BINDING` holds it, for the parser
and the canonical text alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "AND",
    "ATOM",
    "BINDING",
    "COMPARE",
    "COMPARISONS",
    "NEGATE",
    "NOT",
    "OR",
    "PRODUCT",
    "SUM",
    "Binary",
    "Field",
    "ListLit",
    "Literal",
    "Node",
    "Scalar",
    "Unary",
    "children",
    "start_column",
    "walk",
]

Scalar = None | bool | int | float | str


# --- the nodes -------------------------------------------------------------------------
# ``column`` is where the node starts in the text (for operators: where the operator is);
# it takes no part in equality, so equal trees mean the same expression.


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    value: Scalar
    column: int = 0

    def __eq__(self, other: object) -> bool:  # 1, 1.0 and true are three literals
        return (
            isinstance(other, Literal)
            and type(self.value) is type(other.value)
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Literal, ...]
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Field:
    path: str  # dotted: "attributes.http.status_code"
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" or "-"
    operand: Node
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "and", "==", "not in", "+", …
    left: Node
    right: Node
    column: int = field(default=0, compare=False)


Node = Literal | ListLit | Field | Unary | Binary


# --- the operators ---------------------------------------------------------------------
# How tightly each binds: higher binds tighter. ATOM: a literal, a list or a field.

OR, AND, NOT, COMPARE, SUM, PRODUCT, NEGATE, ATOM = 10, 20, 30, 40, 50, 60, 70, 100
COMPARISONS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
COMPARISONS += ("startswith", "endswith", "contains", "matches")
BINDING = {"or": OR, "and": AND, **dict.fromkeys(COMPARISONS, COMPARE)}
BINDING |= {"+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "%": PRODUCT}


# --- walking a tree --------------------------------------------------------------------


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in children(node):
        yield from walk(child)


def start_column(node: Node) -> int:
    """Where the text of ``node`` starts (a binary node keeps its operator's column)."""
    while isinstance(node, Binary):
        node = node.left
    return node.column
