"""DurableRulesMatcher agrees with CompiledMatcher (our closures, the reference) on every
condition and context: a table, seeded random contexts and seeded random conditions."""

from __future__ import annotations

import itertools
import math
import operator
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from processors.rules.durable_encoding import MAX_ENCODED, encode
from processors.rules.durable_rules_matcher import DurableRulesMatcher
from processors.rules.expressions import Node, parse
from processors.rules.loader import load_rules
from processors.rules.matcher import CompiledMatcher
from tests.processors.rulebook_factory import REPO_RULES

_names = itertools.count()


def make_matchers(
    conditions: Mapping[str, Node],
) -> tuple[DurableRulesMatcher, CompiledMatcher]:
    name = f"test_matcher_{next(_names)}"  # rulesets are process-global: one name each
    return DurableRulesMatcher(conditions, name=name), CompiledMatcher(conditions)


_MISSING = object()  # an override that removes the field


def make_context(**overrides: Any) -> dict[str, Any]:
    """A windowed rule's context: the stats, the group fields, ``value``."""
    context: dict[str, Any] = {
        "value": 0.95,
        "mean": 0.95,
        "count": 150,
        "host": "web-1.prod",
        "service": "checkout",
        "name": "system.cpu.utilization",
        "severity": 17,
        "tags": ["blue", "canary"],
        "labels": {"env": "prod", "state": "used"},
        "values": {"mean": 0.7, "p99": 0.9},
        "body": "timeout after 250 ms",
    }
    context.update(overrides)
    return {k: v for k, v in context.items() if v is not _MISSING}


# Condition → whether durable_rules decides it (False: falls back to our closures).
CONDITIONS: dict[str, bool] = {
    "value > 0.9": True,
    "value >= 1": True,
    "value < 0": True,
    "value <= 0.5": True,
    "value == 1": True,
    "value != 1": True,
    "value == true": True,
    "value != false": True,
    "value > -0.5 and value < 1e3": True,
    "count > 9007199254740992": True,
    "count == 9007199254740993": True,
    "host == 'web-1.prod'": True,
    "host != 'web-1.prod'": True,
    "host < 'm'": True,
    "host >= 'web'": True,
    "host > 5": True,  # a string and a number: never ordered
    "5 < mean": True,
    "host in ['web-1.prod', 'db-1', 3, true, null]": True,
    "host not in ['web-1.prod', 'db-1']": True,
    "value in [0, 1, 2.5]": True,
    "value not in [1]": True,
    "host startswith 'web-'": True,
    "host endswith '.prod'": True,
    "host contains 'b-1'": True,
    "body contains 'a'": True,  # hex 61: not at an odd offset of "\x06\x10" (hex 0610)
    "tags contains 'blue'": True,
    "tags contains 1": True,
    "'web' in host": True,
    "host in 'web-1.prod'": True,
    "'web-1.prod.eu' startswith host": True,
    "'eu.web-1.prod' endswith host": True,
    "not (host startswith 'db')": True,
    "values.mean > 0.5": True,
    "values.p99 >= values.mean": True,
    "labels.env == 'prod' and value > 0.9": True,
    "not (value > 0.9 or host == 'db-1')": True,
    "value > 0.9 and not (host in ['db-1']) or severity >= 17": True,
    "name == 'system.cpu.utilization' and value > 0.9 and host != 'db-1'": True,
    "labels.state in ['used', 'cached'] and not (service startswith 'test-')": True,
    "host != null": True,
    "not (host != null)": True,
    "value": True,
    "not value": True,
    "true": True,
    "false": True,
    "1 < 2": True,
    "not (host contains 'x')": False,
    "'x' not in tags": False,
    "service == host": False,
    "value * 100 > 90": False,
    "-value < 0": False,
    "count % 2 == 0": False,
    "body matches 'time(out)?'": False,
}

