"""Windowed threshold rules on metrics, production against the reference: every stat,
hopping windows, grace, conditions on several stats and group fields, group_by, ``for``,
``keep_firing_for`` and resolution; records in time order, then out of order, duplicated
and late."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.rules.compiler import MatcherKind
from tests.differential.runs import MATCHERS, assert_same
from tests.differential.strategies import disordered, metric_stream, windowed_metric_files
from tests.hypothesis_profiles import ci_examples


@pytest.mark.parametrize("matcher", MATCHERS)
@ci_examples(150)
@given(files=windowed_metric_files(), records=metric_stream())
def test_windowed_rules_on_metrics_in_time_order_do_what_the_readme_says(
    matcher: MatcherKind, files: list[dict[str, Any]], records: list[Any]
) -> None:
    assert_same(files, records, matcher)


@pytest.mark.parametrize("matcher", MATCHERS)
@ci_examples(150)
@given(files=windowed_metric_files(), data=st.data())
def test_windowed_rules_with_records_out_of_order_duplicated_and_late(
    matcher: MatcherKind, files: list[dict[str, Any]], data: st.DataObject
) -> None:
    records = data.draw(disordered(data.draw(metric_stream())), label="records")
    assert_same(files, records, matcher)
