"""Fuzzing the rule loader (processors/rules/loader.py ``load_rules``): any bytes in a
rule file give errors, each at a line and column of the file, or rules the worker can
compile and run; never an exception, and never a hang (YAML alias bombs, nesting
thousands deep, pathological regexes in ``matches``: RE2 compiles in linear time or
refuses)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import event, given

from processors.rules.compiler import MatcherKind, compile_rulebook
from processors.rules.loader import load_rules

from .properties import assert_errors_placed
from .strategies import SHIPPED_RULE_FILES, yaml_documents

# Anchors defined twice are legal YAML, and ruamel.yaml warns of each; not our point here.
pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
@given(text=yaml_documents(SHIPPED_RULE_FILES))
def test_a_rule_file_gives_placed_errors_or_rules_that_compile(
    matcher: MatcherKind, text: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_bytes(text)
        loaded = load_rules([path])
    assert_errors_placed(loaded.errors, str(path), text.decode("utf-8", "replace"))
    event("errors" if loaded.errors else f"{len(loaded.rules)} rules")
    if loaded.ok:
        compiled = compile_rulebook(loaded.rules, matcher=matcher, policies=loaded.policies)
        assert len(compiled.rules) == sum(item.rule.enabled for item in loaded.rules)
        for item in loaded.rules:  # what every action of the rule carries, as JSON
            assert orjson.dumps(item.rule.model_dump(mode="json"))
