from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from processors.rules.expressions import (
    Binary,
    ExpressionError,
    Field,
    ListLit,
    Literal,
    Node,
    Unary,
    check_fields,
    compile_expr,
    compile_predicate,
    fields,
    parse,
    render,
)
from processors.rules.expressions import parser as expression_parser


def make_record(**overrides: Any) -> dict[str, Any]:
    """One record with a field of every kind the expressions below read."""
    record: dict[str, Any] = {
        "name": "system.cpu.utilization",
        "value": 0.93,
        "host": "web-1.prod",
        "service": "checkout",
        "count": 150,
        "severity_number": 17,
        "status": "fail",
        "body": "java.lang.OutOfMemoryError: timeout after 250 ms",
        "labels": {"state": "used", "cpu": "0"},
        "event": {"category": "authentication", "outcome": "failure"},
        "attributes": {"http.status_code": 500, "tags": ["a", "b"]},
        "tags": ["prod", "eu"],
        "ok": True,
        "zero": 0,
        "empty": "",
        "nothing": None,
        "one": 1,
        "count_float": 150.0,
    }
    record.update(overrides)
    return record


def explicit(node: Node) -> str:
    """Fully parenthesised text, to show how the parser grouped an expression."""
    if isinstance(node, Binary):
        return f"({explicit(node.left)} {node.op} {explicit(node.right)})"
    if isinstance(node, Unary):
        return (
            f"({node.op} {explicit(node.operand)})"
            if node.op == "not"
            else f"(-{explicit(node.operand)})"
        )
    return render(node)


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("host", Field("host")),
        ("labels.cpu", Field("labels.cpu")),
        ("attributes.http.status_code", Field("attributes.http.status_code")),
        ("labels.in", Field("labels.in")),  # a keyword may follow a dot
        ("_x9", Field("_x9")),
        ("42", Literal(42)),
        ("0.5", Literal(0.5)),
        ("1e3", Literal(1000.0)),
        ("2.5E-3", Literal(0.0025)),
        ("-1", Literal(-1)),
        ("- 1.5", Literal(-1.5)),
        ("-x", Unary("-", Field("x"))),
        ("-(1)", Unary("-", Literal(1))),
        ("true", Literal(True)),
        ("false", Literal(False)),
        ("null", Literal(None)),
        ('"a"', Literal("a")),
        ("'a'", Literal("a")),
        (r'"q\"\'\\"', Literal("q\"'\\")),
        (r"'tab\t nl\n cr\r'", Literal("tab\t nl\n cr\r")),
        (r'"\u00e9\U0001F600"', Literal("é😀")),
        ('"multi\nline"', Literal("multi\nline")),
        ("[]", ListLit(())),
        ('[1, "a", true, null, -2.5,]', ListLit(tuple(map(Literal, (1, "a", True, None, -2.5))))),
        ("a == 1", Binary("==", Field("a"), Literal(1))),
        ("a not in [1]", Binary("not in", Field("a"), ListLit((Literal(1),)))),
        ("not a", Unary("not", Field("a"))),
        ("((a))", Field("a")),
        ("\t a\n", Field("a")),
    ],
)
def test_parse_builds_the_tree(text: str, tree: Node) -> None:
    assert parse(text) == tree


def test_literals_of_different_types_are_different() -> None:
    one, one_float, true = parse("1"), parse("1.0"), parse("true")
    assert len({one, one_float, true}) == 3
    assert one != one_float and one != true and one_float != true
    assert parse("[1]") != parse("[true]")


def test_nodes_keep_their_columns() -> None:
    tree = parse('value > 0.9 and host != "db-1"')
    assert isinstance(tree, Binary) and tree.column == 13
    assert isinstance(tree.left, Binary) and tree.left.column == 7
    assert (tree.left.left.column, tree.left.right.column) == (1, 9)
    assert isinstance(tree.right, Binary) and tree.right.right.column == 25
    assert parse("  - 3").column == 3


