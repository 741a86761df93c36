"""Rules on single records, production against the reference: ECS arrays and missing
fields, every operator, macros and lists, exceptions in both forms, keep_firing_for and
cooldown, on security and log records."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from processors.rules.compiler import MatcherKind
from tests.differential.record_strategies import record_rule_files, record_stream
from tests.differential.runs import MATCHERS, assert_same
from tests.hypothesis_profiles import ci_examples


@pytest.mark.parametrize("matcher", MATCHERS)
@ci_examples(150)
@given(files=record_rule_files(), records=record_stream())
def test_rules_on_single_records_do_what_the_readme_says(
    matcher: MatcherKind, files: list[dict[str, Any]], records: list[Any]
) -> None:
    assert_same(files, records, matcher)
