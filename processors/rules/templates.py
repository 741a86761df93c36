"""Templates of annotations and action params: Jinja2 in its immutable sandbox.

    summary: "CPU {{ value | percent }} on {{ host }} ({{ (value * 100) | round(1) }})"

What users write in Alertmanager and Grafana templates works: fields, arithmetic,
comparisons, ``if`` / ``else``, and Jinja's filters (``round``, ``default``, ``upper``,
``join``, …), plus ours (:data:`FILTERS`): ``percent`` (0.9346 → ``93.46%``), ``bytes``
(1536 → ``1.5 KiB``) and ``duration`` (seconds → ``1h2m``). Dotted record fields read
nested or flat keys alike (``{{ event.category }}``, as in expressions). The sandbox
(``ImmutableSandboxedEnvironment``) refuses attribute access to internals and any
mutation, so a template cannot reach code or change a record.

Each ``{{ }}`` shows numbers with up to four significant digits, booleans as
``true`` / ``false``, and a missing field as ``<no host>`` (arithmetic on a missing
field is missing too). Rendering never raises: the engine must send the action even if
a template breaks at run time; ``opsrules check`` renders every template of a rule
against a sample of its fields (:func:`template_errors`), so a broken one is a ``check``
error at its line, not a surprise in an action.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from processors.aggregate import STATS
from processors.rules.fields import SOURCE_FIELDS
from processors.rules.slos import SIGNAL_VALUES as SLO_VALUES

if TYPE_CHECKING:
    from processors.rules.model import Rule

MAX_OUTPUT_CHARS = 4096  # a loop in a template cannot make an action huge


class _Missing(ChainableUndefined):
    """A missing field: renders ``<no name>``; arithmetic on it stays missing."""

    def __str__(self) -> str:
        return f"<no {self._undefined_name}>"

    def _missing(self, *args: Any, **kwargs: Any) -> _Missing:
        return self

    # Jinja's Undefined raises on these; ours stays missing (typeshed: "-> Never").
    __add__ = __radd__ = __sub__ = __rsub__ = _missing  # type: ignore[assignment]
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _missing  # type: ignore[assignment]
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _missing  # type: ignore[assignment]
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = _missing  # type: ignore[assignment]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def percent(value: Any, digits: int = 4) -> Any:
    """A 0–1 ratio as a percentage: 0.93456 → ``93.46%``."""
    if not _is_number(value):
        return value
    return f"{value * 100:.{digits}g}%"


def bytes_iec(value: Any) -> Any:
    """A byte count in IEC units: 1536 → ``1.5 KiB``."""
    if not _is_number(value):
        return value
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.4g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def duration(value: Any) -> Any:
    """Seconds as a duration: 3723 → ``1h2m3s``, 0.25 → ``250ms``."""
    if not _is_number(value) or not math.isfinite(value):
        return value
    if abs(value) < 1:
        return f"{value * 1000:.4g}ms"
    total = round(value)
    sign, total = ("-" if total < 0 else ""), abs(total)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + "".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


FILTERS = {"percent": percent, "bytes": bytes_iec, "duration": duration}

MAX_POWER_BITS = 4096  # ``**`` on integers: a result this large at most
_SURROGATES = re.compile("[\ud800-\udfff]")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ``*`` and ``**`` bounded: ``'x' * 10**9`` allocated
    a gigabyte (in the loader's check, too: Jinja folds constants as it compiles) and
    ``[0] * 10**9`` eight, and ``2 ** 10**9`` computed for minutes."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for items, times in ((left, right), (right, left)):
                sized = isinstance(items, str | list | tuple) and isinstance(times, int)
                if sized and len(items) * times > MAX_OUTPUT_CHARS:
                    raise SecurityError(
                        f"'*' would make more than {MAX_OUTPUT_CHARS} characters or items"
                    )
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * left.bit_length() > MAX_POWER_BITS
        ):
            raise SecurityError(f"'**' would make an integer of more than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=_Missing, finalize=_show, autoescape=False, keep_trailing_newline=True)
_ENV.filters.update(FILTERS)
# No generators of work: ``range`` nested twice is 10^10 steps in the decision tier.
for _name in ("range", "lipsum", "cycler", "joiner"):
    _ENV.globals.pop(_name, None)


@lru_cache(maxsize=4096)
def _compiled(template: str) -> Template | TemplateSyntaxError:
    try:
        return _ENV.from_string(template)
    except TemplateSyntaxError as exc:
        return exc


def nested(context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` with every flat dotted key (``event.category``) also reachable as a
    path (``event`` → ``category``); a key that exists already wins. Mappings on the
    way are copied, never written into. A ``None`` value (the stats of an empty
    window) is missing, so arithmetic on it is missing rather than an error."""
    out = {k: _Missing(name=k) if v is None else v for k, v in context.items()}
    own = {id(out)}
    for key, value in context.items():
        if "." not in key:
            continue
        node: dict[str, Any] = out
        *parents, last = key.split(".")
        for part in parents:
            found = node.get(part, {})
            if not isinstance(found, Mapping):
                break
            child: dict[str, Any] = found if isinstance(found, dict) and id(found) in own else {}
            if id(child) not in own:
                child.update(found)
                own.add(id(child))
            node[part] = child
            node = child
        else:
            node.setdefault(last, value)
    return out


