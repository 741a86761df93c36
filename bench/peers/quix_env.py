"""The Quix Streams peer's own virtual environment, created on first use.

quixstreams pins older pydantic and confluent-kafka than opsrules, so it cannot share
opsrules' venv. :func:`ensure_quix_venv` creates one with ``python3 -m venv`` under
``${XDG_CACHE_HOME:-~/.cache}/opsrules/bench/quix-venv`` and installs the pinned
``requirements-quix.txt`` into it. A stamp file inside the venv holds the SHA-256 of
that requirements file: when it matches, the venv is reused as it is; when it does not
(the pins changed) or the venv is broken, it is rebuilt. A file lock keeps two runs
(say pytest and ``make bench``) from building it at the same time.

    .venv/bin/python -m bench.peers.quix_env     # create or check it; prints its python
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent / "requirements-quix.txt"
STAMP = ".opsrules-requirements.sha256"
DEFAULT_INDEX = "https://pypi.org/simple/"
INSTALL_TIMEOUT_S = 900.0

Progress = Callable[[str], None]


class QuixVenvUnavailable(RuntimeError):
    """The venv could not be created because the package index cannot be reached."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opsrules" / "bench"


def venv_dir() -> Path:
    return cache_root() / "quix-venv"


def venv_python(venv: Path | None = None) -> Path:
    return (venv or venv_dir()) / "bin" / "python"


def pinned_version(name: str, path: Path = REQUIREMENTS) -> str | None:
    """The version ``name`` is pinned to (``name==version``) in the requirements file."""
    for line in path.read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if "==" in spec:
            package, _, version = spec.partition("==")
            if package.strip().lower() == name.lower():
                return version.strip()
    return None


def requirements_hash(path: Path = REQUIREMENTS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stderr_progress(message: str) -> None:
    print(f"[bench.peers] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable(venv: Path, digest: str) -> bool:
    stamp = venv / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != digest:
        return False
    python = venv_python(venv)
    if not python.exists():
        return False
    check = subprocess.run(
        [str(python), "-c", "import quixstreams, orjson"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return check.returncode == 0


def _index_reachable(timeout_s: float = 15.0) -> bool:
    url = os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/quixstreams/", timeout=timeout_s):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _run_streamed(argv: list[str], progress: Progress, timeout_s: float) -> tuple[int, list[str]]:
    """Run ``argv``, passing each output line to ``progress``; its exit code and lines."""
    lines: list[str] = []
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                lines.append(line)
                progress(f"pip: {line}")
        return proc.wait(timeout=timeout_s), lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _build(venv: Path, digest: str, progress: Progress) -> None:
    if venv.exists():
        progress(f"quix venv at {venv} is stale or broken: rebuilding it")
        shutil.rmtree(venv)
    python3 = shutil.which("python3") or sys.executable
    progress(f"creating the quix venv: {python3} -m venv {venv}")
    subprocess.run([python3, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv_python(venv)), "-m", "pip"]
    progress(f"installing {REQUIREMENTS.name} into it (quixstreams and its dependencies)")
    code, lines = _run_streamed(
        [*pip, "install", "--progress-bar", "off", "--no-input", "-r", str(REQUIREMENTS)],
        progress,
        INSTALL_TIMEOUT_S,
    )
    if code != 0:
        shutil.rmtree(venv, ignore_errors=True)
        tail = "\n".join(lines[-15:])
        if not _index_reachable():
            raise QuixVenvUnavailable(
                f"cannot create the quix venv: the package index is unreachable\n{tail}"
            )
        raise RuntimeError(f"pip install -r {REQUIREMENTS} failed (exit {code}):\n{tail}")
    (venv / STAMP).write_text(digest + "\n")
    progress("quix venv ready")


def ensure_quix_venv(progress: Progress | None = None) -> Path:
    """The quix venv's directory, created (once) with the pinned requirements.

    Raises :class:`QuixVenvUnavailable` when it has to be built and the package index
    cannot be reached, :class:`RuntimeError` when building fails for any other reason.
    """
    say = progress or _stderr_progress
    venv = venv_dir()
    digest = requirements_hash()
    with _locked(cache_root() / "quix-venv.lock"):
        if _usable(venv, digest):
            say(f"reusing the quix venv at {venv} (requirements {digest[:12]})")
            return venv
        _build(venv, digest, say)
    return venv


if __name__ == "__main__":
    print(venv_python(ensure_quix_venv()))