@pytest.mark.parametrize(
    ("text", "grouped"),
    [
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("a or b or c", "((a or b) or c)"),
        ("not a and b", "((not a) and b)"),
        ("not a == b", "(not (a == b))"),
        ("not not a", "(not (not a))"),
        ("a == b and c != d", "((a == b) and (c != d))"),
        ("a + b * c == d", "((a + (b * c)) == d)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b * c % d", "(((a / b) * c) % d)"),
        ("-a * b", "((-a) * b)"),
        ("-2 * a", "(-2 * a)"),
        ("a == -b", "(a == (-b))"),
        ("a - -1", "(a - -1)"),
        ("a not in [1] or b", "((a not in [1]) or b)"),
        ('a in [1, 2] and b contains "x"', '((a in [1, 2]) and (b contains "x"))'),
        ("(a or b) and c", "((a or b) and c)"),
        ("(a == b) == c", "((a == b) == c)"),
        ("a == (not b)", "(a == (not b))"),
        ("x % 2 == 0", "((x % 2) == 0)"),
        ('not (service startswith "test-")', '(not (service startswith "test-"))'),
    ],
)
def test_precedence(text: str, grouped: str) -> None:
    assert explicit(parse(text)) == grouped


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        ("", 1, "empty expression", None),
        ("   ", 1, "empty expression", None),
        ("value >", 8, "expected an operand after '>'", None),
        ("value > 0.9 and", 16, "expected an operand after 'and'", None),
        ("value > 0.9 and   ", 16, "expected an operand after 'and'", None),
        ("a and or b", 7, "expected an operand after 'and', found 'or'", None),
        ("and", 1, "expected an operand, found 'and'", None),
        ("not", 4, "expected an operand after 'not'", None),
        ("()", 2, "expected an operand after '(', found ')'", None),
        ("a ** 2", 4, "expected an operand after '*', found '*'", None),
        ('host == "web', 9, "unterminated string", 'close it with "'),
        ("host == 'web", 9, "unterminated string", "close it with '"),
        ('host == "web\\', 9, "unterminated string", 'close it with "'),
        ("a === 1", 3, "unknown operator '==='", "use '=='"),
        ("a = 1", 3, "unknown operator '='", "use '==' to compare"),
        ("a && b", 3, "unknown operator '&&'", "use 'and'"),
        ("a || b", 3, "unknown operator '||'", "use 'or'"),
        ("!a", 1, "unknown operator '!'", "use 'not'"),
        ("a <> b", 3, "unknown operator '<>'", "use '!='"),
        ("a => 1", 3, "unknown operator '=>'", "use '>='"),
        ("(a == 1", 8, "expected ')' to close '(' at column 1", None),
        ("(a == 1 b", 9, "expected ')' to close '(' at column 1, found 'b'", None),
        ("a == 1)", 7, "unmatched ')'", None),
        ("a == 1 b", 8, "expected an operator, found 'b'", "join conditions with 'and' or 'or'"),
        ("a == b == c", 8, "'==' cannot follow another comparison",
         "join two comparisons with 'and'"),
        ("a < b in c", 7, "'in' cannot follow another comparison",
         "join two comparisons with 'and'"),
        ("a not b", 7, "expected 'in' after 'not', found 'b'", None),
        ("a not", 6, "expected 'in' after 'not', found the end", None),
        ("a == not b", 6, "'not' needs parentheses here", "write '(not …)'"),
        ("body matches x", 14, "the pattern after 'matches' must be a string literal", None),
        ("labels.", 8, "expected a name after '.'", None),
        ("labels..cpu", 8, "expected a name after '.'", None),
        ("in.x == 1", 1, "'in' is a reserved word, not a field name", None),
        ("[1, a]", 5, "expected a literal in the list, found 'a'",
         "list elements are numbers, strings, true, false or null"),
        ("[[1]]", 2, "expected a literal in the list, found '['",
         "list elements are numbers, strings, true, false or null"),
        ("[1, 2", 6, "expected ']' to close '[' at column 1", None),
        ("[1 2]", 4, "expected ',' or ']' in the list opened at column 1, found '2'", None),
        ("1.", 1, "invalid number '1.'", "write e.g. 42, 0.5 or 1e3"),
        ("a > 12abc", 5, "invalid number '12abc'", "write e.g. 42, 0.5 or 1e3"),
        ("1e", 1, "invalid number '1e'", "write e.g. 42, 0.5 or 1e3"),
        ("1e999", 1, "number '1e999' is out of range", None),
        ("9" * 5000, 1, f"number '{'9' * 24}' is out of range", None),
        (r'body matches "\d+"', 15, "unknown escape '\\d' in a string",
         "write '\\\\d' for a backslash followed by 'd'"),
        (r'"\u12"', 2, "expected 4 hex digits after '\\u'", None),
        (r'"\U00110000"', 2, "'\\U00110000' is not a Unicode character", None),
        ("a == #", 6, "unexpected character '#'", None),
        ("a == “x”", 6, "unexpected character '“'", "use straight quotes \" or '"),
        ("x == null", 3, "'==' with null is never true",
         "to test that x is missing write 'not (x != null)'"),
        ("null < x", 6, "'<' with null is never true", None),
        ("x in null", 3, "'in' with null is never true", None),
    ],
)  # fmt: skip
def test_errors_say_where_and_what(text: str, column: int, message: str, hint: str | None) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert (caught.value.column, caught.value.message, caught.value.hint) == (column, message, hint)


