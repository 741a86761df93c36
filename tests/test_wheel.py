"""The wheel, installed in a fresh virtual environment, runs every command its
``opsrules --help`` lists, and checks the shipped rules.

Run from a folder outside the checkout, so that nothing of the checkout (``bench/``,
the sources) can be imported by accident: what works here works for a user who ran
``pip install opsrules``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path, timeout_s: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout_s
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``opsrules`` script of a fresh venv holding only the wheel and its deps."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO, cwd=root)
    (wheel,) = dist.glob("opsrules-*.whl")
    _run(sys.executable, "-m", "venv", root / "venv", cwd=root)
    pip = root / "venv" / "bin" / "pip"
    _run(pip, "install", "-q", "--disable-pip-version-check", wheel, cwd=root, timeout_s=900)
    return root / "venv" / "bin" / "opsrules"


def _commands(help_text: str) -> list[str]:
    """The subcommands an argparse help lists (indented under its positional metavar,
    ``COMMAND`` or ``KIND``, or in braces when it has none)."""
    if "positional arguments:" not in help_text:
        return []
    positional = help_text.split("positional arguments:")[1].split("options:")[0]
    braces = re.search(r"\{([a-z,-]+)\}", positional)
    if braces:
        return braces.group(1).split(",")
    return re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", positional, flags=re.MULTILINE)


def test_every_listed_command_and_subcommand_has_working_help(
    installed: Path, tmp_path: Path
) -> None:
    top = _run(installed, "--help", cwd=tmp_path)
    commands = _commands(top)
    assert {"worker", "check", "test", "kafka", "demo"} <= set(commands)
    assert "bench" not in commands  # a repository tool: bench/ is not in the wheel
    for command in commands:
        text = _run(installed, command, "--help", cwd=tmp_path)
        assert f"usage: opsrules {command}" in text
        for sub in _commands(text):
            usage = _run(installed, command, sub, "--help", cwd=tmp_path)
            assert f"usage: opsrules {command} {sub}" in usage


def test_the_installed_opsrules_checks_and_tests_the_shipped_rules(
    installed: Path, tmp_path: Path
) -> None:
    assert "OK" in _run(installed, "check", REPO / "rules", cwd=tmp_path)
    _run(installed, "test", "--rules", REPO / "rules", cwd=tmp_path)
