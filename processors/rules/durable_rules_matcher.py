"""Which rules' conditions hold for a context, decided by durable_rules.

This is the only module that imports ``durable``. :class:`DurableRulesMatcher` compiles
each condition (an :mod:`~processors.rules.expressions` tree) into one rule of a
durable_rules ruleset. It answers ``matching`` exactly as
:class:`~processors.rules.matcher.CompiledMatcher` (our closures, the reference
semantics) on every context, which the tests check over tables and random contexts.

durable_rules cannot see a context as it is: it compares mixed types by coercion
(``"a" > 0``, ``1 == true``), a missing field never satisfies ``!=``, its JSON reader
refuses exponents (``1e-05``), strings compare with ``strncmp`` over the raw JSON text,
and values of 64 KiB or more overflow a 16-bit length. So we post an **encoding**: each
field a condition reads is resolved by our own getter (dotted keys and all) and posted
as one ASCII string whose order and equality are exactly ours
(:mod:`~processors.rules.durable_encoding` describes it).

Every referenced field is always posted, so every test is a comparison of two present
strings and ``not`` is exact by flipping operators (De Morgan for ``and``/``or``).
What the encoding cannot carry exactly falls back to our closures, per rule, with the
reason in :attr:`DurableRulesMatcher.fallback_reasons`: arithmetic, ``matches``, ``==``
between two fields, and ``not`` over ``contains``; and per context, a list compared
with anything (an array field: any element decides), which no windowed condition sees
in practice (its fields are stats and group values).

What we rely on in durable_rules 2.0.28 (measured when this module was written): an
event is consumed by the first rule it matches, so we post one event per candidate rule,
with the rule's index in ``r``; an event without ``id`` gets a hash of its text as id,
and ``1`` and ``"1"`` hash alike (``MessageObservedException``), so every event carries
a fresh ``id``; an event no rule matches raises ``MessageNotHandledException`` and is
not kept, and a matched one is released when its action returns (:meth:`retained`).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import durable.engine  # type: ignore[import-untyped]
from durable.lang import item, m, when_all  # type: ignore[import-untyped]

from processors.errors import OpsrulesError
from processors.rules.durable_encoding import (
    ABSENT,
    FALSY,
    MAX_ENCODED,
    NULL,
    NUMBERS,
    OTHERS,
    STRINGS,
    STRINGS_END,
    encode,
    encode_as,
    utf8_hex,
)
from processors.rules.expressions import (
    Binary,
    Evaluator,
    Field,
    ListLit,
    Literal,
    Node,
    Unary,
    compile_expr,
)
from processors.rules.matcher import Context

__all__ = ["DurableRulesError", "DurableRulesMatcher"]


class DurableRulesError(OpsrulesError, RuntimeError):
    """durable_rules refused a ruleset or an event we built: a bug in the translation."""

    def __init__(self, ruleset: str, detail: str, rule_id: str | None = None) -> None:
        self.ruleset = ruleset
        self.rule_id = rule_id
        self.detail = detail
        where = f"ruleset {ruleset!r}" + (f", rule {rule_id!r}" if rule_id else "")
        super().__init__(
            f"durable_rules failed on {where}: {detail}\n"
            "This is a bug in processors/rules/durable_rules_matcher.py; "
            "report it with the rule's condition."
        )


# Limits of durable_rules on what we compile (the encoding's own: MAX_ENCODED).
# Longest ``contains`` string: its regex must fit durable_rules' automaton (measured:
# 500 bytes compile, 1,000 do not).
MAX_CONTAINS_BYTES = 256
MAX_ALTERNATIVES = 256  # ``x in "literal"`` becomes one test per distinct substring
MAX_KEYS = 200  # properties per event (measured: 254 with id and sid are refused)


# --- conditions as formulas over the encoded properties --------------------------------


class _Untranslatable(Exception):
    """A condition durable_rules cannot decide exactly; ``args[0]`` says why."""


@dataclass(frozen=True, slots=True)
class _Test:
    """``key op operand`` on the posted properties. ``op`` is a comparison (``operand``
    an encoded constant, or with ``other`` a second key), ``matches`` (a durable_rules
    regex) or ``has`` (some item of the list property equals ``operand``)."""

    key: str
    op: str
    operand: str
    other: bool = False
    source: str = ""  # our operator, for the reason when it cannot be negated


@dataclass(frozen=True, slots=True)
class _All:
    parts: tuple[_Formula, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    parts: tuple[_Formula, ...]


_Formula = _Test | _All | _Any | bool

_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})


def _all(parts: Iterable[_Formula]) -> _Formula:
    kept: list[_Formula] = []
    for part in parts:
        if part is False:
            return False
        if part is not True:
            kept.extend(part.parts if isinstance(part, _All) else (part,))
    return True if not kept else kept[0] if len(kept) == 1 else _All(tuple(kept))


def _any(parts: Iterable[_Formula]) -> _Formula:
    kept: list[_Formula] = []
    for part in parts:
        if part is True:
            return True
        if part is not False:
            kept.extend(part.parts if isinstance(part, _Any) else (part,))
    return False if not kept else kept[0] if len(kept) == 1 else _Any(tuple(kept))


def _negate(formula: _Formula) -> _Formula:
    """Exact because every referenced property is always present: ``not (a < b)`` is
    ``a >= b`` on two strings."""
    if isinstance(formula, bool):
        return not formula
    if isinstance(formula, _Test):
        if formula.op not in _FLIP:
            raise _Untranslatable(
                f"'not' over '{formula.source}': durable_rules has no negated regex or list test"
            )
        return replace(formula, op=_FLIP[formula.op])
    if isinstance(formula, _All):
        return _any(_negate(part) for part in formula.parts)
    return _all(_negate(part) for part in formula.parts)


def _keys(formula: _Formula) -> set[str]:
    if isinstance(formula, bool):
        return set()
    if isinstance(formula, _Test):
        return {formula.key, formula.operand} if formula.other else {formula.key}
    return set().union(*(_keys(part) for part in formula.parts))


def _constant(node: Literal | ListLit) -> Any:
    return node.value if isinstance(node, Literal) else [i.value for i in node.items]


def _literal(value: Any) -> str:
    encoded = encode(value)
    if encoded is None:
        raise _Untranslatable(f"a literal longer than {MAX_ENCODED} bytes once encoded")
    return encoded


def _in_kind(key: str, kind: str, op: str, bound: str) -> _Formula:
    """``key op bound`` among the values of one kind (``n`` or ``s``)."""
    end = STRINGS_END if kind == STRINGS else OTHERS
    if op in ("<", "<="):
        return _all((_Test(key, ">=", kind), _Test(key, op, bound)))
    return _all((_Test(key, op, bound), _Test(key, "<", end)))


class _Translator:
    """Conditions → formulas; shares one property per field path across all rules:
    ``v<i>`` the encoded value, ``e<i>`` the encoded reversed string (``endswith``),
    ``l<i>`` the encoded items of a list (``contains``)."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # key → (kind, path)

    def key(self, field: Field, kind: str = "v") -> str:
        key = f"{kind}{self.paths.setdefault(field.path, len(self.paths))}"
        self.keys[key] = (kind, field.path)
        return key

    def truth(self, node: Node) -> _Formula:
        """The formula for ``bool(value of node)``."""
        if isinstance(node, Literal | ListLit):
            return bool(_constant(node))
        if isinstance(node, Field):
            key = self.key(node)
            return _all(_Test(key, "!=", falsy) for falsy in FALSY)
        if isinstance(node, Unary):
            if node.op == "not":
                return _negate(self.truth(node.operand))
            raise _Untranslatable(_ARITHMETIC_REASON.format(op="-"))
        if node.op == "and":
            return _all((self.truth(node.left), self.truth(node.right)))
        if node.op == "or":
            return _any((self.truth(node.left), self.truth(node.right)))
        if node.op in _ARITHMETIC:
            raise _Untranslatable(_ARITHMETIC_REASON.format(op=node.op))
        return self.comparison(node)

    def comparison(self, node: Binary) -> _Formula:
        op, left, right = node.op, node.left, node.right
        if op == "matches":
            raise _Untranslatable(
                "'matches': durable_rules regexes are anchored, byte-wise and of their own "
                "dialect, not an RE2 search"
            )
        for side in (left, right):
            if isinstance(side, Unary | Binary):
                if side.op in _ARITHMETIC or side.op == "-":
                    raise _Untranslatable(_ARITHMETIC_REASON.format(op=side.op))
                raise _Untranslatable(f"the value of '{side.op}' compared with '{op}'")
        if isinstance(left, Literal | ListLit) and isinstance(right, Literal | ListLit):
            return bool(compile_expr(node)({}))
        if isinstance(left, Field) and isinstance(right, Field):
            return self.field_vs_field(op, left, right)
        if isinstance(left, Field):
            assert isinstance(right, Literal | ListLit)
            return self.field_op_constant(op, left, _constant(right))
        assert isinstance(right, Field) and isinstance(left, Literal | ListLit)
        return self.constant_op_field(op, _constant(left), right)

    def field_vs_field(self, op: str, left: Field, right: Field) -> _Formula:
        if op not in _MIRROR:
            raise _Untranslatable(
                f"'{op}' between two fields: lists, maps and substrings of two values are "
                "not comparable in durable_rules"
            )
        a, b = self.key(left), self.key(right)
        return _any(
            _all(
                (
                    _Test(a, ">=", kind),
                    _Test(a, "<", end),
                    _Test(b, ">=", kind),
                    _Test(b, "<", end),
                    _Test(a, op, b, other=True),
                )
            )
            for kind, end in ((NUMBERS, OTHERS), (STRINGS, STRINGS_END))
        )

    def field_op_constant(self, op: str, field: Field, constant: Any) -> _Formula:
        key = self.key(field)
        if op in ("==", "!="):
            if isinstance(constant, list):
                raise _Untranslatable(f"'{op}' with a list: lists compare by content")
            if constant is None:  # == null never holds; != null means present
                return False if op == "==" else _Test(key, "!=", NULL)
            return _Test(key, op, _literal(constant))
        if op in _MIRROR:  # ordering needs two numbers or two strings
            if constant.__class__ in (int, float):
                return _in_kind(key, NUMBERS, op, _literal(constant))
            if isinstance(constant, str):
                return _in_kind(key, STRINGS, op, _literal(constant))
            return False
        if op in ("in", "not in"):
            if isinstance(constant, list):
                values: Iterable[Any] = (v for v in constant if v is not None)
            elif isinstance(constant, str):
                values = _substrings(constant)
            else:  # in a number, true or null: never; not in: only a null list fails
                return op == "not in" and constant is not None
            return self.one_of(key, values, negate=op == "not in")
        if op == "contains":
            return self.contains(field, constant)
        if not isinstance(constant, str):  # startswith / endswith
            return False
        if op == "startswith":
            return self.prefix(key, utf8_hex(constant))
        return self.prefix(self.key(field, "e"), utf8_hex(constant[::-1]))

    def constant_op_field(self, op: str, constant: Any, field: Field) -> _Formula:
        if op in ("==", "!=") or op in _MIRROR:
            return self.field_op_constant(_MIRROR.get(op, op), field, constant)
        key = self.key(field)
        if op == "in":  # constant in field: field contains constant
            return False if constant is None else self.contains(field, constant)
        if op == "not in":
            if constant is None:  # null is in nothing: true when the field is present
                return _Test(key, "!=", NULL)
            raise _Untranslatable(
                "'not in' a field: durable_rules has no negated regex or list test"
            )
        if op == "contains":  # field in constant
            return self.field_op_constant("in", field, constant)
        if not isinstance(constant, str):
            return False
        if op == "startswith":  # field is a prefix of constant
            return self.one_of(key, {constant[:n] for n in range(len(constant) + 1)})
        return self.one_of(key, {constant[n:] for n in range(len(constant) + 1)})

    def one_of(self, key: str, values: Iterable[Any], *, negate: bool = False) -> _Formula:
        encoded = sorted({_literal(v) for v in values})
        if len(encoded) > MAX_ALTERNATIVES:
            raise _Untranslatable(f"'in' over more than {MAX_ALTERNATIVES} values")
        if negate:
            return _all(_Test(key, "!=", e) for e in encoded)
        return _any(_Test(key, "==", e) for e in encoded)

    def prefix(self, key: str, hex_prefix: str) -> _Formula:
        """Strings whose hex starts with ``hex_prefix``: ``[s+prefix, s+prefix+"g")``,
        as ``g`` sorts after every hex digit."""
        low = STRINGS + hex_prefix
        if len(low) + 1 > MAX_ENCODED:
            raise _Untranslatable(f"a literal longer than {MAX_ENCODED} bytes once encoded")
        return _all((_Test(key, ">=", low), _Test(key, "<", low + "g")))

    def contains(self, field: Field, constant: Any) -> _Formula:
        """``field contains constant``: a substring of a string, or an item of a list."""
        if constant is None:
            return False
        if isinstance(constant, list):
            raise _Untranslatable("'contains' a list: lists compare by content")
        in_list = _Test(self.key(field, "l"), "has", _literal(constant), source="contains")
        if not isinstance(constant, str):
            return in_list
        if not constant:
            in_string = _in_kind(self.key(field), STRINGS, ">=", STRINGS)
        else:
            size = len(constant.encode("utf-8", "surrogatepass"))
            if size > MAX_CONTAINS_BYTES:
                raise _Untranslatable(
                    f"'contains' a {size}-byte string: durable_rules' regex automaton takes "
                    f"at most {MAX_CONTAINS_BYTES}"
                )
            # Any whole number of bytes (two hex digits each), the needle, anything.
            pattern = f"{STRINGS}([0-9a-f][0-9a-f])*{utf8_hex(constant)}.*"
            in_string = _Test(self.key(field), "matches", pattern, source="contains")
        return _any((in_string, in_list))