def test_error_text_and_tree() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse("a = 1")
    error = caught.value
    assert str(error) == "column 3: unknown operator '=' (use '==' to compare)"
    assert isinstance(error, ValueError)
    assert str(ExpressionError("empty expression", 1)) == "column 1: empty expression"


@pytest.mark.parametrize(
    "text",
    [
        "(" * 150 + "a" + ")" * 150,
        "not " * 150 + "a",
        "-" * 150 + "a",
        " or ".join(["a"] * 150),
        " + ".join(["1"] * 150),
    ],
)
def test_too_deep_is_an_expression_error_not_a_crash(text: str) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse(text)


def test_moderate_depth_is_fine() -> None:
    text = " or ".join(f"host == 'h{i}'" for i in range(60))
    assert compile_predicate(text)({"host": "h59"}) is True


@pytest.mark.parametrize("op", ["!=", "not in"])
def test_null_is_allowed_where_it_can_be_true(op: str) -> None:
    right = "null" if op == "!=" else "[null]"
    assert compile_predicate(f"x {op} {right}")({"x": 1}) is True


# --- evaluation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The examples rule authors write.
        ('name == "system.cpu.utilization"', True),
        ('value > 0.9 and host != "db-1"', True),
        ("severity_number >= 17", True),
        ('status == "fail"', True),
        ('event.category == "authentication" and event.outcome == "failure"', True),
        ('labels.state in ["used", "cached"]', True),
        ('not (service startswith "test-")', True),
        ('body contains "OutOfMemory"', True),
        ('body matches "timeout after [0-9]+ ms"', True),
        ("(value * 100) > 90", True),
        ("count > 100", True),
        ('host endswith ".prod"', True),
        ("attributes.http.status_code >= 500", True),
        # Numbers: int and float compare numerically; literals on either side.
        ("count == 150.0", True),
        ("count != 150.0", False),
        ("severity_number >= 17.5", False),
        ("0.9 < value", True),
        ("150 <= count", True),
        ('"checkout" == service', True),
        ("value == 0.93 and count in [150.0]", True),
        # Both sides read from the record.
        ("count == count_float", True),
        ("count != count_float", False),
        ("ok == one", False),
        ("ok != one", True),
        ("ok == ok", True),
        ("one > ok", False),
        ("value < count", True),
        ("service < host", True),
        ("host < count", False),
        ("status in tags", False),
        ("labels.cpu == labels.cpu", True),
        # Dotted paths against literals.
        ('labels.cpu != "1"', True),
        ("attributes.http.status_code == 500.0", True),
        ("attributes.http.status_code > 499.5", True),
        ('attributes.http.status_code == "500"', False),
        # Strings order among themselves, never against numbers.
        ('host > "a"', True),
        ('host < "a"', False),
        ("host > 1", False),
        ('value < "a"', False),
        ("labels.cpu == 0", False),
        ('labels.cpu == "0"', True),
        # Booleans are not numbers.
        ("ok == true", True),
        ("ok == 1", False),
        ("ok != 1", True),
        ("zero == false", False),
        ("ok > 0", False),
        ("ok in [1]", False),
        ("ok in [true]", True),
        ("zero in [false]", False),
        ("count in [true, '150']", False),
        # Missing and null: comparisons are false, except != against a value.
        ("missing == 1", False),
        ("missing != 1", True),
        ("missing != null", False),
        ("value != null", True),
        ("nothing != null", False),
        ("missing != nothing", False),
        ('missing != "x"', True),
        ('nothing != "x"', True),
        ('"x" != missing', True),
        ("missing == nothing", False),
        ("missing > 1", False),
        ("missing < 1", False),
        ("missing >= missing", False),
        ('missing startswith "a"', False),
        ('missing contains "a"', False),
        ('missing matches "."', False),
        ('missing in ["a"]', False),
        ('missing not in ["a"]', True),
        ('"a" in missing', False),
        ('"a" not in missing', False),
        ("labels.missing == 'x'", False),
        ('host.name == "x"', False),  # host is a string, not a map
        # in / not in / contains.
        ('"eu" in tags', True),
        ('"x" in tags', False),
        ('"x" not in tags', True),
        ('"web" in host', True),
        ("1 in tags", False),
        ("value in []", False),
        ('status not in ["pass", "warn"]', True),
        ('tags contains "eu"', True),
        ('tags contains "e"', False),
        ('attributes.tags contains "a"', True),
        ('count contains "1"', False),
        ("labels contains 'cpu'", False),
        # startswith / endswith.
        ('host startswith "web-"', True),
        ('count startswith "1"', False),
        ("host startswith 1", False),
        # matches: RE2, unanchored search.
        ('body matches "^java"', True),
        ('body matches "^timeout"', False),
        ('body matches "ms$"', True),
        ('body matches "(?i)outofmemory"', True),
        ('count matches "1"', False),
        # Truthiness.
        ("zero or empty", False),
        ("count and body", True),
        ("not missing", True),
        ("not tags", False),
        ("nothing or ok", True),
    ],
)
def test_predicates(text: str, expected: bool) -> None:
    result = compile_predicate(text)(make_record())
    assert result is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2", 3),
        ("count / 4", 37.5),
        ("7 % 3", 1),
        ("-count", -150),
        ("count - 50 * 2", 50),
        ("(count - 50) * 2", 200),
        ("10 - 2 - 3", 5),
        ("8 / 2 / 2", 2.0),
        ("-(-1)", 1),
        ("value * 100", pytest.approx(93.0)),
        ("1 / zero", None),
        ("count % zero", None),
        ("value + host", None),
        ("missing + 1", None),
        ("ok + 1", None),
        ("-ok", None),
        ('-"a"', None),
        ("tags * 2", None),
        ('"a" + "b"', None),
        ("host", "web-1.prod"),
        ("labels.cpu", "0"),
        ("labels", {"state": "used", "cpu": "0"}),
        ("missing", None),
        ('"a"', "a"),
        ("null", None),
        ("true", True),
        ('[1, "a"]', [1, "a"]),
        ("-1.5", -1.5),
        ("count and body", True),
        ("zero or empty", False),
        ("not count", False),
    ],
)
def test_values(text: str, expected: Any) -> None:
    assert compile_expr(parse(text))(make_record()) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"attributes": {"http": {"status_code": 500}}}, 500),
        ({"attributes": {"http.status_code": 501}}, 501),
        ({"attributes.http.status_code": 502}, 502),
        ({"attributes.http": {"status_code": 503}}, 503),
        ({"attributes": {"http": {}}, "attributes.http.status_code": 504}, 504),
        ({"attributes": {"http": None, "http.status_code": 505}}, 505),
        ({"attributes": {"http": "text"}}, None),
        ({"attributes": ["http"]}, None),
        ({"attributes": {}}, None),
        ({}, None),
        (MappingProxyType({"attributes": MappingProxyType({"http": {"status_code": 506}})}), 506),
    ],
)
def test_dotted_paths_resolve_nested_and_dotted_keys(
    record: Mapping[str, Any], expected: Any
) -> None:
    assert compile_expr(parse("attributes.http.status_code"))(record) == expected


