"""The receivers file is checked as rule files are: every problem at its line and
column, with what to do."""

from __future__ import annotations

from pathlib import Path

from processors.executors.loader import load_receivers

REPO = Path(__file__).parents[3]


def errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "receivers.yaml"
    path.write_text(text)
    return [str(e).removeprefix(f"{path}:") for e in load_receivers(path).errors]


def test_the_shipped_receivers_file_is_clean() -> None:
    loaded = load_receivers(REPO / "rules" / "receivers.yaml")
    assert loaded.errors == []
    assert loaded.receivers is not None
    assert sorted(loaded.receivers.by_name) == ["log", "on-call", "restart"]


def test_schema_errors_name_the_receiver_and_the_place(tmp_path: Path) -> None:
    text = """\
receivers:
  - name: hook
    webhook: {url: "http://127.0.0.1:8080/", timeot: 5s}
  - name: both
    webhook: {url: "http://127.0.0.1:8080/"}
    slack: {webhook_url_env: SLACK}
  - name: cmd
    command: {argv: []}
route:
  receiver: hook
"""
    assert errors(tmp_path, text) == [
        "3:46: receiver hook: unknown field 'timeot' (did you mean 'timeout'?)",
        "4:5: receiver both: a receiver has exactly one of webhook, alertmanager, "
        "pagerduty, slack, command, kubernetes, runbook; it has webhook, slack",
        "8:15: receiver cmd: command.argv: List should have at least 1 item after validation, "
        "not 0",
    ]


def test_names_routes_runbooks_matchers_and_templates_are_checked(tmp_path: Path) -> None:
    text = """\
receivers:
  - name: hook
    webhook: {url: "http://127.0.0.1:8080/"}
  - name: hook
    webhook: {url: "http://127.0.0.1:8081/"}
  - name: fix
    runbook: {steps: [{receiver: hok}, {receiver: fix}]}
  - name: cmd
    command: {argv: ["restart", "{{ params.target "]}
route:
  receiver: hook
  routes:
    - matchers: ["severity=~\\"(\\""]
      receiver: pager
"""
    assert errors(tmp_path, text) == [
        "4:11: receiver hook: receiver 'hook' is defined twice (first as receivers[0])",
        "7:34: receiver fix: no receiver is named 'hok' (did you mean 'hook'?)",
        "7:51: receiver fix: step 2: 'fix' is a runbook; steps are other receivers",
        "9:33: receiver cmd: template does not parse: unexpected end of template, expected "
        "'end of print statement'. (line 1)",
        "13:18: invalid regular expression: missing ): (",
        "14:17: no receiver is named 'pager'",
    ]


def test_a_file_that_is_not_a_mapping_says_what_one_holds(tmp_path: Path) -> None:
    assert errors(tmp_path, "- name: x\n") == [
        "1:1: a receivers file is a mapping with 'receivers:' and 'route:'"
    ]


def test_the_readmes_receivers_example_is_a_clean_receivers_file(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    example = readme.split("## Carrying actions out")[1].split("```yaml\n")[1].split("```")[0]
    assert errors(tmp_path, example) == []