_ARITHMETIC_REASON = (
    "arithmetic ('{op}'): durable_rules computes in C longs and doubles (7 / 2 == 3, "
    "an integer division by zero kills the process), only right of a comparison, "
    "and has no '%'"
)


def _substrings(text: str) -> set[str]:
    if len(text) * (len(text) + 1) // 2 > MAX_ALTERNATIVES * 4:
        raise _Untranslatable(f"'in' a string of {len(text)} characters: too many substrings")
    return {text[i:j] for i in range(len(text) + 1) for j in range(i, len(text) + 1)}


# --- durable_rules ---------------------------------------------------------------------


class _Host(durable.engine.Host):  # type: ignore[misc]
    """durable_rules' host without its two timer threads. They poll every ruleset for
    pending actions and run one on their own thread when they poll between our assert
    and our action: ``post`` then returns before the action ran (measured with the stock
    host: 3 matches in 1.5 million posts). We use no timers; actions run inside ``post``."""

    def _run(self) -> None:
        pass


_ENGINE_ERROR: type[Exception] = durable.engine.durable_rules_engine.error  # the C engine's


@functools.cache
def _host() -> Any:
    return _Host()


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _durable(formula: _Formula) -> Any:
    """A durable.lang expression. and/or become flat lists: durable.lang flattens a chain
    ``a | b | c``, and durable_rules refuses a ruleset with an ``$or`` of ``$or`` nested
    a few levels deep (error 113, measured with 30 alternatives as a balanced tree)."""
    assert not isinstance(formula, bool)
    if isinstance(formula, _Test):
        prop = getattr(m, formula.key)
        if formula.op == "matches":
            return prop.matches(formula.operand)
        if formula.op == "has":
            return prop.anyItem(item == formula.operand)
        other = getattr(m, formula.operand) if formula.other else formula.operand
        return _COMPARE[formula.op](prop, other)
    combine = operator.and_ if isinstance(formula, _All) else operator.or_
    return functools.reduce(combine, (_durable(part) for part in formula.parts))


