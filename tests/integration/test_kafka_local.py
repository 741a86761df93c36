"""`opsrules kafka up | status | down` on its own port and data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return int(port)
    raise RuntimeError("no free pair of ports")


def _opsrules(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_twice_reuses_the_broker_and_down_leaves_nothing(tmp_path: Path) -> None:
    port = _free_port_pair()
    env = dict(
        os.environ,
        OPSRULES_KAFKA_PORT=str(port),
        OPSRULES_KAFKA_DATA_DIR=str(tmp_path / "kafka"),
        OPSRULES_KAFKA_HEAP="256m",
    )
    first = _opsrules(env, "kafka", "up")
    try:
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"
        pid = int((tmp_path / "kafka" / "broker.pid").read_text())
        broker = psutil.Process(pid)
        assert "kafka.Kafka" in broker.cmdline()

        second = _opsrules(env, "kafka", "up")
        assert second.returncode == 0, second.stderr
        assert "reusing it" in second.stderr
        assert second.stdout.strip() == f"127.0.0.1:{port}"
        assert int((tmp_path / "kafka" / "broker.pid").read_text()) == pid

        status = _opsrules(env, "kafka", "status")
        assert status.returncode == 0
        assert status.stdout.startswith(f"up 127.0.0.1:{port} (pid {pid}")
    finally:
        down = _opsrules(env, "kafka", "down")
    assert down.returncode == 0, down.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (tmp_path / "kafka" / "broker.pid").exists()
    status = _opsrules(env, "kafka", "status")
    assert status.returncode == 3
    assert status.stdout.startswith("down")
