"""A real OpenTelemetry Collector, not a fixture: built from the Go module proxy
(tests/integration/go_shippers.py, shippers/otelcol/: core v0.160.0, contrib v0.160.0),
run with the README's configuration (shippers/otelcol.yaml: hostmetrics, the
resourcedetection processor's system detector, the contrib kafka exporter) and the
test's own overrides, reading this machine's real CPU, memory and filesystems and
writing to a real broker; what it sends is decoded as the worker decodes it, and a real
worker fires the shipped host rules on it.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.settings import OpsrulesSettings
from tests.conftest import isolated_settings
from tests.integration.debian_shippers import running
from tests.integration.go_shippers import OTELCOL, built
from tests.integration.pipeline import collect_outputs
from tests.integration.test_real_shippers import (
    HOST_ACTIONS,
    _actions,
    decode,
    everything,
    host_actions_of,
    host_rules,
    make_topics,
    render,
    wait_for_actions,
    worker_of,  # noqa: F401  (the fixture)
)
from tests.kafka_io import run

pytestmark = pytest.mark.integration

# The test's own settings, merged over the README's (maps merge, lists replace):
# a scrape every second, the Collector's log on stderr at info, and no telemetry
# listener on :8888.
OVERRIDES = """\
receivers:
  hostmetrics:
    collection_interval: 1s
service:
  telemetry:
    logs: {level: info}
    metrics: {level: none}
"""


@pytest.fixture(scope="session")
def otelcol() -> Path:
    return built(OTELCOL)


def otelcol_argv(
    otelcol: Path, tmp_path: Path, settings: OpsrulesSettings, encoding: str
) -> list[str]:
    """The Collector with the README's configuration (its kafka exporter's encoding
    replaced by ``encoding``) and the test's overrides."""
    text = render(
        "otelcol.yaml",
        broker=settings.bootstrap_servers,
        metrics_topic=settings.topic(settings.topic_metrics),
        logs_topic=settings.topic(settings.topic_logs),
    )
    assert text.count(", encoding: otlp_proto}\n") == 2  # metrics and logs
    conf = tmp_path / "otelcol.yaml"
    conf.write_text(text.replace(", encoding: otlp_proto}\n", f", encoding: {encoding}}}\n"))
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(OVERRIDES)
    return [str(otelcol), "--config", f"file:{conf}", "--config", f"file:{overrides}"]


def detected_host_names() -> set[str]:
    """What the system detector may call this machine (``hostname_sources``: dns, then
    os): its FQDN as /etc/hosts or DNS give it, or the OS host name."""
    name = socket.gethostname()
    names = {name, socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= {info[3] for info in socket.getaddrinfo(name, None, flags=socket.AI_CANONNAME)}
    return names - {""}


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json"])
def test_otelcol_host_metrics_decode_and_fire_the_host_rules(
    otelcol: Path,
    encoding: str,
    kafka_bootstrap: str,
    tmp_path: Path,
    worker_of: Any,  # noqa: F811
) -> None:
    """Real: the Collector (built from the Go module proxy) scraping this machine's CPU,
    memory and filesystems every second, ``host.name`` from resourcedetection's system
    detector, the kafka exporter as the README configures it in OTLP protobuf (its
    default) and in OTLP JSON; the broker, the decoders and a worker running the
    shipped CPU and memory rules made to fire on any value (:func:`host_rules`)."""
    host_rules(tmp_path / "rules")
    settings = isolated_settings(kafka_bootstrap, rules_dir=tmp_path / "rules")
    make_topics(settings)
    argv = otelcol_argv(otelcol, tmp_path, settings, encoding)
    log = tmp_path / "otelcol.log"
    worker_of(settings)
    with running(argv, log=log, ready=lambda: b"Everything is ready" in log.read_bytes()):
        wait_for_actions(settings, HOST_ACTIONS)

    records = everything(settings, settings.topic(settings.topic_metrics))
    assert records
    # partition_metrics_by_resource_attributes: one message per resource (this host's
    # scrapers), all keyed by the hash of its attributes, so all on one partition
    assert len({r.key for r in records}) == 1 and None not in {r.key for r in records}
    assert len({r.partition for r in records}) == 1
    if encoding == "otlp_json":
        assert all(r.value.startswith(b'{"resourceMetrics":') for r in records)
    samples = [s for r in records for s in decode(settings, "metrics", r.value)]
    hosts = {s["host"] for s in samples}
    assert len(hosts) == 1 and "" not in hosts, hosts
    (host,) = hosts
    assert host in detected_host_names()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        by_name.setdefault(sample["name"], []).append(sample)
    # the first scrape has no CPU utilisation yet (a ratio of two readings); from the
    # second on, 1 - idle of the whole machine (this release sends no per-CPU `cpu`
    # attribute): the points of its other modes and memory states under
    # <name>.<state> (processors/formats/host_metrics.py)
    for name in ("system.cpu.utilization", "system.memory.utilization"):
        assert by_name.get(name), f"no {name} among {sorted(by_name)}"
        assert all(0 <= s["value"] <= 1 for s in by_name[name]), by_name[name]
    assert all("state" not in s["labels"] for s in by_name["system.cpu.utilization"])
    assert {s["labels"]["state"] for s in by_name["system.memory.utilization"]} == {"used"}
    assert "system.cpu.utilization.user" in by_name
    assert "system.memory.utilization.free" in by_name
    # the system detector's other resource attribute, a label of every sample
    assert {s["labels"].get("os.type") for s in samples} == {sys.platform}
    mounts = {s["labels"].get("mountpoint") for s in by_name["system.filesystem.utilization"]}
    assert "/" in mounts

    out = run(collect_outputs(settings))
    assert out.deadletters == []
    assert sorted(_actions(out)) == host_actions_of(host)
