"""The error of the expression language: a broken expression, at its column."""

from __future__ import annotations

from processors.errors import OpsrulesError

__all__ = ["ExpressionError"]


class ExpressionError(OpsrulesError, ValueError):
    """A broken expression: ``message`` at ``column`` (1-based, in the expression text),
    with ``hint`` saying what to write instead when we can tell."""

    def __init__(self, message: str, column: int, hint: str | None = None) -> None:
        self.message = message
        self.column = column
        self.hint = hint
        super().__init__(f"column {column}: {message}" + (f" ({hint})" if hint else ""))