ECS = {  # as Filebeat, Elastic Agent and Winlogbeat send it: arrays
    "event": {"category": ["authentication", "iam"], "type": ["start"], "outcome": "failure"},
    "ports": [22, 443],
    "empty": [],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('event.category == "authentication"', True),
        ('event.category == "web"', False),
        ('event.category != "authentication"', False),  # no element may equal it
        ('event.category != "web"', True),
        ('event.category in ["iam", "host"]', True),
        ('event.category not in ["iam"]', False),
        ('event.category not in ["web"]', True),
        ('event.category startswith "auth"', True),
        ('event.category endswith "am"', True),
        ('event.category matches "^i.m$"', True),
        ('event.category matches "^web"', False),
        ('event.category in "authentication failure"', True),  # an element is a substring
        ('event.category contains "iam"', True),  # on a list: membership, as before
        ("ports > 400", True),
        ("ports < 22", False),
        ("ports == 443", True),
        ("ports == 443.0", True),
        ("ports >= 1000", False),
        ('empty == "x"', False),
        ('empty != "x"', True),
        ('event.type == "start" and event.outcome == "failure"', True),
        ('not (event.category == "authentication")', False),
    ],
)
def test_a_comparison_with_an_array_field_holds_when_any_element_does(
    text: str, expected: bool
) -> None:
    assert compile_predicate(text)(ECS) is expected
    flat = {"event.category": ECS["event"]["category"], "ports": ECS["ports"], "empty": []}
    if "event.type" not in text and "outcome" not in text:
        assert compile_predicate(text)(flat) is expected  # dotted keys, the same