CONTEXTS: dict[str, dict[str, Any]] = {
    "typical": make_context(),
    "empty": {},
    "quiet": make_context(value=0.1, host="db-1", severity=9, tags=[]),
    "nulls": make_context(value=None, host=None, tags=None, values=None),
    "bools": make_context(value=True, host=False, count=True),
    "strings": make_context(value="0.95", host="", count="150", tags="blue sky"),
    "ints": make_context(value=1, count=9007199254740993, host=3),
    "float one": make_context(value=1.0, count=9007199254740992.0, severity=17.0),
    "specials": make_context(value=math.nan, mean=math.inf, count=-math.inf, severity=-0.0),
    "escapes": make_context(
        host='wéb-1 "x" \\ \n\t😀.prod', service="web-1\x00.prod", body="\x06\x10"
    ),
    "surrogate": make_context(host="web-\ud800", tags=["\ud800", 1, True, [1], None]),
    "dotted keys": make_context(values=_MISSING, **{"values.mean": 2, "values.p99": 1}),
    "lists": make_context(host=["web-1.prod"], labels=["prod"], value=[1]),
    "prefixes": make_context(host="web-", service="web-1.prod", values={"mean": "a", "p99": "b"}),
    "negative": make_context(value=-2, mean=7, host=7, count=-150),
    "same": make_context(value=False, service="web-1.prod", severity=None),
    "long": make_context(host="w" * (MAX_ENCODED // 2 + 1)),  # too long to post
}


@pytest.fixture(scope="module")
def table() -> tuple[DurableRulesMatcher, CompiledMatcher]:
    return make_matchers({text: parse(text) for text in CONDITIONS})


@pytest.mark.parametrize("text", list(CONDITIONS))
def test_durable_rules_agrees_with_our_closures(
    table: tuple[DurableRulesMatcher, CompiledMatcher], text: str
) -> None:
    durable, compiled = table
    for name, context in CONTEXTS.items():
        expected = compiled.matching([text], context)
        assert durable.matching([text], context) == expected, name


def test_each_condition_is_decided_where_expected(
    table: tuple[DurableRulesMatcher, CompiledMatcher],
) -> None:
    durable, _ = table
    assert durable.translatable == {t for t, exact in CONDITIONS.items() if exact}
    assert durable.fallback == {t for t, exact in CONDITIONS.items() if not exact}
    assert set(durable.fallback_reasons) == durable.fallback


def test_the_table_both_holds_and_fails(table: tuple[DurableRulesMatcher, CompiledMatcher]) -> None:
    """A condition that holds on every context (or on none) would prove little."""
    _, compiled = table
    holds = {t: [bool(compiled.matching([t], c)) for c in CONTEXTS.values()] for t in CONDITIONS}
    always = {t for t, h in holds.items() if all(h) or not any(h)}
    assert always == {"true", "false", "1 < 2"}


def test_one_call_decides_many_rules(table: tuple[DurableRulesMatcher, CompiledMatcher]) -> None:
    durable, compiled = table
    for context in CONTEXTS.values():
        assert durable.matching(list(CONDITIONS), context) == compiled.matching(
            list(CONDITIONS), context
        )


def test_a_value_that_cannot_be_posted_is_decided_by_our_closures(
    table: tuple[DurableRulesMatcher, CompiledMatcher],
) -> None:
    durable, _ = table
    before = durable.direct_evaluations
    assert durable.matching(["host >= 'web'"], CONTEXTS["long"]) == {"host >= 'web'"}
    assert durable.matching(["host != null"], make_context(host=object())) == {"host != null"}
    assert durable.direct_evaluations == before + 2


def test_unknown_rule_ids_are_ignored(table: tuple[DurableRulesMatcher, CompiledMatcher]) -> None:
    durable, compiled = table
    for matcher in (durable, compiled):
        assert matcher.matching(["removed_rule", "true"], {}) == {"true"}


def test_durable_rules_keeps_no_event(table: tuple[DurableRulesMatcher, CompiledMatcher]) -> None:
    durable, _ = table
    for context in CONTEXTS.values():
        durable.matching(list(CONDITIONS), context)
    assert durable.retained() == 0


# --- random contexts and conditions ----------------------------------------------------

FIELDS = ["value", "count", "host", "service", "tags", "values.mean", "values.p99", "labels.env"]
STRINGS = ["", "web", "web-1", "web-1.prod", "db-1", "é", "😀", "a b", "\x00", "w\ud800", '"']
STRINGS += ["a", "\x06\x10"]  # hex 61 sits across the two bytes of hex 0610
NUMBERS: list[Any] = [0, 1, -1, 2, 0.5, -0.5, 1.0, 0.0, -0.0, 0.1, 1e-05, 2.5e300, 2**53]
NUMBERS += [2**53 + 1, float(2**53), -(2**70), math.inf, -math.inf, math.nan, 17, 150]


def random_scalar(rnd: random.Random) -> Any:
    kind = rnd.random()
    if kind < 0.4:
        return rnd.choice(NUMBERS) if rnd.random() < 0.7 else rnd.uniform(-2, 2)
    if kind < 0.8:
        return rnd.choice(STRINGS) + rnd.choice(["", "", ".prod", "-2"])
    return rnd.choice([None, True, False])


def random_value(rnd: random.Random) -> Any:
    if rnd.random() < 0.1:
        return [random_scalar(rnd) for _ in range(rnd.randint(0, 3))]
    if rnd.random() < 0.05:
        return {"mean": random_scalar(rnd)}
    return random_scalar(rnd)


def random_context(rnd: random.Random) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for path in FIELDS:
        if rnd.random() < 0.15:
            continue  # missing
        first, _, rest = path.partition(".")
        if rest and rnd.random() < 0.2:
            context[path] = random_value(rnd)  # a dotted key, found by our getter
        elif rest:
            context.setdefault(first, {})[rest] = random_value(rnd)
        else:
            context[path] = random_value(rnd)
    return context


def test_random_contexts(table: tuple[DurableRulesMatcher, CompiledMatcher]) -> None:
    durable, compiled = table
    rnd = random.Random(20240611)
    rules = list(CONDITIONS)
    for _ in range(3000):
        context = random_context(rnd)
        assert durable.matching(rules, context) == compiled.matching(rules, context), context


def _literal(rnd: random.Random) -> str:
    value = random_scalar(rnd)
    if isinstance(value, float) and not math.isfinite(value):
        value = 0.25
    if value is None or isinstance(value, bool):
        return str(value).lower() if value is not None else "1"
    if isinstance(value, str):
        return (
            '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\u0000") + '"'
        )
    return repr(abs(value)) if value >= 0 else f"-{abs(value)!r}"


def random_condition(rnd: random.Random, depth: int = 0) -> str:
    if depth < 3 and rnd.random() < 0.5:
        if rnd.random() < 0.2:
            return f"not ({random_condition(rnd, depth + 1)})"
        op = rnd.choice(["and", "or"])
        return f"({random_condition(rnd, depth + 1)}) {op} ({random_condition(rnd, depth + 1)})"
    field = rnd.choice(FIELDS)
    shape = rnd.random()
    if shape < 0.5:
        op = rnd.choice(["==", "!=", "<", "<=", ">", ">="])
        return f"{field} {op} {_literal(rnd)}"
    if shape < 0.65:
        items = ", ".join(_literal(rnd) for _ in range(rnd.randint(0, 4)))
        return f"{field} {rnd.choice(['in', 'not in'])} [{items}]"
    if shape < 0.8:
        op = rnd.choice(["startswith", "endswith", "contains"])
        return f"{field} {op} {_literal(rnd)}"
    if shape < 0.9:
        other = rnd.choice(FIELDS)
        return f"{field} {rnd.choice(['<', '<=', '>', '>='])} {other}"
    return rnd.choice([field, f"{field} != null", f"not ({field} != null)"])


def test_random_conditions() -> None:
    rnd = random.Random(7)
    conditions: dict[str, Node] = {}
    while len(conditions) < 300:
        text = random_condition(rnd)
        conditions[text] = parse(text)
    durable, compiled = make_matchers(conditions)
    assert len(durable.translatable) > 250  # only 'not' over 'contains' falls back
    rules = list(conditions)
    for _ in range(300):
        context = random_context(rnd)
        assert durable.matching(rules, context) == compiled.matching(rules, context), context
    assert durable.retained() == 0


# --- the encoding ----------------------------------------------------------------------

COMPARISONS: list[Callable[[Any, Any], bool]] = [operator.lt, operator.eq, operator.gt]


def random_numbers(rnd: random.Random) -> Iterator[int | float]:
    while True:
        kind = rnd.random()
        if kind < 0.3:
            yield rnd.choice([n for n in NUMBERS if not math.isnan(n)])
        elif kind < 0.5:
            yield rnd.randint(-(2**70), 2**70)
        elif kind < 0.7:
            yield math.ldexp(rnd.random(), rnd.randint(-1080, 1023)) * rnd.choice([1, -1])
        else:
            yield float(rnd.randint(-(2**60), 2**60))


def test_numbers_encode_in_numeric_order() -> None:
    rnd = random.Random(3)
    numbers = list(itertools.islice(random_numbers(rnd), 5000))
    for a, b in itertools.pairwise(numbers + [n + 1 for n in numbers[:500]]):
        for compare in COMPARISONS:
            assert compare(encode(a), encode(b)) == compare(a, b), (a, b)
    assert encode(1) == encode(1.0) and encode(0) == encode(-0.0)
    assert encode(2**53 + 1) != encode(float(2**53))


def test_strings_encode_in_code_point_order() -> None:
    rnd = random.Random(4)
    alphabet = 'aé😀\x00\ud800 "\\z\U0010ffff'
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 4))) for _ in range(3000)]
    for a, b in itertools.pairwise(texts):
        for compare in COMPARISONS:
            assert compare(encode(a), encode(b)) == compare(a, b), (a, b)


