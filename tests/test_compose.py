"""docker-compose.yml and deploy/Dockerfile agree with the code they package.

No Docker and no Kafka needed: the files are parsed and held against
``streams.settings``, ``deploy/kafka/pom.xml`` and ``pyproject.toml``. Only
:func:`test_docker_compose_accepts_the_file` asks a Docker engine, and skips without one.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams import kafka_local
from streams.settings import ENV_PREFIX, OpsrulesSettings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"

# Services that reach Kafka from inside the compose network, and the variable naming it.
BOOTSTRAP_VARIABLES = [
    ("worker", "OPSRULES_BOOTSTRAP_SERVERS"),
    ("kafka-ui", "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"),
]


@dataclass(frozen=True, slots=True)
class Published:
    host_ip: str  # "" when the port is published on every interface
    host_port: int  # 0 when Docker picks one
    container_port: int


def default(field: str) -> Any:
    """A setting's declared default, whatever OPSRULES_* variables this shell exports."""
    return OpsrulesSettings.model_fields[field].default


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def environment(name: str) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the list form."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published_ports(name: str) -> list[Published]:
    """The service's ``ports``, short (``[ip:][host:]container``) or long syntax."""
    ports = []
    for entry in service(name).get("ports", []):
        if isinstance(entry, dict):
            published = Published(
                str(entry.get("host_ip", "")), int(entry.get("published", 0)), int(entry["target"])
            )
        else:
            parts = str(entry).split("/")[0].rsplit(":", 2)
            published = Published(
                parts[0] if len(parts) == 3 else "",
                int(parts[-2]) if len(parts) >= 2 else 0,
                int(parts[-1]),
            )
        ports.append(published)
    return ports


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,…`` (KAFKA_LISTENERS and KAFKA_ADVERTISED_LISTENERS) by name."""
    parsed = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        parsed[name] = (host, int(port))
    return parsed


def kafka_listeners() -> tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int]]]:
    """(bound, advertised) listeners of the kafka service."""
    env = environment("kafka")
    return listeners(env["KAFKA_LISTENERS"]), listeners(env["KAFKA_ADVERTISED_LISTENERS"])


def dockerfile_copy_sources() -> set[str]:
    """Build-context paths the Dockerfile COPYs (``COPY --from`` reads a stage, not the
    context, and is left out), without ``./`` or a trailing ``/``."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    sources: set[str] = set()
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() != "COPY":
            continue
        rest = rest.strip()
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        for path in paths[:-1]:
            path = path.removeprefix("./").rstrip("/")
            sources.add(path or ".")
    return sources


def test_the_kafka_image_is_the_version_pinned_in_the_pom() -> None:
    # kafka_version() reads <kafka.version> from deploy/kafka/pom.xml, the pin that
    # `opsrules kafka up` provisions.
    assert service("kafka")["image"] == f"apache/kafka:{kafka_local.kafka_version()}"


def test_the_host_reaches_kafka_at_the_default_bootstrap_servers() -> None:
    port = default("kafka_port")
    assert default("bootstrap_servers") == f"127.0.0.1:{port}"
    # The same port inside: the advertised host address is also where clients inside
    # the container (the healthcheck) are sent.
    published = [(p.host_port, p.container_port) for p in published_ports("kafka")]
    assert published == [(port, port)]
    bound, advertised = kafka_listeners()
    names = [name for name, (_, bound_port) in bound.items() if bound_port == port]
    assert len(names) == 1, f"no single listener binds port {port}: {bound}"
    assert advertised.get(names[0]) == ("127.0.0.1", port)


@pytest.mark.parametrize(("name", "variable"), BOOTSTRAP_VARIABLES)
def test_containers_bootstrap_through_a_listener_kafka_declares(name: str, variable: str) -> None:
    bound, advertised = kafka_listeners()
    kafka_hosts = {"kafka", service("kafka").get("hostname", "kafka")}
    servers = environment(name)[variable].split(",")
    for server in servers:
        host, _, port = server.strip().rpartition(":")
        matching = [
            listener for listener, address in advertised.items() if address == (host, int(port))
        ]
        assert matching, f"{name}: {server} is not in KAFKA_ADVERTISED_LISTENERS {advertised}"
        assert bound[matching[0]][1] == int(port), f"{name}: listener {matching[0]} binds no {port}"
        assert host in kafka_hosts, f"{name}: {server} is not reachable inside the compose network"


def test_kafka_creates_topics_with_the_default_partitions() -> None:
    assert int(environment("kafka")["KAFKA_NUM_PARTITIONS"]) == default("partitions")


def test_every_published_port_is_bound_to_loopback() -> None:
    published = {name: published_ports(name) for name in compose()["services"]}
    assert any(published.values()), "docker-compose.yml publishes no port at all"
    for name, ports in published.items():
        for port in ports:
            assert port.host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_the_worker_sets_only_real_settings() -> None:
    env = environment("worker")
    ours = {key: value for key, value in env.items() if key.startswith(ENV_PREFIX)}
    assert ours, "the worker sets no OPSRULES_* variable"
    fields = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in ours.items()}
    unknown = sorted(
        ENV_PREFIX + field.upper() for field in fields.keys() - OpsrulesSettings.model_fields.keys()
    )
    assert not unknown, f"not settings fields (ignored by OpsrulesSettings): {unknown}"
    OpsrulesSettings(**fields)  # and the values validate


def test_the_kafka_healthcheck_asks_a_listener_and_reads_the_answer() -> None:
    command = service("kafka")["healthcheck"]["test"][-1]
    words = shlex.split(command)
    assert words[0] == "/opt/kafka/bin/kafka-broker-api-versions.sh"
    host, _, port = words[words.index("--bootstrap-server") + 1].rpartition(":")
    bound, _ = kafka_listeners()
    assert host == "localhost" and int(port) in {p for _, p in bound.values()}
    # The tool exits 0 when a broker it found answers "-> ERROR"; the check must look
    # for an ApiVersions answer instead of trusting the exit code.
    assert "grep -q -- '-> ('" in command


def test_the_dockerfile_copies_everything_the_wheel_build_reads() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", pyproject["project"]["readme"], *wheel["packages"]}
    needed |= set(wheel.get("force-include", {}))
    sources = dockerfile_copy_sources()
    missing = sorted(
        path
        for path in needed
        if not any(src in (".", path) or path.startswith(src + "/") for src in sources)
    )
    assert not missing, f"deploy/Dockerfile does not COPY {missing} (it copies {sorted(sources)})"


def _docker_answers() -> str | None:
    """None when `docker compose` and a Docker engine both answer, else why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI on PATH"
    for args, what in (
        (["compose", "version"], "no `docker compose` plugin"),
        (["info"], "no Docker engine answers"),
    ):
        try:
            result = subprocess.run([docker, *args], capture_output=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return f"{what} (`docker {' '.join(args)}` timed out)"
        if result.returncode != 0:
            return what
    return None


def test_docker_compose_accepts_the_file() -> None:
    reason = _docker_answers()
    if reason is not None:
        pytest.skip(reason)
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
