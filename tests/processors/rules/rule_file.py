"""Loading one rule file written by a test: its result, its errors as `check` prints them
(the file's folder left out), its rules by id."""

from __future__ import annotations

from pathlib import Path

from processors.rules.loader import LoadResult, load_rules
from processors.rules.model import Rule


def load(tmp_path: Path, text: str, name: str = "r.yaml") -> LoadResult:
    path = tmp_path / name
    path.write_text(text)
    return load_rules([path])


def errors_of(tmp_path: Path, text: str) -> list[str]:
    result = load(tmp_path, text)
    return [str(e).replace(str(tmp_path) + "/", "") for e in result.errors]


def rules_of(tmp_path: Path, text: str) -> dict[str, Rule]:
    result = load(tmp_path, text)
    assert result.ok, [str(e) for e in result.errors]
    return {loaded.rule.id: loaded.rule for loaded in result.rules}
