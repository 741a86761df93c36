"""``opsrules worker`` (and ``opsrules act``) as a child process with given settings: the
integration tests and the benchmarks start and stop them this one way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.settings import OpsrulesSettings


def settings_env(settings: OpsrulesSettings) -> dict[str, str]:
    """This process's environment without its ``OPSRULES_*``, plus ``settings``: a child
    given it has exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRULES_")}
    return {**env, **settings.as_env()}


def start_worker(
    settings: OpsrulesSettings, *args: str, log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``opsrules worker *args`` on ``settings``, its output (stdout and stderr) in
    ``log``."""
    return start_command(settings, "worker", *args, log=log, cwd=cwd)


def start_command(
    settings: OpsrulesSettings,
    command: str,
    *args: str,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``opsrules <command> *args`` on ``settings`` (and ``env`` besides), its output
    (stdout and stderr) in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", command, *args],
            env={**settings_env(settings), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 60.0) -> int:
    """SIGTERM (the worker's clean stop), then SIGKILL if it does not exit in time; its
    exit code."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()
