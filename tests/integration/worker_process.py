"""Run ``opsrules worker`` as a real child process with a test's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streams.settings import OpsrulesSettings


def settings_env(settings: OpsrulesSettings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRULES_")}
    return {**env, **settings.as_env()}


def start_worker(settings: OpsrulesSettings, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", *args],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
