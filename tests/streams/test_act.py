"""The executor shell's pieces that need no broker: running programs, and what
--dry-run prints."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson
import pytest

from processors.executors.loader import Receivers
from processors.executors.receivers import Receiver, Route
from processors.executors.requests import Answer, HttpRequest, Program
from processors.executors.routing import RouteNode
from streams.act import Delivery, _print_step, _run_program, secret_variables
from tests.processors.executors.factories import make_action


def test_a_program_gets_its_exit_code_and_output() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    answer = asyncio.run(_run_program(Program((sys.executable, "-c", script), 10_000)))
    assert answer == Answer(3, b"out\n", b"err\n")


def test_a_program_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen(['sleep', '30']); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); "
        "time.sleep(30)"
    )
    answer = asyncio.run(_run_program(Program((sys.executable, "-c", script), 1000)))
    assert answer.failure.endswith("did not finish within 1s; killed")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child):  # its session was killed, not only the program
        assert time.monotonic() < deadline, f"child {child} outlived the timeout"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running: not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_a_missing_program_is_a_failure_that_names_it() -> None:
    answer = asyncio.run(_run_program(Program(("/nonexistent/restart",), 1000)))
    assert answer.failure == "cannot run /nonexistent/restart: No such file or directory"


def test_dry_run_prints_one_line_per_request_with_secrets_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    action = make_action()
    delivery = Delivery(None, 0, action, b"{}", [], "pd")  # type: ignore[arg-type]
    request = HttpRequest(
        "POST", "https://x/enqueue", {"A": "s3cret-key"}, b'{"k": "s3cret-key"}', 1
    )
    _print_step(request, delivery, ["s3cret-key"])
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == {
        "action_id": action.id,
        "receiver": "pd",
        "method": "POST",
        "url": "https://x/enqueue",
        "headers": {"A": "<secret>"},
        "body": {"k": "<secret>"},
    }


def test_the_secrets_are_the_variables_the_receivers_name() -> None:
    receivers = [
        Receiver.model_validate(r)
        for r in [
            {"name": "pd", "pagerduty": {"routing_key_env": "PD_KEY"}},
            {
                "name": "hook",
                "webhook": {"url": "http://h/", "headers_env": {"Authorization": "TOKEN"}},
            },
            {"name": "run", "command": {"argv": ["true"]}},
        ]
    ]
    loaded = Receivers(
        "r.yaml", {r.name: r for r in receivers}, RouteNode.of(Route(receiver="pd")), 0
    )
    assert secret_variables(loaded) == {"PD_KEY": "pd", "TOKEN": "hook"}
