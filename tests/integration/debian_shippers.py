"""Real shippers from Debian's packages for tests/integration/test_real_shippers.py:
collectd (``write_kafka``), rsyslog (``omkafka``) and syslog-ng (``kafka-c()``),
installed when missing and run as the test's own child processes.

Installing, once per session and only for a shipper a test asks for:

- its packages all installed (``dpkg-query``): used as they are;
- else ``apt-get update`` (once per session) and ``apt-get install -y
  --no-install-recommends <packages>``, as root;
- rsyslog and syslog-ng cannot both be installed: each Provides and Conflicts with
  ``system-log-daemon``, so installing one removes the other (``apt-get install -s``
  shows it, ``Remv``). The second one is then unpacked rather than installed:
  ``apt-get download`` of its packages, ``dpkg-deb -x`` into
  ``~/.cache/opsrules/debian/<shipper>`` (kept across sessions), and ``apt-get install``
  of the libraries they depend on. Nothing is removed, no package scripts run, no
  service is registered; the daemon runs from that tree with its module path given;
- anything failing (not Debian, not root, no mirror reachable): the tests skip, naming
  the command to run.

Running: in the foreground (collectd ``-f``, rsyslogd ``-n``, syslog-ng ``-F``), with
its configuration, pid file, state and sockets under the test's tmp_path, output in a
log file there; stopped by its pid (SIGTERM, then SIGKILL) when the test ends. It never
touches a system daemon, /dev/log or the system's configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CACHE = Path.home() / ".cache" / "opsrules" / "debian"
_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True)
class Spec:
    """What a shipper needs: ``packages`` to install, ``files`` (glob patterns under the
    root, one match each: the daemon, its Kafka module) and, when unpacked, the
    directories of its own libraries for LD_LIBRARY_PATH."""

    packages: tuple[str, ...]
    files: dict[str, str]
    unpackable: bool = False
    private_libs: tuple[str, ...] = ()


SPECS = {
    # collectd-core only suggests librdkafka1 and libyajl2: without them write_kafka.so
    # does not load ("libyajl.so.2: cannot open shared object file").
    "collectd": Spec(
        packages=("collectd-core", "librdkafka1", "libyajl2"),
        files={"daemon": "usr/sbin/collectd", "module": "usr/lib/collectd/write_kafka.so"},
    ),
    "rsyslog": Spec(
        packages=("rsyslog", "rsyslog-kafka"),
        files={"daemon": "usr/sbin/rsyslogd", "module": "usr/lib/*/rsyslog/omkafka.so"},
        unpackable=True,
    ),
    "syslog-ng": Spec(
        packages=("syslog-ng-core", "syslog-ng-mod-rdkafka"),
        files={"daemon": "usr/sbin/syslog-ng", "module": "usr/lib/syslog-ng/*/libkafka.so"},
        unpackable=True,
        private_libs=("usr/lib/syslog-ng",),
    ),
}


@dataclass(frozen=True)
class Shipper:
    """An installed (root ``/``) or unpacked shipper, and its packages' versions."""

    name: str
    root: Path
    versions: dict[str, str]
    files: dict[str, Path]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def unpacked(self) -> bool:
        return self.root != Path("/")

    @property
    def daemon(self) -> Path:
        return self.files["daemon"]

    @property
    def module_dir(self) -> Path:
        return self.files["module"].parent

    def describe(self) -> str:
        how = f"unpacked in {self.root}" if self.unpacked else "installed"
        return f"{self.name} ({how}): " + ", ".join(f"{p} {v}" for p, v in self.versions.items())


