"""``opsrules check``: every error of a folder of broken rule files, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from streams.cli import main
from tests.processors.rulebook_factory import REPO_RULES

REPO = REPO_RULES.parent
BROKEN = Path("tests/processors/rules/broken_rules")  # relative: the paths printed


def expected() -> list[str]:
    return (REPO / BROKEN / "expected.txt").read_text().splitlines()


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_every_error_of_every_broken_file_at_its_line_and_column() -> None:
    assert [str(e) for e in load_rules([BROKEN]).errors] == expected()


def test_the_broken_files_cover_each_kind_of_mistake() -> None:
    text = "\n".join(expected())
    for fragment in (
        "YAML syntax:",
        "template reads unknown field 'hots' (did you mean 'host'?)",  # templates
        "template does not parse: No filter named 'slugify'",
        "template does not parse: unexpected '}'",
        "template reads unknown field 'body' (it sees:",  # what an escalation sees
        "unknown field 'treshold'",  # unknown fields (rule, action, top level)
        "unknown field 'parms' (did you mean 'params'?)",
        "unknown field 'rulez' (did you mean 'rules'?)",
        "missing required field 'source'",
        "group_by: Input should be a valid list",  # wrong types
        "enabled: Input should be a valid boolean",
        "for: '5 minutes' is not a duration",  # durations
        "window.size: must be longer than 0",
        "duplicate rule id (first defined at tests/processors/rules/broken_rules/hosts.yaml",
        "unknown macro 'is_chekout' (did you mean 'is_checkout'?)",
        "unknown list 'slow_service' (did you mean 'slow_services'?)",
        "macro uses itself: prod_host -> batch -> prod_host",
        "'is_checkout' is already defined at tests/processors/rules/broken_rules/macros.yaml",
        "match: expected an operand after '>'",  # expressions that do not parse
        "match: unknown field 'servce' (did you mean 'service'?)",
        "actions.type: Input should be 'alert', 'heal', 'scale' or 'incident'",
    ):
        assert fragment in text, fragment


def test_check_prints_every_error_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(BROKEN)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == expected()
    assert f"{len(expected())} error(s) in 6 file(s)" in out.err


def test_check_passes_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "rules"]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "rules OK" in out.err