def test_falsy_values_are_found_not_missing() -> None:
    get = compile_expr(parse("a.b"))
    assert get({"a": {"b": False}}) is False
    assert get({"a": {"b": 0}}) == 0
    assert compile_predicate("a.b == false")({"a": {"b": False}}) is True


def test_predicates_always_give_booleans() -> None:
    record = make_record()
    for text in ["count", "missing", "body", "tags", "value * 2", "labels", "true", "1 or 0"]:
        assert compile_predicate(text)(record) in (True, False)
        assert type(compile_predicate(text)(record)) is bool


# Every operator with fields on both sides, against records holding every odd thing.
ODD_EXPRESSIONS = [
    "value / count",
    "count % value",
    "value + count - value * count",
    "-value",
    "value * count > 1",
    "value > count",
    "value < 0.5",
    "value >= 'a'",
    "value == count",
    "value != count",
    "value == 1",
    'value == "x"',
    'value != "x"',
    "value in labels",
    "value not in labels",
    "labels contains value",
    "value in [1, 'a', true, null]",
    'body matches "time"',
    "labels.cpu startswith body",
    "body endswith labels.cpu",
    "not value",
    "value and count or body",
    "1 / value",
    "attributes.http.status_code == 500",
    "labels.cpu.x == 1",
]
ODD_RECORDS: list[Mapping[str, Any]] = [
    {},
    {"value": None, "count": None},
    {"value": "0.9", "count": "3"},
    {"value": [1, 2], "count": {"a": 1}, "labels": [1, [2]]},
    {"value": True, "count": False},
    {"value": 10**400, "count": 3},
    {"value": 10**400, "count": 0.5},
    {"value": float("nan"), "count": float("inf")},
    {"value": float("inf"), "count": float("-inf")},
    {"value": 0, "count": 0},
    {"value": 0.0, "count": -0.0},
    {"body": "\ud800 timeout", "labels": {"cpu": "\udfff"}},
    {"labels": "not a map", "attributes": "no"},
    {"labels": {"cpu": {"x": [None]}}, "attributes": {"http": 5}},
    {"value": b"bytes", "body": b"time", "labels": b"x"},
    {"value": object(), "count": (1, 2)},
    MappingProxyType({"value": 1, "labels": MappingProxyType({"cpu": "0"})}),
]


