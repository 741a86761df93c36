"""Fuzzing the rule-test loader (streams/ruletest/load.py ``load_test_file``) and its
expanding notation (streams/ruletest/notation.py ``expand``): any bytes in a test file
give errors, each at a line and column of the file, or cases to run; never an
exception, and never a hang."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from processors.rules.loader import LoadResult, load_rules
from streams.offline import ROLES
from streams.ruletest.load import RuleTest, load_test_file
from streams.ruletest.notation import NotationError, expand
from tests.hypothesis_profiles import ci_examples

from .properties import assert_errors_placed
from .strategies import RULES_DIR, SHIPPED_TEST_FILES, yaml_documents

pytestmark = pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")


@cache
def shipped_rules(paths: tuple[Path, ...]) -> LoadResult:
    return load_rules(paths)


@ci_examples(60)  # each case checks and expands up to hundreds of records
@given(text=yaml_documents(SHIPPED_TEST_FILES))
def test_a_rule_test_file_gives_placed_errors_or_cases(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tests.yaml"
        path.write_bytes(text)
        loaded = load_test_file(path, RULES_DIR, shipped_rules)
    if isinstance(loaded, RuleTest):
        event(f"{len(loaded.cases)} cases")
        assert loaded.path == str(path)
        for case in loaded.cases:
            assert all(role in ROLES and isinstance(r, dict) for role, r in case.records)
            assert [e.eval_at_ms for e in case.evals] == sorted({e.eval_at_ms for e in case.evals})
    else:
        event("errors")
        assert loaded, "neither cases nor errors"
        assert_errors_placed(loaded, str(path), text.decode("utf-8", "replace"))


NOTATION = st.one_of(
    st.text(alphabet="0123456789.+-x_e \t", max_size=30),
    st.text(max_size=30),
    st.sampled_from(["1x99999999999999", "1e400", "1+1e308x3", "-1e308-1e308x2", "_x100001"]),
    st.lists(st.sampled_from(["0.5", "0.95x6", "1+2x3", "_", "_x2", "stale", "1e999"])).map(
        " ".join
    ),
)


@given(text=NOTATION)
def test_the_notation_gives_finite_samples_or_an_error_at_a_column(text: str) -> None:
    try:
        samples = expand(text)
    except NotationError as exc:
        assert 1 <= exc.column <= len(text) + 1, exc
        assert exc.message.strip()
        return
    assert samples and len(samples) <= 100_000
    for sample in samples:
        assert sample is None or sample - sample == 0  # finite
