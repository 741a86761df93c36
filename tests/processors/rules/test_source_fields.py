"""What rules may name on each source comes from the record models, not a copy."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from processors.records import SOURCE_MODELS, Source
from processors.rules.fields import SOURCE_FIELDS
from processors.rules.loader import load_rules


def test_every_source_a_rule_may_read_has_a_record_model() -> None:
    assert set(SOURCE_MODELS) == set(get_args(Source))


@pytest.mark.parametrize("source", sorted(SOURCE_MODELS))
def test_every_field_of_a_source_model_is_a_field_rules_may_name(source: str) -> None:
    fields, _ = SOURCE_FIELDS[source]
    assert set(SOURCE_MODELS[source].model_fields) <= fields


def test_rules_on_signals_may_name_every_signal_field(tmp_path: Path) -> None:
    """The hand-kept list had drifted: ``id``, ``sequence`` and ``window_start_ms`` were
    refused as unknown fields."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        """
rules:
  - id: steps_of_one_window
    source: signal
    match: kind == "step" and sequence != null and id startswith "s" and window_start_ms > 0
"""
    )
    loaded = load_rules([path])
    assert loaded.ok, [str(error) for error in loaded.errors]


def test_a_field_no_model_has_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: typo\n    source: health\n    match: stauts == 'fail'\n")
    (error,) = load_rules([path]).errors
    assert "unknown field 'stauts'" in error.message and "status" in error.message