@pytest.mark.parametrize("record", ODD_RECORDS, ids=range(len(ODD_RECORDS)))
def test_evaluation_never_raises(record: Mapping[str, Any]) -> None:
    for text in ODD_EXPRESSIONS:
        compile_expr(parse(text))(record)
        assert compile_predicate(text)(record) in (True, False)


def test_odd_values_give_none_or_false() -> None:
    huge = {"value": 10**400, "count": 3, "big": float("inf"), "text": "\ud800 timeout"}
    assert compile_expr(parse("value / count"))(huge) is None  # too large for a float
    assert compile_expr(parse("value + 0.5"))(huge) is None
    assert compile_predicate("value > 0.5")(huge) is True  # Python compares exactly
    assert math.isnan(compile_expr(parse("big - big"))(huge))
    assert compile_predicate('text matches "timeout"')(huge) is False  # not encodable
    assert compile_predicate('text contains "timeout"')(huge) is True


# --- RE2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(", "invalid regular expression: missing ): ("),
        (r"(a)\\1", "invalid regular expression: invalid escape sequence: \\1"),
        ("(?=x)", "invalid regular expression: invalid perl operator: (?="),
    ],
)
def test_invalid_or_non_re2_patterns_are_refused_at_parse(pattern: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(f'body  matches "{pattern}"')
    assert (caught.value.column, caught.value.message) == (15, message)
    assert caught.value.hint == "RE2 syntax: no backreferences or lookaround"


def test_invalid_pattern_in_a_hand_built_tree_is_refused_at_compile() -> None:
    tree = Binary("matches", Field("body"), Literal("(", column=3))
    with pytest.raises(ExpressionError, match="column 3: invalid regular expression"):
        compile_expr(tree)


@pytest.mark.timeout(20)
def test_matching_is_linear_in_the_text() -> None:
    # Backtracking engines take exponential time here; RE2 does not.
    predicate = compile_predicate('body matches "(a+)+$"')
    assert predicate({"body": "a" * 100_000 + "!"}) is False
    assert predicate({"body": "a" * 100_000}) is True


def test_regex_searches_utf8_text_by_characters() -> None:
    assert compile_predicate('body matches "^caf.$"')({"body": "café"}) is True


def test_pattern_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = parse('body matches "time"')
    calls: list[str] = []
    real_compile = expression_parser.re2.compile

    def counting_compile(pattern: str, options: Any) -> Any:
        calls.append(pattern)
        return real_compile(pattern, options)

    monkeypatch.setattr(expression_parser.re2, "compile", counting_compile)
    predicate = compile_expr(tree)
    for _ in range(3):
        assert predicate({"body": "timeout"}) is True
    assert calls == ["time"]


# --- fields, did you mean ----------------------------------------------------------------

KNOWN = {"name", "value", "host", "service", "labels", "count"}


def test_fields_lists_every_path() -> None:
    tree = parse('labels.cpu == "0" and (value > 1 or host in ["a"]) and value < 2 and 1 < 2')
    assert fields(tree) == {"labels.cpu", "value", "host"}
    assert fields(parse("1 + 2")) == set()


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("value > 1 and labels.anything == 'x' and attributes.a.b == 1", []),
        ("labels == 1", []),
        ("valu > 1", [(1, "unknown field 'valu'", "did you mean 'value'?")]),
        ("lables.cpu == '0'", [(1, "unknown field 'lables.cpu'", "did you mean 'labels.cpu'?")]),
        ("zzz == 1", [(1, "unknown field 'zzz'", None)]),
        ("attributes == 1", [(1, "unknown field 'attributes'", None)]),
        ("value.x == 1", [(1, "unknown field 'value.x'", "did you mean 'value'?")]),
        (
            "count > 1 and (hots == 'a' or valu > 1) and hots == 'b'",
            [
                (16, "unknown field 'hots'", "did you mean 'host'?"),
                (31, "unknown field 'valu'", "did you mean 'value'?"),
                (45, "unknown field 'hots'", "did you mean 'host'?"),
            ],
        ),
    ],
)
def test_check_fields(text: str, errors: list[tuple[int, str, str | None]]) -> None:
    found = check_fields(parse(text), KNOWN, open_prefixes=("labels", "attributes"))
    assert [(e.column, e.message, e.hint) for e in found] == errors


