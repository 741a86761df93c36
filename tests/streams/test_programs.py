"""Programs run by act and probe: argv only, exit code and output, and a timeout that
kills the program's whole session."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from processors.executors.requests import Answer, Program
from streams.programs import run_program


def test_a_program_gets_its_exit_code_and_output() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    answer = asyncio.run(run_program(Program((sys.executable, "-c", script), 10_000), 65_536))
    assert answer == Answer(3, b"out\n", b"err\n")


def test_a_program_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen(['sleep', '30']); "
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); "
        "time.sleep(30)"
    )
    answer = asyncio.run(run_program(Program((sys.executable, "-c", script), 1000), 65_536))
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
    answer = asyncio.run(run_program(Program(("/nonexistent/restart",), 1000), 65_536))
    assert answer.failure == "cannot run /nonexistent/restart: No such file or directory"
