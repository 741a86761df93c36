from __future__ import annotations

import pytest

from streams.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["kafka", "--help"],
        ["worker", "--help"],
        ["demo", "--help"],
        ["topics", "--help"],
    ],
)
def test_help_is_available(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 0
    assert "usage: opsrules" in capsys.readouterr().out


def test_invalid_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPSRULES_BOOTSTRAP_SERVERS", "nowhere")
    assert main(["topics", "create"]) == 2
    assert "OPSRULES_BOOTSTRAP_SERVERS='nowhere'" in capsys.readouterr().err


def test_unreachable_broker_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bootstrap-servers", "127.0.0.1:1", "topics", "create"]) == 2
    err = capsys.readouterr().err
    assert "no Kafka broker answered at 127.0.0.1:1" in err
    assert "opsrules kafka up" in err


def test_check_reports_every_error_and_exits_1(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "bad.yaml").write_text(
        "rules:\n  - id: x\n    source: metric\n    match: nme == 1\n    severity: loud\n"
    )
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines == [
        f"{folder}/bad.yaml:4:12: rule x: match: unknown field 'nme' (did you mean 'name'?)",
        f"{folder}/bad.yaml:5:5: rule x: severity: Input should be 'info', 'warning', "
        "'error' or 'critical'",
    ]
    assert "2 error(s) in 1 file(s)" in out.err


def test_check_passes_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "rules"]) == 0
    assert "rules OK in 9 file(s); receivers.yaml, probes.yaml OK" in capsys.readouterr().err


def test_check_reports_the_receivers_file_beside_the_rules(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "rules"
    folder.mkdir()
    (folder / "receivers.yaml").write_text(
        "receivers:\n  - name: hook\n    webhok: {url: 'http://127.0.0.1:1/'}\n"
        "route:\n  receiver: hook\n"
    )
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{folder}/receivers.yaml:3:5: receiver hook: unknown field 'webhok' (did you mean "
        "'webhook'?)"
    ]
    assert "1 error(s) in 1 file(s)" in out.err
    assert main(["check", str(folder / "receivers.yaml")]) == 1  # named on its own
