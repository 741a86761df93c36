"""bench.formats: every registered format has a representative message that decodes."""

from __future__ import annotations

from bench.formats import MESSAGES, run
from processors.formats.registry import FORMATS, format_names


def test_every_registered_format_has_a_message_that_decodes_in_the_bench() -> None:
    assert set(FORMATS) <= set(MESSAGES)  # a new format brings its bench message
    rows = run(seconds=0.01, repeats=1)
    assert {row["format"] for row in rows} == set(FORMATS)
    for row in rows:
        assert row["format"] in format_names(row["source"])
        assert row["records_per_s"] >= row["messages_per_s"] > 0