@dataclass(frozen=True, slots=True)
class _Compiled:
    index: str  # the event's ``r``
    keys: tuple[str, ...]  # the properties its event carries
    reference: Evaluator  # for values the encoding cannot carry


class DurableRulesMatcher:
    """Compiles each rule's condition (an expressions tree) into a durable_rules rule.

    ``name`` must be unique in the process: durable_rules registers rulesets globally and
    never forgets one (measured: ~260 KiB each, the matcher included, as the ruleset's
    action is a method of it); a reload builds a new matcher under a new name. Not
    thread-safe: one matcher serves one thread.

    ``translatable``: the rules durable_rules decides. ``fallback``: the rules it cannot
    decide exactly on every input, evaluated with our closures; ``fallback_reasons``
    says why. ``direct_evaluations`` counts (rule, context) pairs of translatable rules
    evaluated with our closures because a value could not be posted (a string over
    ``MAX_ENCODED`` bytes once encoded, a value of no JSON type).
    """

    def __init__(self, conditions: Mapping[str, Node], *, name: str) -> None:
        self.name = name
        self.fallback_reasons: dict[str, str] = {}
        self.direct_evaluations = 0
        self._references = {rule_id: compile_expr(node) for rule_id, node in conditions.items()}
        translator = _Translator()
        self._rules: dict[str, _Compiled] = {}
        definition: dict[str, Any] = {}
        for rule_id, node in conditions.items():
            try:
                formula = translator.truth(node)
                keys = sorted(_keys(formula))
                if len(keys) > MAX_KEYS:
                    raise _Untranslatable(f"{len(keys)} properties: durable_rules takes {MAX_KEYS}")
            except _Untranslatable as exc:
                self.fallback_reasons[rule_id] = exc.args[0]
                continue
            index = str(len(self._rules))
            selector = _Test("r", "==", index)
            if formula is False:  # a rule that never holds still gets its durable rule
                formula = _Test("r", "!=", index)
            formula = _all((selector, formula))
            self._rules[rule_id] = _Compiled(index, tuple(keys), self._references[rule_id])
            definition[f"r_{index}"] = when_all(_durable(formula))(self._record).define()
        self.translatable = frozenset(self._rules)
        self.fallback = frozenset(self.fallback_reasons)
        # Our getters resolve the paths: dotted keys, nested maps, exactly as compile_expr.
        self._getters = {path: compile_expr(Field(path)) for path in translator.paths}
        self._keys = translator.keys
        self._ids = itertools.count()
        self._matched: list[str] = []
        try:
            _host().register_rulesets({name: definition})
        except _ENGINE_ERROR as exc:
            raise DurableRulesError(name, str(exc)) from None
        except Exception as exc:  # durable_rules raises a bare Exception for a taken name
            if "already registered" in str(exc):
                raise ValueError(f"a durable_rules ruleset named {name!r} exists") from None
            raise

    def retained(self) -> int:
        """Events and facts durable_rules holds for this ruleset: 0 between calls, as
        every event either matches (and is consumed) or is refused."""
        host = _host()
        return len(host.get_pending_events(self.name)) + len(host.get_facts(self.name))

    def _record(self, closure: Any) -> None:
        self._matched.append(closure.m.r)

    def matching(self, rule_ids: Sequence[str], context: Context) -> set[str]:
        matched: set[str] = set()
        values: dict[str, Any] = {}  # by path and by key: shared by the candidates
        encoded: dict[str, Any] = {}
        for rule_id in rule_ids:
            rule = self._rules.get(rule_id)
            if rule is None:  # a fallback rule, or none at all
                reference = self._references.get(rule_id)
                holds = reference is not None and bool(reference(context))
            elif (event := self._event(rule, context, values, encoded)) is not None:
                holds = self._post(rule_id, event)
            else:
                self.direct_evaluations += 1
                holds = bool(rule.reference(context))
            if holds:
                matched.add(rule_id)
        return matched

    def _event(
        self, rule: _Compiled, context: Context, values: dict[str, Any], encoded: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The event for ``rule``, or None if a value cannot be posted."""
        event: dict[str, Any] = {"id": next(self._ids), "r": rule.index}
        for key in rule.keys:
            if key not in encoded:
                kind, path = self._keys[key]
                if path not in values:
                    values[path] = self._getters[path](context)
                encoded[key] = encode_as(kind, values[path])
            value = encoded[key]
            if value is None:
                return None
            if value is not ABSENT:
                event[key] = value
        return event

    def _post(self, rule_id: str, event: dict[str, Any]) -> bool:
        matched = self._matched
        matched.clear()
        try:
            _host().post(self.name, event)
        except durable.engine.MessageNotHandledException:
            return False
        except (durable.engine.MessageObservedException, _ENGINE_ERROR) as exc:
            detail = getattr(exc, "message", None) or str(exc)
            raise DurableRulesError(self.name, detail, rule_id) from None
        if matched != [event["r"]]:
            raise DurableRulesError(self.name, f"actions ran for {matched}", rule_id)
        return True