def test_kinds_never_meet() -> None:
    values: list[Any] = [None, True, False, 0, 1, "", "1", "true", [], [1], {}, math.nan]
    encoded = [encode(v) for v in values]
    assert len(set(encoded)) == len(values) - 2  # [] and {}: empty; [1] and NaN: not


# --- the shipped rules, names ----------------------------------------------------------


def test_the_shipped_conditions_run_in_durable_rules_but_arithmetic() -> None:
    loaded = load_rules([REPO_RULES])
    assert loaded.ok
    conditions = {item.rule.id: parse(item.rule.condition) for item in loaded.rules}
    durable, compiled = make_matchers(conditions)
    # latency_swing's 'max - min > 0.4': durable_rules has no arithmetic on two fields
    assert set(durable.fallback_reasons) == {"latency_swing"}
    assert durable.translatable == set(conditions) - {"latency_swing"}
    rules = list(conditions)
    for value in [None, 0, 1, 0.5, 0.9, 0.9000000000000001, 0.95, 0.96, 100, 101, True, "1"]:
        context = make_context(value=value, max=value, min=0.1)
        assert durable.matching(rules, context) == compiled.matching(rules, context), value


def test_two_matchers_coexist_and_names_are_unique() -> None:
    first, _ = make_matchers({"r": parse("value > 1")})
    second, _ = make_matchers({"r": parse("value < 1")})
    assert first.matching(["r"], {"value": 2}) == {"r"}
    assert second.matching(["r"], {"value": 2}) == set()
    assert second.matching(["r"], {"value": 0}) == {"r"}
    with pytest.raises(ValueError, match="exists"):
        DurableRulesMatcher({"r": parse("true")}, name=first.name)