_ONE_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_param(value: Any, context: Mapping[str, Any]) -> Any:
    """An action's param rendered: a string is a template; one that is exactly
    ``{{ name }}`` of a number or a boolean keeps it as one (``replicas: "{{ replicas }}"``
    is the number 6, as an executor needs it); anything else is kept as written."""
    if not isinstance(value, str):
        return value
    one = _ONE_NAME.fullmatch(value)
    if one is not None:
        found = context.get(one.group(1))
        if isinstance(found, int | float | bool):
            return found
    return render_template(value, context)


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """``template`` rendered with ``context``; never raises (see the module docstring)."""
    if "{" not in template:
        return template
    compiled = _compiled(template)
    if isinstance(compiled, TemplateSyntaxError):
        return template
    try:
        text = compiled.render(nested(context))
    except Exception as exc:  # a template that breaks at run time: the action still goes
        return f"{template} <template error: {type(exc).__name__}: {exc}>"
    if not text.isascii():  # "\ud800" in a template's string: not text, nor JSON for orjson
        text = _SURROGATES.sub("\ufffd", text)
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + "…"


def template_fields(template: str) -> set[str]:
    """The top-level names a template reads (none if it does not parse)."""
    compiled = _compiled(template)
    if isinstance(compiled, TemplateSyntaxError):
        return set()
    names: set[str] = meta.find_undeclared_variables(_ENV.parse(template))
    return names


def template_errors(template: str, sample: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """Why ``template`` would not do what it reads: a syntax error, a field that is not
    in ``known``, or an error rendering it against ``sample``. Empty when fine."""
    compiled = _compiled(template)
    if isinstance(compiled, TemplateSyntaxError):
        return [f"template does not parse: {compiled.message} (line {compiled.lineno})"]
    unknown = sorted(template_fields(template) - known - set(_ENV.globals))
    if unknown:
        return [f"template reads unknown field {name!r}" for name in unknown]
    try:
        compiled.render(nested(sample))
    except Exception as exc:
        return [f"template fails on a sample of the rule's fields: {exc}"]
    return []


def rule_templates(rule: Rule) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every template of a rule, with its path in the rule (for error positions):
    annotations, string params of actions and escalations, escalation summaries."""
    for name, text in rule.annotations.items():
        yield ("annotations", name), text
    for index, action in enumerate(rule.actions):
        for name, value in action.params.items():
            if isinstance(value, str):
                yield ("actions", index, "params", name), value
        if action.verify is not None:
            escalate = action.verify.escalate
            where: tuple[str | int, ...] = ("actions", index, "verify", "escalate")
            for name, value in escalate.params.items():
                if isinstance(value, str):
                    yield (*where, "params", name), value
            if escalate.summary is not None:
                yield (*where, "summary"), escalate.summary


# What a match of each rule type carries beside its group (processors/firehose/typed_rules.py
# builds them; a test holds the two together), and whether the matched record's own
# fields come with it (a match made on a record) or not (a match made when time passes).
MATCH_FIELDS: dict[str, tuple[bool, frozenset[str]]] = {
    "threshold": (True, frozenset()),
    "frequency": (True, frozenset({"count", "first_ts"})),
    "change": (True, frozenset({"previous", "previous_ts"})),
    "new_term": (True, frozenset({"term", "known_terms"})),
    "cardinality": (True, frozenset({"distinct"})),
    "flatline": (False, frozenset({"count", "last_ts"})),
    "spike": (False, frozenset({"count", "previous_count", "direction", "window_start"})),
    "sequence": (False, frozenset({"steps", "first_ts", "span_s", "completed_by"})),
    "unfinished": (False, frozenset({"started", "ended", "running_s"})),
    "autoscale": (
        False,
        frozenset({"target", "replicas", "current", "metric", "target_value"})
        | {"proposed", "stabilized", "reason"},
    ),
    "canary": (
        False,
        frozenset({"target", "version", "previous_version", "strategy", "command", "reason"})
        | {"failed_intervals", "judged_intervals", "stage", "weight"},
    ),
    "slo": (False, SLO_VALUES | {"value", "slo", "objective"}),
}
_NUMERIC = frozenset(
    {*STATS, *SLO_VALUES, "value", "objective", "distinct", "known_terms", "previous_count"}
    | {"span_s", "running_s", "replicas", "current", "metric", "target_value", "proposed"}
    | {"stabilized", "failed_intervals", "judged_intervals", "stage", "weight"}
)
# Beside a rule's fields, every template sees these; an escalation's also ``why``.
ALWAYS = frozenset({"rule_id", "severity", "status", "why"})


def template_scope(rule: Rule) -> frozenset[str]:
    """The top-level names a rule's templates may read: a windowed rule's stats,
    ``value`` and group; else its group, the fields its rule type adds (an SLO's: its
    signal's values, ``value``, ``slo``, ``objective``) and, for a match made on a
    record, that record's fields (free-form maps such as ``labels`` by name)."""
    group = {name.split(".")[0] for name in rule.group_by}  # host.name: {{ host.name }}
    if rule.window is not None:
        return frozenset({"value", *STATS, *group}) | ALWAYS
    reads_record, added = MATCH_FIELDS[rule.type]
    names = {*group, *added} | ALWAYS
    if reads_record:
        fields, prefixes = SOURCE_FIELDS[rule.source]
        names |= {f.split(".")[0] for f in fields} | set(prefixes)
    return frozenset(names)


def sample_context(rule: Rule) -> dict[str, Any]:
    """Values of the right kind for the names a rule's templates may read, for
    :func:`template_errors`: numbers for stats and counts, text for the group and the
    alert's own names; a record's fields stay missing (their types vary by record, and
    missing never fails)."""
    sample: dict[str, Any] = {name: 0.5 for name in template_scope(rule) & _NUMERIC}
    sample.update({name: "x" for name in rule.group_by})
    if rule.slo is not None:
        sample["slo"] = rule.slo.slo
    sample.update(rule_id=rule.id, severity=rule.severity, status="firing", why="x")
    return sample
