"""Real shippers written in Go, built from the Go module proxy for
tests/integration/test_real_shippers.py and test_real_otelcol.py: Telegraf
(``outputs.kafka``), Filebeat (``output.kafka``) and the OpenTelemetry Collector (the
contrib ``kafka`` exporter), as their users build them.

Building, once per machine and only for a shipper a test asks for: ``go install
<package>@<version>`` (Telegraf, its custom build tags naming only the plugins the tests
use) or ``go build`` of a module of ours (Filebeat: beats' own ``filebeat/main.go``, with
beats' ``replace`` directives in our go.mod, in tests/integration/shippers/filebeat/; the
Collector: what its builder, ocb, generates for the components the tests use, in
tests/integration/shippers/otelcol/), with the machine's Go, ``CGO_ENABLED=0``, into
``~/.cache/opsrules/go/<name>-<version>-<hash of the build>/``; the Go module and build
caches are Go's own (``go env GOMODCACHE GOCACHE``), so a second build is seconds.
Measured on this 2-core machine with empty caches: Telegraf 63 s (442 MB of modules),
Filebeat about 2.5 min (1.2 GB), the Collector about 3.7 min (1.3 GB; a 177 MB binary).

No Go, or a build that fails (no module proxy reachable, a Go too old): the tests skip,
naming the command to run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CACHE = Path.home() / ".cache" / "opsrules" / "go"
SHIPPERS = Path(__file__).parent / "shippers"
BUILD_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class GoBuild:
    """A binary ``name`` built either from ``package@version`` (``go install``) or from
    the module in ``module_dir`` (``go build``), with ``tags`` and ``ldflags``."""

    name: str
    version: str
    package: str = ""
    module_dir: Path | None = None
    tags: tuple[str, ...] = ()
    ldflags: str = ""
    files: tuple[str, ...] = field(default=("go.mod", "go.sum", "main.go"))

    def argv(self, out_dir: Path) -> tuple[list[str], Path | None]:
        """The go command and its working directory."""
        flags = []
        if self.tags:
            flags += ["-tags", ",".join(self.tags)]
        if self.ldflags:
            flags += ["-ldflags", self.ldflags]
        if self.module_dir is None:
            return ["go", "install", *flags, f"{self.package}@{self.version}"], None
        return ["go", "build", *flags, "-o", str(out_dir / self.name), "."], self.module_dir

    def key(self) -> str:
        """What the binary depends on: the command, and the module's files if ours."""
        digest = hashlib.sha256(" ".join(self.argv(Path("."))[0]).encode())
        if self.module_dir is not None:
            for name in self.files:
                digest.update((self.module_dir / name).read_bytes())
        return f"{self.name}-{self.version}-{digest.hexdigest()[:12]}"


TELEGRAF = GoBuild(
    name="telegraf",
    version="v1.37.2",
    package="github.com/influxdata/telegraf/cmd/telegraf",
    # Telegraf's custom builds: only these plugins (docs/CUSTOMIZATION.md); the json
    # serializer is not built in without its tag.
    tags=("custom", "inputs.cpu", "inputs.mem", "inputs.disk", "outputs.kafka", "serializers.json"),
    ldflags="-X github.com/influxdata/telegraf/internal.Version=1.37.2",
)


FILEBEAT = GoBuild(
    name="filebeat",
    version="v7.17.29",
    # beats' filebeat/main.go in a module of ours with beats' replace directives, which
    # go install of beats itself refuses
    module_dir=SHIPPERS / "filebeat",
)


OTELCOL = GoBuild(
    name="otelcol",
    version="v0.160.0",
    # receivers otlp, hostmetrics, filelog; processors batch, resource,
    # resourcedetection; exporters kafka, debug: core v0.160.0 (stable v1.66.0) and
    # contrib v0.160.0
    module_dir=SHIPPERS / "otelcol",
)


def built(build: GoBuild) -> Path:
    """The binary, built when not in the cache; skips the test when it cannot be."""
    home = CACHE / build.key()
    binary = home / build.name
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        pytest.skip(f"no Go to build {build.name}: install Go >= 1.25 and rerun")
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{build.name}-", dir=CACHE))
    argv, cwd = build.argv(scratch)
    env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": str(scratch)}
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(scratch, ignore_errors=True)
        pytest.skip(f"building {build.name} took over {BUILD_TIMEOUT_S:.0f} s: {' '.join(argv)}")
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        where = f" (in {cwd})" if cwd else ""
        pytest.skip(f"cannot build {build.name}: {' '.join(argv)}{where}: {done.stderr[-1500:]}")
    if binary.exists():  # built meanwhile by another session
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        scratch.rename(home)  # whole or not at all: a build cut short leaves no binary
    return binary
