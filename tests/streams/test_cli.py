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
