"""Sequence rules, production against the reference: ordered and unordered joins of two
or three steps on different sources, join values in other fields or missing, grace,
keep_firing_for and cooldown; records in time order, then out of order, duplicated and
late."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.rules.compiler import MatcherKind
from tests.differential.runs import MATCHERS, assert_same
from tests.differential.sequence_strategies import sequence_files, sequence_stream, step_roles
from tests.differential.strategies import disordered
from tests.hypothesis_profiles import ci_examples


@pytest.mark.parametrize("matcher", MATCHERS)
@ci_examples(100)
@given(data=st.data())
def test_sequences_on_records_in_time_order_do_what_the_readme_says(
    matcher: MatcherKind, data: st.DataObject
) -> None:
    files = data.draw(sequence_files(), label="files")
    records = data.draw(sequence_stream(step_roles(files)), label="records")
    assert_same(files, records, matcher)


@pytest.mark.parametrize("matcher", MATCHERS)
@ci_examples(100)
@given(data=st.data())
def test_sequences_with_records_out_of_order_duplicated_and_late(
    matcher: MatcherKind, data: st.DataObject
) -> None:
    files = data.draw(sequence_files(), label="files")
    records = data.draw(disordered(data.draw(sequence_stream(step_roles(files)))), label="records")
    assert_same(files, records, matcher)
