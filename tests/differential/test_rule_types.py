"""The rule types beyond thresholds (frequency, flatline, change, new_term, cardinality,
spike), production against the reference: each type's settings, group_by, exceptions,
keep_firing_for and cooldown; records in time order, then out of order, duplicated and
late; records missing the fields a type reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.rules.compiler import MatcherKind
from tests.differential.runs import MATCHERS, assert_same
from tests.differential.strategies import disordered
from tests.differential.typed_strategies import KINDS, security_stream, typed_files
from tests.hypothesis_profiles import ci_examples


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("kind", KINDS)
@ci_examples(100)
@given(data=st.data())
def test_typed_rules_on_records_in_time_order_do_what_the_readme_says(
    kind: str, matcher: MatcherKind, data: st.DataObject
) -> None:
    files = data.draw(typed_files(kind), label="files")
    records = data.draw(security_stream(), label="records")
    assert_same(files, records, matcher)


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("kind", KINDS)
@ci_examples(100)
@given(data=st.data())
def test_typed_rules_with_records_out_of_order_duplicated_and_late(
    kind: str, matcher: MatcherKind, data: st.DataObject
) -> None:
    files = data.draw(typed_files(kind), label="files")
    records = data.draw(disordered(data.draw(security_stream())), label="records")
    assert_same(files, records, matcher)
