"""The expression language of rule files (``match``, ``condition``): parse, check, compile.

    name == "system.cpu.utilization" and value > 0.9 and host != "db-1"
    labels.state in ["used", "cached"] and not (service startswith "test-")
    body matches "timeout after [0-9]+ ms"

Nothing is evaluated as Python: a hand-written tokenizer and a Pratt parser build an
AST of frozen dataclasses, which compiles to nested closures. One module per step, each
with its rules in its docstring:

- :mod:`.tokens`: the tokenizer (names, field paths, numbers, strings, operators);
- :mod:`.parser`: tokens to a tree (``parse``), with what it refuses;
- :mod:`.tree`: the nodes and the operators' precedence;
- :mod:`.evaluation`: a tree compiled to closures (``compile_expr``), and the
  evaluation semantics: it never raises, whatever the record holds;
- :mod:`.references`: the fields a tree reads, checked against a source's;
- :mod:`.canonical_text`: a tree rendered back (``render``);
- :mod:`.errors`: :class:`ExpressionError`, a broken expression at its column.

Production code imports from this package, not from its modules.
"""

from processors.rules.expressions.canonical_text import render
from processors.rules.expressions.errors import ExpressionError
from processors.rules.expressions.evaluation import Evaluator, compile_expr, compile_predicate
from processors.rules.expressions.parser import parse
from processors.rules.expressions.references import check_fields, closest, fields
from processors.rules.expressions.tokens import KEYWORDS
from processors.rules.expressions.tree import Binary, Field, ListLit, Literal, Node, Unary

__all__ = [
    "KEYWORDS",
    "Binary",
    "Evaluator",
    "ExpressionError",
    "Field",
    "ListLit",
    "Literal",
    "Node",
    "Unary",
    "check_fields",
    "closest",
    "compile_expr",
    "compile_predicate",
    "fields",
    "parse",
    "render",
]
