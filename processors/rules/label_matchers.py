"""Label matchers, Alertmanager's: ``host=web-1``, ``env!="prod"``, ``job=~"api|web"``,
``instance!~"db-.*"``.

Silences, inhibition rules and maintenance windows select alerts by their **labels**:
``alertname`` (the rule id), ``severity``, the rule's ``labels`` and the alert's
``group_by`` values (see :func:`alert_labels`). A missing label matches as the empty
string, as in Alertmanager, so ``env!=prod`` matches an alert without ``env``. Regular
expressions are RE2 (linear time) and anchored: ``=~"web"`` matches ``web`` only, not
``web-1``; write ``=~"web.*"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import re2  # type: ignore[import-untyped]

from processors.errors import OpsrulesError

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>=~|!~|!=|=)\s*
    (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^"\s]*))\s*$""",
    re.VERBOSE,
)


class MatcherError(OpsrulesError, ValueError):
    """A matcher that does not parse; ``column`` (1-based) is where, in its text."""

    def __init__(self, message: str, column: int = 1) -> None:
        self.column = column
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    name: str
    op: Op
    value: str
    pattern: Any = None  # the compiled RE2 pattern of =~ and !~

    def matches(self, labels: Mapping[str, str]) -> bool:
        have = labels.get(self.name, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = self.pattern.fullmatch(have) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{value}"'


@functools.lru_cache(maxsize=4096)
def parse_matcher(text: str) -> LabelMatcher:
    """``name op value``; the value may be double-quoted (``\\"`` and ``\\\\`` escape)."""
    found = _MATCHER.match(text)
    if found is None:
        raise MatcherError(
            f"{text!r} is not a label matcher; write name=value, name!=value, "
            'name=~"regex" or name!~"regex" (e.g. host=web-1)',
            _bad_column(text),
        )
    quoted = found.group("quoted")
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else found.group("bare")
    op: Op = found.group("op")  # type: ignore[assignment]
    pattern = None
    if op in ("=~", "!~"):
        options = re2.Options()
        options.log_errors = False
        options.never_capture = True
        try:
            pattern = re2.compile(value, options)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "invalid"
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            start = found.start("quoted") if quoted is not None else found.start("bare")
            raise MatcherError(f"invalid regular expression: {reason}", start + 1) from None
    return LabelMatcher(found.group("name"), op, value, pattern)


def _bad_column(text: str) -> int:
    """Roughly where a matcher goes wrong: after the name, or at its start."""
    name = re.match(r"\s*[A-Za-z_][A-Za-z0-9_.]*\s*", text)
    return (name.end() if name else len(text) - len(text.lstrip())) + 1


def parse_matchers(texts: Iterable[str]) -> tuple[LabelMatcher, ...]:
    return tuple(parse_matcher(text) for text in texts)


def matches_all(matchers: Iterable[LabelMatcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def alert_labels(
    rule_id: str, severity: str, labels: Mapping[str, str], group: Mapping[str, str]
) -> dict[str, str]:
    """What matchers see of an alert: ``alertname`` (the rule id), ``severity``, the rule's
    labels, then its group_by values (a group value wins over a rule label of the same
    name, as on the action)."""
    return {"alertname": rule_id, "severity": severity, **labels, **group}
