"""rules/schema.json: generated from the models, current, and agreeing with the loader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from processors.rules import schema
from processors.rules.durations import DURATION_PATTERN, parse_duration_ms
from processors.rules.loader import rule_files
from processors.rules.model import Rule
from tests.processors.rulebook_factory import REPO_RULES

SCHEMA_LINE = "# yaml-language-server: $schema=schema.json"


def test_rules_schema_json_is_current() -> None:
    written = (REPO_RULES / "schema.json").read_text(encoding="utf-8")
    assert written == schema.schema_text(), (
        f"rules/schema.json is stale: run `{schema.REGENERATE}` from the repository root"
    )


def test_the_schema_names_every_field_as_written_in_rule_files() -> None:
    generated = schema.rule_file_schema()
    assert set(generated["properties"]) == {
        "macros",
        "lists",
        "rules",
        "slos",
        "backups",
        "autoscalers",
        "canaries",
        "inhibit_rules",
        "maintenance_windows",
    }
    assert generated["additionalProperties"] is False
    rule = generated["$defs"]["Rule"]
    made = ("slo", "autoscale", "canary")  # blocks of rules made from a section
    written = [f.alias or name for name, f in Rule.model_fields.items() if name not in made]
    assert list(rule["properties"]) == written  # an SLO's own block is made, never written
    assert {"for", "keep_firing_for", "exceptions", "tags"} <= set(rule["properties"])
    assert rule["additionalProperties"] is False and rule["required"] == ["id", "source"]
    macros = generated["properties"]["macros"]
    assert macros["propertyNames"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert macros["additionalProperties"] == {"type": "string"}


@pytest.mark.parametrize(
    "text", ["500ms", "30s", "5m", "1h30m", "1d", "2w", "1.5h", " 5m ", "5 minutes", "5", "m", ""]
)
def test_the_duration_pattern_accepts_what_the_loader_accepts(text: str) -> None:
    try:
        parse_duration_ms(text)
        parses = True
    except ValueError:
        parses = False
    assert (re.fullmatch(DURATION_PATTERN, text) is not None) is parses


def test_every_shipped_rule_file_points_at_the_schema() -> None:
    for path in rule_files([REPO_RULES]):  # the receivers file is not a rule file
        assert path.read_text().splitlines()[0] == SCHEMA_LINE, path


def test_the_generator_prints_or_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schema.main([]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["title"] == "opsrules rule file"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    assert schema.main(["--write"]) == 0
    assert (tmp_path / "rules" / "schema.json").read_text() == printed


@pytest.mark.parametrize("value", ["3651d", 3650 * 86_400 + 1, "522w", 2_635_248_901_054_165.0])
def test_a_duration_past_ten_years_is_refused(value: object) -> None:
    """A rule-test interval of 2.6e15 (seconds) overflowed 64 bits in the loader (found
    by the rule-test fuzzer): such a duration is a wrong unit, not a plan."""
    with pytest.raises(ValueError, match="3650d"):
        parse_duration_ms(value)
    assert parse_duration_ms("3650d") == 3650 * 86_400_000
