"""Hostile YAML in rule files is an error at its place, found before the tree is built:
each of these crashed or hung the loader (found by tests/fuzz/test_fuzz_rules.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from processors.rules.yaml_files import read_yaml
from tests.processors.rulebook_factory import REPO_RULES


def laughs(levels: int, width: int) -> str:
    """A "billion laughs": ``width ** levels`` strings in a few lines."""
    lines = ['lol0: &l0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"lol{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def rule_with(line: str) -> str:
    return f"rules:\n  - id: x\n    source: metric\n    {line}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # hung: pydantic and rule_version walked 387 million strings
            laughs(9, 9),
            "r.yaml:7:12: aliases up to *l5 stand for more than 100000 values (a 'billion "
            "laughs'?); write the values out",
        ),
        (  # RecursionError in ruamel.yaml's composer
            "rules: " + "[" * 5000 + "]" * 5000 + "\n",
            "r.yaml:1:71: nested more than 64 levels deep; flatten it",
        ),
        (
            "".join("  " * i + "a:\n" for i in range(70)) + "  " * 70 + "b: 1\n",
            "r.yaml:65:129: nested more than 64 levels deep; flatten it",
        ),
        (  # an alias deep inside a list stands for its anchor's levels too
            f"deep: &d {'[' * 40}{']' * 40}\n"
            + rule_with(f"actions: [{{type: alert, params: {{a: {'[' * 30}*d{']' * 30}}}}}]"),
            "r.yaml:5:71: alias *d nests the file more than 64 levels deep",
        ),
        ("rules: &r [*r]\n", "r.yaml:1:12: alias *r is inside its own anchor: it never ends"),
        (  # PydanticSerializationError in rule_version
            rule_with("actions: [{type: alert, params: !!set {a, b}}]"),
            "r.yaml:4:37: tag !!set: only strings, numbers, true/false, null, lists and "
            "mappings are allowed here; remove the tag",
        ),
        (
            rule_with("description: !!binary aGVsbG8="),
            "r.yaml:4:18: tag !!binary: only strings, numbers, true/false, null, lists and "
            "mappings are allowed here; remove the tag",
        ),
        (  # ValueError from int() in ruamel.yaml's constructor
            rule_with("actions: [{type: alert, params: {n: " + "9" * 5000 + "}}]"),
            "r.yaml:4:41: an integer of 5000 digits; quote it if it is text",
        ),
        (  # TypeError from orjson in rule_version (and in every action sent)
            rule_with("actions: [{type: alert, params: {n: 18446744073709551616}}]"),
            "r.yaml:4:41: an integer beyond 64 bits; quote it if it is text",
        ),
        (  # UnicodeEncodeError from orjson (and RE2) on a lone surrogate
            rule_with('description: "\\ud800"'),
            "r.yaml:4:18: U+D800 is half of a surrogate pair, not text",
        ),
    ],
)
def test_hostile_yaml_is_an_error_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    result = load_rules([path])
    assert [str(e).replace(str(tmp_path) + "/", "") for e in result.errors] == [expected]
    assert result.rules == []


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551615",  # 2**64 - 1 still fits
        "-9223372036854775808",
        '"99999999999999999999999"',  # quoted: text
        "&a [1, 2]\n",
        "[" * 64 + "]" * 64,
        laughs(4, 9),  # 7,380 values through aliases
    ],
)
def test_yaml_within_the_bounds_is_read(text: str) -> None:
    assert read_yaml("r.yaml", text) is not None


def test_the_shipped_rules_are_within_the_bounds() -> None:
    for path in sorted(REPO_RULES.glob("**/*.yaml")):
        assert not hasattr(read_yaml(str(path), path.read_text()), "message"), path
