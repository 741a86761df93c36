"""``opsrules test``: the notation, the runner on good, failing and broken test files
(exact output), JUnit XML, exit codes, and the shipped rules' own tests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from streams.cli import main
from streams.ruletest.load import load_test_file
from streams.ruletest.notation import NotationError, expand
from streams.ruletest.run import run_test_files

CASES = Path(__file__).resolve().parent / "ruletest_cases"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "samples"),
    [
        ("0.5", [0.5]),
        ("0.5 0.95x2 0.4", [0.5, 0.95, 0.95, 0.95, 0.4]),  # x2: the first, then two more
        ("1+2x3", [1, 3, 5, 7]),
        ("-2+4x3", [-2, 2, 6, 10]),
        ("1-2x4", [1, -1, -3, -5, -7]),
        ("0.1+0.1x2", [0.1, 0.2, 0.3]),  # no 0.30000000000000004
        ("_ 1 _x2 2x0", [None, 1, None, None, 2]),  # _x2 is two missing samples
        ("  1e3\t.5 ", [1000, 0.5]),
    ],
)
def test_expanding_notation(text: str, samples: list[float | None]) -> None:
    assert expand(text) == samples


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("0.5 0.9y3", 5, "'0.9y3' is not a value"),
        ("1 stale", 3, "'stale' is not needed here"),
        ("   ", 1, "no samples"),
        ("1 1x100001", 3, "'1x100001': more than 100000 samples"),
        ("_x99999999999", 1, "more than 100000 samples"),
        ("1x60000 1x60000", 9, "more than 100000 samples in one series"),
        ("1e999", 1, "values must be finite"),
    ],
)
def test_expanding_notation_errors(text: str, column: int, message: str) -> None:
    with pytest.raises(NotationError) as caught:
        expand(text)
    assert caught.value.column == column
    assert message in caught.value.message


def _test(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[str], str]:
    """``opsrules test --rules rules ARGV…`` in the cases folder: (status, stdout, stderr)."""
    monkeypatch.chdir(CASES)
    code = main(["test", "--rules", "rules", *argv])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_good_test_files_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = _test(monkeypatch, capsys, "good")
    assert lines == [
        "PASS good/all.yaml:2: cpu_hot fires after two hot minutes, heals, resolves",
        "PASS good/all.yaml:19: fatal_log fires on the record, once per 5 minutes",
        "PASS good/all.yaml:40: failed_logins opens an incident at the end of the 5-minute window",
        "PASS good/all.yaml:52: a signal goes straight to the decision tier",
        "PASS good/all.yaml:62: partial checks only what it lists",
        "PASS good/inhibition.yaml:3: a down service mutes its slow alert, not another service's",
        "6 passed, 0 failed",
    ]
    assert code == 0


def test_failing_tests_fail_with_a_diff_of_expected_and_got(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = _test(monkeypatch, capsys, "failing/wrong.yaml")
    cpu = "cpu_hot {host=web-1} at 2m"
    assert lines == [
        "FAIL failing/wrong.yaml:3: expects the alert a minute early",
        "  eval_at 1m (line 9), actions decided from 0s to 1m: 1 missing",
        "    - missing     alert firing cpu_hot {host=web-1}",
        "  eval_at 2m (line 12), actions decided after 1m to 2m: 1 unexpected",
        f"    + unexpected  alert firing {cpu}: 'CPU 0.95 on web-1'",
        f"      as expected heal firing {cpu} params {{host: 'web-1'}}: 'CPU 0.95 on web-1'",
        "PASS failing/wrong.yaml:16: passes",
        "FAIL failing/wrong.yaml:25: a partial eval still needs what it lists",
        "  eval_at 1m (line 30), actions decided from 0s to 1m: 1 missing, "
        "1 other (partial: allowed)",
        "    - missing     alert firing fatal_log summary containing 'disk full'",
        "      other       alert firing fatal_log {service=db} at 0s: 'fatal in db: disk gone'",
        "FAIL failing/wrong.yaml:35: expects silence",
        "  eval_at 1h (line 41), actions decided from 0s to 1h: 1 unexpected",
        "    + unexpected  alert firing fatal_log {service=db} at 30s: 'fatal in db: disk gone'",
        "1 passed, 3 failed",
    ]
    assert code == 1


def test_broken_test_files_report_every_error_at_its_position(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _test(monkeypatch, capsys, "broken")
    not_a_value = (
        "'0.95y2' is not a value: write a number (0.95), a repeat (0.95x6: seven samples), "
        "a ramp (0.5+0.1x4), or _ for a missing sample"
    )
    assert lines == [
        "broken/errors.yaml:1:26: rule_files: no file matches 'nothing*.yaml' in rules",
        "broken/errors.yaml:4:5: interval: '1 minute' is not a duration; use a number and a "
        "unit: ms, s, m, h, d, w (e.g. '30s', '5m', '1h30m')",
        "broken/errors.yaml:6:9: input.topic: Input should be 'metrics', 'logs', 'security', "
        "'health', 'events' or 'signals'",
        "broken/errors.yaml:10:9: unknown field 'vaules' (did you mean 'values'?)",
        "broken/errors.yaml:14:42: unknown field 'staus' (did you mean 'status'?)",
        "broken/errors.yaml:15:5: missing required field 'evals'",
        f"broken/semantics.yaml:6:22: values: {not_a_value}",
        "broken/semantics.yaml:8:9: values: only for metrics; repeat other records with count",
        "broken/semantics.yaml:12:9: count: give values or count, not both",
        "broken/semantics.yaml:15:9: record: the worker would dead-letter it (invalid_schema): "
        "field 'instance': Field required (and 1 more)",
        "broken/semantics.yaml:17:71: record: 'ts' is set from 'at' and 'interval'",
        "broken/semantics.yaml:19:9: record: rules: no rule 'fatal_logs' in the rule files "
        "tested (did you mean 'fatal_log'?)",
        "broken/semantics.yaml:23:27: rule: no rule 'cpu_hott' in the rule files tested "
        "(did you mean 'cpu_hot'?)",
        "broken/semantics.yaml:24:14: type: rule 'cpu_hot' sends no incident (alert, heal)",
        "broken/semantics.yaml:24:53: group: rule 'cpu_hot' groups by host, not 'hots' "
        "(did you mean 'host'?)",
        "broken/semantics.yaml:25:27: rule: 'cpu_retired' is disabled (enabled: false)",
        "broken/semantics.yaml:26:9: eval_at: must be later than the previous eval",
        "broken/syntax.yaml:4:1: YAML syntax: expected the node content, but found '<stream end>'",
        "0 passed, 0 failed",
    ]
    assert "18 error(s) in 3 test file(s)" in err
    assert code == 1


def test_broken_rules_under_test_are_reported_like_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x\n    source: metric\n    match: nme\n")
    (tmp_path / "tests" / "t.yaml").write_text(
        "tests:\n  - name: t\n    evals: [{eval_at: 1m, expect: []}]\n"
    )
    assert main(["test", "--rules", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{tmp_path}/bad.yaml:4:12: rule x: match: unknown field 'nme' (did you mean 'name'?)",
        "0 passed, 0 failed",
    ]


def test_no_test_files_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--rules", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"no such file or folder: {tmp_path}/tests" in err
    (tmp_path / "tests").mkdir()
    assert main(["test", "--rules", str(tmp_path)]) == 1
    assert f"no rule test files (*.yaml) in {tmp_path}/tests\n" in capsys.readouterr().err


def test_junit_xml_names_each_case_and_its_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "junit.xml"
    code, _, _ = _test(monkeypatch, capsys, "--junit", str(report), "failing", "broken/syntax.yaml")
    assert code == 1
    root = ET.fromstring(report.read_bytes())
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "5",
        "3",
        "1",
    )
    failing, broken = root.findall("testsuite")
    assert failing.get("name") == "failing/wrong.yaml"
    cases = {case.get("name"): case for case in failing.findall("testcase")}
    assert list(cases) == [
        "expects the alert a minute early",
        "passes",
        "a partial eval still needs what it lists",
        "expects silence",
    ]
    assert cases["passes"].find("failure") is None
    failure = cases["expects silence"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "eval_at 1h (line 41), actions decided from 0s to 1h: 1 unexpected"
    )
    assert "+ unexpected  alert firing fatal_log {service=db} at 30s" in (failure.text or "")
    assert cases["passes"].get("classname") == "failing.wrong"
    assert cases["passes"].get("line") == "16"
    error = broken.find("testcase/error")
    assert error is not None
    assert error.text == (
        "broken/syntax.yaml:4:1: YAML syntax: expected the node content, but found '<stream end>'"
    )


def test_the_readme_example_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (REPO / "rules" / "README.md").read_text()
    section = readme[readme.index("## Testing rules") :]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    path = tmp_path / "example.yaml"
    path.write_text(example.group(1))
    assert main(["test", "--rules", str(REPO / "rules"), str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"


def test_the_shipped_rule_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", "--rules", str(REPO / "rules"), str(REPO / "rules" / "tests")])
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed", last), last
    assert code == 0


def test_every_shipped_rule_has_a_must_fire_and_a_near_miss_case() -> None:
    """A rule fires in a passing case (its action expected), and in some passing case it
    is evaluated on matching records (or, on single records, reads its source) without
    firing."""
    rules = REPO / "rules"
    results = run_test_files(sorted((rules / "tests").glob("*.yaml")), rules)
    cases = [case for result in results for case in result.cases if case.ok]
    loaded = load_rules([rules])
    for rule_id in (item.rule.id for item in loaded.rules if item.rule.enabled):
        assert any(rule_id in case.fired for case in cases), f"{rule_id}: no must-fire case"
        assert any(rule_id in case.evaluated - case.fired for case in cases), (
            f"{rule_id}: no near-miss case"
        )


def test_cases_record_which_rules_fired_and_which_were_only_evaluated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(CASES)
    (result,) = run_test_files([Path("good/all.yaml")], Path("rules"))
    by_name = {case.case.name: case for case in result.cases}
    cpu = by_name["cpu_hot fires after two hot minutes, heals, resolves"]
    assert cpu.fired == {"cpu_hot"}
    assert cpu.evaluated == {"cpu_hot", "cpu_idle"}  # shares the window; not fatal_log
    logs = by_name["fatal_log fires on the record, once per 5 minutes"]
    assert (logs.fired, logs.evaluated) == ({"fatal_log"}, {"fatal_log"})
    logins = by_name["failed_logins opens an incident at the end of the 5-minute window"]
    assert (logins.fired, logins.evaluated) == ({"failed_logins"}, {"failed_logins"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # plain() expanded every alias: 387 million strings
            "rule_files: [hosts.yaml]\nx: &l0 [lol]\n"
            + "".join(f"x{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))
            + "tests: []\n",
            "t.yaml:7:40: aliases up to *l4 stand for more than 100000 values (a 'billion "
            "laughs'?); write the values out",
        ),
        (  # TypeError: orjson cannot write the bytes of !!binary as a record
            "tests:\n  - name: n\n    input: [{topic: logs, record: {body: !!binary aGk=}}]\n"
            "    evals: [{eval_at: 1m, expect: []}]\n",
            "t.yaml:3:42: tag !!binary: only strings, numbers, true/false, null, lists and "
            "mappings are allowed here; remove the tag",
        ),
        ("tests: &t [*t]\n", "t.yaml:1:12: alias *t is inside its own anchor: it never ends"),
    ],
)
def test_hostile_yaml_in_a_test_file_is_an_error_at_its_place(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    errors = load_test_file(path, REPO / "rules", load_rules)
    assert isinstance(errors, list)
    assert [str(e).replace(str(tmp_path) + "/", "") for e in errors] == [expected]