def test_did_you_mean_names_the_closest_field() -> None:
    [error] = check_fields(parse("latency > 1"), ["latency_ms", "latency_p99_ms", "host"])
    assert error.hint == "did you mean 'latency_ms'?"
    assert str(error) == "column 1: unknown field 'latency' (did you mean 'latency_ms'?)"


# --- macros ------------------------------------------------------------------------------

MACROS = {
    "is_prod": parse('host endswith ".prod"'),
    "hot": parse("value > 0.9 or count > 100"),
}


def test_macros_expand_in_place() -> None:
    tree = parse("is_prod and hot", MACROS)
    assert tree == parse('host endswith ".prod" and (value > 0.9 or count > 100)')
    assert render(tree) == 'host endswith ".prod" and (value > 0.9 or count > 100)'
    assert compile_predicate("is_prod and hot", MACROS)(make_record(value=0.1)) is True
    assert compile_predicate("is_prod and not hot", MACROS)(make_record()) is False


def test_macro_names_followed_by_a_dot_are_fields() -> None:
    assert parse("is_prod.x == 1", MACROS) == parse("is_prod.x == 1")
    assert parse("is_prod", {}) == Field("is_prod")


def test_macro_is_placed_at_its_use() -> None:
    tree = parse("count > 1 and hot", {"hot": parse("valu > 0.9")})
    assert isinstance(tree, Binary) and tree.right.column == 15
    [error] = check_fields(tree, KNOWN)
    assert (error.column, error.message) == (15, "unknown field 'valu'")


# --- render ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("(value*100)>90", "value * 100 > 90"),
        ("not(service startswith 'test-')", 'not (service startswith "test-")'),
        ("not  a", "not a"),
        ("a  and\n   b", "a and b"),
        (r"'it\'s'", '"it\'s"'),
        (r'"tab\there \\ \"q\""', r'"tab\there \\ \"q\""'),
        (r'"\u0007\u00e9\U0001F600"', '"\\u0007é😀"'),
        ('"\u200b"', '"\\u200b"'),
        ("1e3", "1000.0"),
        ("1E20", "1e+20"),
        ("007", "7"),
        ("[ 1,2 ,'x', ]", '[1, 2, "x"]'),
        ("a and (b and c)", "a and (b and c)"),
        ("(a and b) and c", "a and b and c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("-(a + b)", "-(a + b)"),
        ("-(1)", "-(1)"),
        ("- 1", "-1"),
        ("(not a) == b", "(not a) == b"),
        ("a == (b == c)", "a == (b == c)"),
        ("(a == b) == c", "(a == b) == c"),
        ("x not in [null, true, false]", "x not in [null, true, false]"),
    ],
)
def test_render_is_canonical(text: str, canonical: str) -> None:
    assert render(parse(text)) == canonical


ROUND_TRIP = [
    'name == "system.cpu.utilization" and value > 0.9',
    'labels.state in ["used", "cached"] or not (service startswith "test-")',
    'body matches "timeout after [0-9]+ ms" and body contains "\\"quoted\\" \\\\ \\n"',
    "-(-x) * -2 + 3 % -y / (a - b) - -(1)",
    "not not (a or b) and (c or d) == (e and f)",
    "a - (b - c) - d * (e / f) % g",
    "(not a) + 1 >= -1e-05 and x not in [1, -2.5, 'a', true, null]",
    "attributes.http.status_code >= 500 and labels.in == 'x'",
    "1.5e300 * 1e-300 != 0.1",
    '"\\t\\r\\u0000\\U0010ffff"',
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_render_round_trips(text: str) -> None:
    tree = parse(text)
    assert parse(render(tree)) == tree
    assert render(parse(render(tree))) == render(tree)


def test_render_of_hand_built_trees() -> None:
    tree = Binary(
        "and",
        Unary("not", Binary("==", Field("a"), Literal(1.0))),
        Binary("*", Unary("-", Literal(-2)), ListLit((Literal("x"),))),
    )
    assert render(tree) == 'not (a == 1.0) and -(-2) * ["x"]'
    assert parse(render(tree)) == tree