class Debian:
    """Session-wide: installs each shipper at most once; a failure is remembered and
    skips every test that needs that shipper."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        self._updated: str | None = None  # after apt-get update: "" or why it failed
        self._found: dict[str, Shipper | str] = {}

    def shipper(self, name: str) -> Shipper:
        """The shipper, installed or unpacked if need be; pytest.skip when it cannot be."""
        if name not in self._found:
            try:
                self._found[name] = self._provide(name, SPECS[name])
            except _Unavailable as exc:
                self._found[name] = str(exc)
        found = self._found[name]
        if isinstance(found, str):
            pytest.skip(found)
        return found

    def _provide(self, name: str, spec: Spec) -> Shipper:
        installed = _installed_versions(spec.packages)
        if installed is not None:
            return _shipper(name, Path("/"), installed, spec)
        unpacked = self._cached_tree(name, spec)
        if unpacked is not None:
            return unpacked
        command = f"apt-get install -y --no-install-recommends {' '.join(spec.packages)}"
        if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
            raise _Unavailable(f"{name}: not a Debian system (no apt-get); install it: {command}")
        if os.geteuid() != 0:
            raise _Unavailable(f"{name}: installing needs root; run: sudo {command}")
        self._update(f"{name}: cannot install it, run: {command}")
        plan = _apt(["apt-get", "install", "-s", "--no-install-recommends", *spec.packages])
        if plan.returncode != 0:
            raise _Unavailable(f"{name}: {command} cannot be planned: {_tail(plan)}")
        removals = [
            line.split()[1] for line in plan.stdout.splitlines() if line.startswith("Remv ")
        ]
        if not removals:
            done = _apt(["apt-get", "install", "-y", "--no-install-recommends", *spec.packages])
            if done.returncode != 0:
                raise _Unavailable(f"{name}: `{command}` failed: {_tail(done)}")
            versions = _installed_versions(spec.packages)
            assert versions is not None, f"{command} succeeded, yet not all are installed"
            return _shipper(name, Path("/"), versions, spec)
        if not spec.unpackable:
            raise _Unavailable(
                f"{name}: `{command}` would remove {', '.join(removals)}; not done by a test"
            )
        return self._unpack(name, spec)

    def _update(self, then: str) -> None:
        """``apt-get update``, once per session (a failure is not retried)."""
        if self._updated is None:
            done = _apt(["apt-get", "update"])
            ok = done.returncode == 0
            self._updated = "" if ok else f"`apt-get update` failed ({_tail(done)})"
        if self._updated:
            raise _Unavailable(f"{then}; {self._updated}: no Debian mirror reachable?")

    def _cached_tree(self, name: str, spec: Spec) -> Shipper | None:
        """The tree an earlier session unpacked, if it is complete and the libraries it
        needs are still installed."""
        stamp = self.cache / name / "unpacked.json"
        if not stamp.exists():
            return None
        meta = json.loads(stamp.read_text())
        if _installed_versions(tuple(meta["dependencies"])) is None:
            return None
        try:
            return _shipper(name, self.cache / name / "root", meta["versions"], spec)
        except _Unavailable:
            return None

    def _unpack(self, name: str, spec: Spec) -> Shipper:
        """``apt-get download`` + ``dpkg-deb -x`` of the packages, ``apt-get install`` of
        the libraries they depend on."""
        home = self.cache / name
        shutil.rmtree(home, ignore_errors=True)
        root = home / "root"
        root.mkdir(parents=True)
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o777)  # apt-get download runs as _apt when it can write there
            done = _apt(["apt-get", "download", *spec.packages], cwd=Path(tmp))
            if done.returncode != 0:
                raise _Unavailable(
                    f"{name}: `apt-get download {' '.join(spec.packages)}` failed: {_tail(done)}"
                )
            versions: dict[str, str] = {}
            dependencies: set[str] = set()
            for deb in sorted(Path(tmp).glob("*.deb")):
                package = _deb_field(deb, "Package")
                versions[package] = _deb_field(deb, "Version")
                dependencies |= _depends(_deb_field(deb, "Depends"))
                subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        dependencies -= set(spec.packages)
        missing = sorted(d for d in dependencies if _installed_versions((d,)) is None)
        if missing:
            plan = _apt(["apt-get", "install", "-s", "--no-install-recommends", *missing])
            if plan.returncode != 0 or "\nRemv " in "\n" + plan.stdout:
                raise _Unavailable(f"{name}: its libraries {missing} cannot be installed")
            done = _apt(["apt-get", "install", "-y", "--no-install-recommends", *missing])
            if done.returncode != 0:
                raise _Unavailable(f"{name}: installing {missing} failed: {_tail(done)}")
        shipper = _shipper(name, root, versions, spec)
        meta = {"versions": versions, "dependencies": sorted(dependencies)}
        (home / "unpacked.json").write_text(json.dumps(meta, indent=1))
        return shipper


class _Unavailable(Exception):
    pass


def _shipper(name: str, root: Path, versions: dict[str, str], spec: Spec) -> Shipper:
    files = {}
    for role, pattern in spec.files.items():
        found = sorted(root.glob(pattern))
        if not found:
            raise _Unavailable(f"{name}: no {pattern} under {root}")
        files[role] = found[0]
    env = {}
    if root != Path("/") and spec.private_libs:
        env["LD_LIBRARY_PATH"] = ":".join(str(root / d) for d in spec.private_libs)
    return Shipper(name, root, versions, files, env)


def _installed_versions(packages: tuple[str, ...]) -> dict[str, str] | None:
    """``{package: version}`` when every one is installed, else None."""
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    versions = {}
    for line in done.stdout.splitlines():
        package, version, status = [*line.split(), "", "", ""][:3]
        if status == "installed":
            versions[package.split(":")[0]] = version
    return versions if all(p in versions for p in packages) else None


def _apt(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=_APT_ENV,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return " | ".join(lines[-3:]) or f"exit {done.returncode}"


def _deb_field(deb: Path, name: str) -> str:
    done = subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _depends(text: str) -> set[str]:
    """The package names a Depends field needs: of alternatives (``a | b``) the first one
    installed, else the first."""
    names = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        choices = [re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0] for alt in item.split("|")]
        installed = [c for c in choices if _installed_versions((c,)) is not None]
        names.add(installed[0] if installed else choices[0])
    return names


# --- running ----------------------------------------------------------------------


@contextlib.contextmanager
def running(
    argv: list[str],
    *,
    log: Path,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A daemon in the foreground as a child of this process, output in ``log``, until
    ``ready()``; stopped by its pid at the end (SIGTERM, SIGKILL after 15 s)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # no signal of the terminal reaches it
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            code = proc.poll()
            assert code is None, f"{argv[0]} exited with {code}: {_log_tail(log)}"
            assert time.monotonic() < deadline, f"{argv[0]} not ready: {_log_tail(log)}"
            time.sleep(0.05)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]
