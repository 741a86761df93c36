"""Real shippers, not fixtures: collectd (``write_kafka``), rsyslog (``omkafka``) and
syslog-ng (``kafka-c()``) from Debian's packages, and Telegraf (``outputs.kafka``) built
from the Go module proxy, each configured with the text of tests/integration/shippers/
(what the README shows: only the broker, the topics and the paths are filled in, plus
the collection intervals), writing to a real broker; what they send is decoded as the
worker decodes it, and a real worker fires the rules on it.

The packages are installed when missing (tests/integration/debian_shippers.py), the Go
programs built when missing (tests/integration/go_shippers.py); either skips, with the
command to run, when it cannot be. The daemons run in the foreground as children of the
test, with their pid files, state and sockets under tmp_path, and read only what the
test gives them, except collectd and Telegraf, which read this machine's real CPU,
memory and filesystems.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from streams.ingest import SOURCES, Limits, Rejected, decode_input
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic, ensure_topics, topic_specs
from streams.worker_process import start_worker, stop_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.debian_shippers import Debian, Shipper, running
from tests.integration.go_shippers import FILEBEAT, TELEGRAF, built
from tests.integration.pipeline import Outputs, collect_outputs
from tests.kafka_io import Received, consume, end_offsets, run

pytestmark = pytest.mark.integration

SHIPPERS = Path(__file__).parent / "shippers"
ATTACKER = "203.0.113.7"
FAILURES = 25  # failed_login_burst: at least 20 within 5 minutes


# --- the shippers -----------------------------------------------------------------


@pytest.fixture(scope="session")
def debian() -> Debian:
    return Debian()


@pytest.fixture(scope="session")
def collectd(debian: Debian) -> Shipper:
    return debian.shipper("collectd")


@pytest.fixture(scope="session")
def rsyslog(debian: Debian) -> Shipper:
    return debian.shipper("rsyslog")


@pytest.fixture(scope="session")
def syslog_ng(debian: Debian) -> Shipper:
    return debian.shipper("syslog-ng")


def render(name: str, **values: str) -> str:
    """shippers/<name> with its ``@placeholder@``s filled in: each exactly once named."""
    text = (SHIPPERS / name).read_text()
    assert set(re.findall(r"@([a-z_]+)@", text)) == set(values), name
    return re.sub(r"@([a-z_]+)@", lambda m: values[m[1]], text)


def short_dir(tmp_path: Path) -> Path:
    """tmp_path, checked short enough for a unix socket path (108 bytes)."""
    assert len(str(tmp_path / "log.sock")) < 100, tmp_path
    return tmp_path


def send_syslog(path: Path, messages: list[tuple[int, str, int, str]]) -> None:
    """``(priority, program, pid, message)`` datagrams on the unix socket ``path``, in
    the form glibc's syslog(3) writes to /dev/log (``<PRI>Mmm dd hh:mm:ss tag[pid]:
    msg``, local time)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        for pri, program, pid, text in messages:
            stamp = time.strftime("%b %e %H:%M:%S")
            sock.sendto(f"<{pri}>{stamp} {program}[{pid}]: {text}".encode(), str(path))


def short_hostname() -> str:
    """The host name rsyslog and syslog-ng give local messages."""
    return socket.gethostname().split(".")[0]


# --- the topics -------------------------------------------------------------------


def make_topics(settings: OpsrulesSettings, timeout_s: float = 30.0) -> None:
    """The test's topics, once every partition has a leader: until then librdkafka's
    view of a fresh topic has partitions "unavailable", and collectd's write_kafka
    partitioner moves a message on to the next available one, away from its key's."""

    async def led() -> bool:
        admin = AIOKafkaAdminClient(**settings.aiokafka_kwargs())
        await admin.start()
        try:
            described = await admin.describe_topics([s.name for s in topic_specs(settings)])
        finally:
            await admin.close()
        return all(
            t["error_code"] == 0 and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        )

    run(ensure_topics(settings))
    deadline = time.monotonic() + timeout_s
    while not run(led()):
        assert time.monotonic() < deadline, "partitions without a leader"
        time.sleep(0.2)


def everything(settings: OpsrulesSettings, topic: str) -> list[Received]:
    """Every record on ``topic`` now (up to its end offsets)."""
    written = sum(run(end_offsets(settings, topic)).values())
    records: list[Received] = run(consume(settings, topic, expect=written, settle_s=0.2))
    return records


def wait_for_records(
    settings: OpsrulesSettings, topic: str, count: int, timeout_s: float = 60.0
) -> list[Received]:
    """The first ``count`` records of ``topic``, waiting for them (a shipper sends when
    it sends); more are read too."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = everything(settings, topic)
        if len(records) >= count:
            return records
        assert time.monotonic() < deadline, f"{len(records)} of {count} records on {topic}"
        time.sleep(0.3)


def wait_for_actions(
    settings: OpsrulesSettings, want: set[tuple[str, str]], timeout_s: float = 90.0
) -> None:
    """Until an action of each ``(rule_id, type)`` is on the action topics."""

    async def watch() -> None:
        topics = [action_topic(settings, kind) for kind in ACTION_TYPES]
        consumer = AIOKafkaConsumer(
            *topics,
            **settings.aiokafka_kwargs(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + timeout_s
        try:
            while not want <= seen:
                assert time.monotonic() < deadline, f"only {sorted(seen)} of {sorted(want)}"
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        action = orjson.loads(r.value)
                        seen.add((action["rule_id"], action["type"]))
        finally:
            await consumer.stop()

    asyncio.run(watch())


def decode(settings: OpsrulesSettings, role: str, value: bytes) -> list[dict[str, Any]]:
    """A message value as the worker decodes it on the ``role`` topic (its format
    setting, its limits, now); an AssertionError with the reason for what it would
    dead-letter."""
    limits = Limits(
        max_record_bytes=settings.max_record_bytes,
        max_future_skew_ms=int(settings.max_future_skew_s * 1000),
        max_age_ms=int(settings.max_age_s * 1000),
    )
    now_ms = int(time.time() * 1000)
    out = decode_input(SOURCES[role], value, limits, now_ms, settings.topic_format(role))
    assert not isinstance(out, Rejected), (out, value)
    return out


@pytest.fixture
def worker_of(tmp_path: Path) -> Iterator[Any]:
    """``worker_of(settings)`` starts a worker (stopped, exit 0 checked, at the end)."""
    started = []

    def start(settings: OpsrulesSettings) -> None:
        started.append(start_worker(settings, log=tmp_path / "worker.log"))

    yield start
    for worker in started:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]


# --- collectd ---------------------------------------------------------------------


def host_rules(directory: Path) -> None:
    """rules/hosts.yaml's CPU and memory rules, made to fire on any real value within
    seconds: ``condition: value >= 0``, ``for: 0s``, windows of 5 s (1 s grace) instead
    of a minute. Their names, matches, group_by and actions are the shipped ones."""
    shipped = yaml.safe_load((REPO / "rules" / "hosts.yaml").read_text())
    rules = [
        r for r in shipped["rules"] if r["id"] in ("host_cpu_saturated", "host_memory_pressure")
    ]
    for rule in rules:
        assert rule["condition"] == "value > 0.9" and rule["group_by"] == ["host"]
        rule.update(condition="value >= 0", window={**rule["window"], "size": "5s", "grace": "1s"})
        rule["for"] = "0s"
    directory.mkdir()
    text = yaml.safe_dump({"macros": shipped["macros"], "rules": rules}, sort_keys=False)
    (directory / "hosts.yaml").write_text(text)


# The shipped host rules' actions once they fire (host_rules makes them fire at once).
HOST_ACTIONS = {
    ("host_cpu_saturated", "alert"),
    ("host_cpu_saturated", "scale"),
    ("host_memory_pressure", "alert"),
}


def host_actions_of(host: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(rule_id, type, status, group) of each of :data:`HOST_ACTIONS` for ``host``."""
    return [(rule, kind, "firing", {"host": host}) for rule, kind in sorted(HOST_ACTIONS)]


def collectd_conf(
    tmp_path: Path, shipper: Shipper, settings: OpsrulesSettings, *, graphite: bool = False
) -> list[str]:
    text = render(
        "collectd.conf",
        interval="1",
        base_dir=str(tmp_path / "collectd"),
        pid_file=str(tmp_path / "collectd.pid"),
        broker=settings.bootstrap_servers,
        topic=settings.topic(settings.topic_metrics),
    )
    if graphite:
        assert text.count("    Format JSON\n") == 1
        text = text.replace("    Format JSON\n", "    Format Graphite\n")
    (tmp_path / "collectd").mkdir()
    conf = tmp_path / "collectd.conf"
    conf.write_text(text)
    return [str(shipper.daemon), "-f", "-C", str(conf), "-P", str(tmp_path / "collectd.pid")]


def collectd_ready(log: Path) -> Any:
    return lambda: b"Initialization complete" in log.read_bytes()


def real_host_samples(
    settings: OpsrulesSettings, records: list[Received], host: str
) -> dict[str, list[dict[str, Any]]]:
    """The samples of every record (each must decode), by name. Every record has the
    one key of this collectd process, and from its second reading on every record is on
    one partition: while the producer starts, write_kafka's partitioner passes over
    partitions that librdkafka does not know yet to be available, and some of the
    first reading's value lists land on another one."""
    assert len({r.key for r in records}) == 1, Counter(r.key for r in records)
    by_name: dict[str, list[dict[str, Any]]] = {}
    times = []
    for record in records:
        samples = decode(settings, "metrics", record.value)
        for sample in samples:
            assert sample["host"] == host
            by_name.setdefault(sample["name"], []).append(sample)
        times.append(samples[0]["ts_ms"])
    # The first reading: its value lists' times are a few ms apart; the next is 1 s on.
    first = min(times) + 500
    later = Counter(r.partition for r, ts_ms in zip(records, times, strict=True) if ts_ms > first)
    assert len(later) == 1, later
    for name in ("system.cpu.utilization", "system.memory.utilization"):
        assert by_name.get(name), f"no {name} among {sorted(by_name)}"
        assert all(0 <= s["value"] <= 1 for s in by_name[name]), by_name[name]
    return by_name


def test_collectd_json_host_metrics_decode_and_fire_the_host_rules(
    collectd: Shipper, kafka_bootstrap: str, tmp_path: Path, worker_of: Any
) -> None:
    """Real: collectd reading this machine's CPU, memory and filesystems every second,
    write_kafka as the README configures it (Format JSON), the broker, the decoders and
    a worker. Adjusted: the rules. This machine is not at 90% CPU or memory for five
    minutes, so the worker runs rules/hosts.yaml's CPU and memory rules with
    ``condition: value >= 0``, ``for: 0s`` and 5 s windows (:func:`host_rules`): their
    window signals carry collectd's real values, and each fires its shipped actions."""
    host_rules(tmp_path / "rules")
    settings = isolated_settings(kafka_bootstrap, rules_dir=tmp_path / "rules")
    make_topics(settings)
    argv = collectd_conf(tmp_path, collectd, settings)
    log = tmp_path / "collectd.log"
    worker_of(settings)
    with running(argv, log=log, ready=collectd_ready(log)):
        wait_for_actions(settings, HOST_ACTIONS)
    metrics = everything(settings, settings.topic(settings.topic_metrics))
    value_lists = [vl for r in metrics for vl in orjson.loads(r.value)]
    assert len(value_lists) == len(metrics)  # write_kafka: one value list per message
    by_name = real_host_samples(settings, metrics, socket.gethostname())
    idle = [vl for vl in value_lists if (vl["plugin"], vl["type_instance"]) == ("cpu", "idle")]
    assert len(by_name["system.cpu.utilization"]) == len(idle)
    used = [vl for vl in value_lists if (vl["plugin"], vl["type_instance"]) == ("memory", "used")]
    assert len(by_name["system.memory.utilization"]) == len(used)

    out = run(collect_outputs(settings))
    host = socket.gethostname()
    assert out.deadletters == []
    assert sorted(_actions(out)) == host_actions_of(host)
    signals = [
        orjson.loads(r.value) for r in everything(settings, settings.topic(settings.topic_signals))
    ]
    for rule in ("host_cpu_saturated", "host_memory_pressure"):
        windows = [s for s in signals if s["kind"] == "window" and rule in s["rules"]]
        assert windows, f"no window signal for {rule}"
        assert all(s["group"] == {"host": host} for s in windows)
        # A gap of a window or more in collectd's readings (a loaded CI machine) closes an
        # empty window after the last true one, so downstream can resolve: count 0, no mean.
        filled = [s for s in windows if s["values"]["count"] > 0]
        assert filled, f"only empty windows for {rule}: {windows}"
        assert all(0 <= s["values"]["mean"] <= 1 for s in filled), filled
        empty = [s for s in windows if s["values"]["count"] == 0]
        assert all(s["values"]["mean"] is None for s in empty), empty


def test_collectd_graphite_lines_decode_to_the_host_metrics(
    collectd: Shipper, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The README's collectd.conf with ``Format Graphite`` instead of JSON (its
    GraphiteEscapeChar "_" already set): every message decodes, CPU and memory as the
    host rules' metrics, one per reading."""
    settings = isolated_settings(kafka_bootstrap)
    make_topics(settings)
    argv = collectd_conf(tmp_path, collectd, settings, graphite=True)
    log = tmp_path / "collectd.log"
    topic = settings.topic(settings.topic_metrics)
    with running(argv, log=log, ready=collectd_ready(log)):
        deadline = time.monotonic() + 30
        while True:
            lines = [r.value for r in everything(settings, topic)]
            if sum(b".cpu.percent-idle " in line for line in lines) >= 3:
                break
            assert time.monotonic() < deadline, lines
            time.sleep(0.5)
    records = everything(settings, topic)
    assert all(r.value.endswith(b"\r\n") for r in records)  # as format_graphite writes
    # GraphiteEscapeChar "_": the dots of a host name with a domain are escaped too
    by_name = real_host_samples(settings, records, socket.gethostname().replace(".", "_"))
    idle = [r for r in records if b".cpu.percent-idle " in r.value]
    assert len(by_name["system.cpu.utilization"]) == len(idle) >= 3
    used = [r for r in records if b".memory.percent-used " in r.value]
    assert len(by_name["system.memory.utilization"]) == len(used)


def _actions(out: Outputs) -> list[tuple[Any, ...]]:
    """(rule_id, type, status, group) of every action."""
    return [
        (a["rule_id"], a["type"], a["status"], a["group"]) for a in (r.json() for r in out.actions)
    ]


# --- rsyslog ----------------------------------------------------------------------

# What Debian's /etc/rsyslog.conf contributes around the drop-in: a work directory and
# the local socket input (here on a socket of the test's own, not /dev/log).
RSYSLOG_MAIN = """\
global(workDirectory="{work_dir}")
module(load="imuxsock" SysSock.Name="{socket}")
"""


def test_rsyslog_sshd_failures_fire_failed_login_burst_and_every_line_is_a_log_record(
    rsyslog: Shipper, kafka_bootstrap: str, tmp_path: Path, worker_of: Any
) -> None:
    """rsyslogd with the README's drop-in, fed through its local socket as syslog(3)
    feeds it: 25 of sshd's ``Failed password`` lines from one address, one ``Accepted``
    and one other sshd line, one line of another program. On the security topic exactly
    sshd's 26 attempts, keyed by client address; on the logs topic all 28 lines, keyed
    by program, as log records with host, service and severity; the shipped rules in a
    real worker fire failed_login_burst for the address, and nothing else."""
    work = short_dir(tmp_path)
    settings = isolated_settings(kafka_bootstrap)
    make_topics(settings)
    logs_topic = settings.topic(settings.topic_logs)
    security_topic = settings.topic(settings.topic_security)
    sock = work / "log.sock"
    conf = work / "rsyslog.conf"
    conf.write_text(
        RSYSLOG_MAIN.format(work_dir=work, socket=sock)
        + render(
            "rsyslog.conf",
            broker=settings.bootstrap_servers,
            logs_topic=logs_topic,
            security_topic=security_topic,
        )
    )
    argv = [str(rsyslog.daemon), "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")]
    if rsyslog.unpacked:
        argv += ["-M", str(rsyslog.module_dir)]
    failures = [
        f"Failed password for root from {ATTACKER} port {40000 + i} ssh2" for i in range(FAILURES)
    ]
    accepted = "Accepted publickey for alice from 198.51.100.2 port 50000 ssh2: ED25519 SHA256:x"
    closed = f"Connection closed by authenticating user root {ATTACKER} port 40000 [preauth]"
    auth_info, user_err = 4 * 8 + 6, 1 * 8 + 3
    lines = [(auth_info, "sshd", 4242, text) for text in [*failures, accepted, closed]]
    lines.append((user_err, "myapp", 77, "disk /dev/sdz failed"))

    worker_of(settings)
    log = work / "rsyslogd.log"
    with running(argv, log=log, ready=sock.exists, env=rsyslog.env):
        send_syslog(sock, lines)
        wait_for_actions(settings, {("failed_login_burst", "alert")})
        logs = wait_for_records(settings, logs_topic, len(lines))
        security = wait_for_records(settings, security_topic, FAILURES + 1)

    host = short_hostname()
    assert Counter(r.key for r in security) == {ATTACKER: FAILURES, "198.51.100.2": 1}
    events = [e for r in security for e in decode(settings, "security", r.value)]
    assert sorted(
        (e["source"]["ip"], e["source"]["port"], e["event"]["outcome"]) for e in events
    ) == [
        ("198.51.100.2", 50000, "success"),
        *((ATTACKER, 40000 + i, "failure") for i in range(FAILURES)),
    ]
    assert {(e["host"]["name"], e["process"]["name"], e["process"]["pid"]) for e in events} == {
        (host, "sshd", 4242)
    }

    assert Counter(r.key for r in logs) == {"sshd": FAILURES + 2, "myapp": 1}
    texts = [text for _, _, _, text in lines]
    records = sorted(
        (rec for r in logs for rec in decode(settings, "logs", r.value)),
        key=lambda rec: texts.index(rec["body"]),
    )
    assert [
        (rec["host"], rec["service"], rec["severity_text"], rec["body"]) for rec in records
    ] == [
        (host, program, {auth_info: "info", user_err: "err"}[pri], text)
        for pri, program, _, text in lines
    ]

    out = run(collect_outputs(settings))
    assert out.deadletters == []
    assert _actions(out) == [("failed_login_burst", "alert", "firing", {"source.ip": ATTACKER})]


# --- syslog-ng --------------------------------------------------------------------


def test_syslog_ng_lines_reach_the_logs_topic_as_log_records(
    syslog_ng: Shipper, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """syslog-ng with the README's drop-in, its s_src a unix-dgram socket of the test's
    own (Debian's reads /dev/log there), fed as syslog(3) feeds it: every line reaches
    the logs topic, keyed by program, and decodes as the worker decodes it (nothing
    would be dead-lettered) into a log record with host, service, severity and body."""
    work = short_dir(tmp_path)
    settings = isolated_settings(kafka_bootstrap)
    make_topics(settings)
    logs_topic = settings.topic(settings.topic_logs)
    sock = work / "log.sock"
    config_version = ".".join(syslog_ng.versions["syslog-ng-core"].split(".")[:2])
    conf = work / "syslog-ng.conf"
    conf.write_text(
        f'@version: {config_version}\nsource s_src {{ unix-dgram("{sock}"); }};\n'
        + render("syslog-ng.conf", broker=settings.bootstrap_servers, logs_topic=logs_topic)
    )
    argv = [
        str(syslog_ng.daemon),
        "-F",
        "--stderr",
        "-f",
        str(conf),
        "-p",
        str(work / "syslog-ng.pid"),
        "-R",
        str(work / "syslog-ng.persist"),
        "-c",
        str(work / "syslog-ng.ctl"),
    ]
    if syslog_ng.unpacked:
        argv.append(f"--module-path={syslog_ng.module_dir}")
    lines = [
        (4 * 8 + 6, "sshd", 4242, f"Failed password for root from {ATTACKER} port 40000 ssh2"),
        (3 * 8 + 3, "nginx", 900, "upstream timed out (110: Connection timed out)"),
        (1 * 8 + 4, "backup", 31, "disk 91% full"),
        (16 * 8 + 2, "postgres", 55, 'FATAL:  password authentication failed for user "app"'),
        (3 * 8 + 7, "cron", 12, "job started"),
    ]
    log = work / "syslog-ng.log"
    with running(argv, log=log, ready=sock.exists, env=syslog_ng.env):
        send_syslog(sock, lines)
        logs = wait_for_records(settings, logs_topic, len(lines))
    assert len(logs) == len(lines)
    assert Counter(r.key for r in logs) == Counter(program for _, program, _, _ in lines)
    texts = [text for _, _, _, text in lines]
    records = sorted(
        (rec for r in logs for rec in decode(settings, "logs", r.value)),
        key=lambda rec: texts.index(rec["body"]),
    )
    severities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
    facilities = {4: "auth", 3: "daemon", 1: "user", 16: "local0"}
    host = short_hostname()
    assert [
        (
            rec["host"],
            rec["service"],
            rec["severity_text"],
            rec["attributes"]["facility"],
            rec["attributes"]["procid"],
            rec["body"],
        )
        for rec in records
    ] == [
        (host, program, severities[pri % 8], facilities[pri // 8], str(pid), text)
        for pri, program, pid, text in lines
    ]


# --- Telegraf ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def telegraf() -> Path:
    return built(TELEGRAF)


def telegraf_conf(tmp_path: Path, settings: OpsrulesSettings, data_format: str) -> Path:
    text = render(
        "telegraf.conf",
        broker=settings.bootstrap_servers,
        topic=settings.topic(settings.topic_metrics),
    )
    default = '  data_format = "influx"        # the default; "json" works too\n'
    assert text.count(default) == 1
    conf = tmp_path / "telegraf.conf"
    conf.write_text(text.replace(default, f'  data_format = "{data_format}"\n'))
    return conf


@pytest.mark.parametrize("data_format", ["influx", "json"])
def test_telegraf_host_metrics_decode_and_fire_the_host_rules(
    telegraf: Path, data_format: str, kafka_bootstrap: str, tmp_path: Path, worker_of: Any
) -> None:
    """Real: Telegraf (built from the Go module proxy) reading this machine's CPU, memory
    and disks every second, outputs.kafka as the README configures it (key: the host
    tag) in its default line protocol and in JSON; the broker, the decoders and a worker
    running the shipped CPU and memory rules made to fire on any value
    (:func:`host_rules`)."""
    host_rules(tmp_path / "rules")
    settings = isolated_settings(kafka_bootstrap, rules_dir=tmp_path / "rules")
    make_topics(settings)
    conf = telegraf_conf(tmp_path, settings, data_format)
    log = tmp_path / "telegraf.log"
    worker_of(settings)
    with running(
        [str(telegraf), "--config", str(conf)],
        log=log,
        ready=lambda: b"Loaded outputs: kafka" in log.read_bytes(),
    ):
        wait_for_actions(settings, HOST_ACTIONS)
    host = socket.gethostname()
    records = everything(settings, settings.topic(settings.topic_metrics))
    assert {r.key for r in records} == {host}  # routing_tag = "host"
    samples = [s for r in records for s in decode(settings, "metrics", r.value)]
    assert {s["host"] for s in samples} == {host}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        by_name.setdefault(sample["name"], []).append(sample)
    # one canonical sample per reading of the whole host's idle time and used memory
    total_idle = [s for s in by_name["cpu.usage_idle"] if s["labels"]["cpu"] == "cpu-total"]
    assert len(by_name["system.cpu.utilization"]) == len(total_idle) > 0
    for idle, busy in zip(total_idle, by_name["system.cpu.utilization"], strict=True):
        assert busy["value"] == round(1 - idle["value"] / 100, 6)
    assert len(by_name["system.memory.utilization"]) == len(by_name["mem.used_percent"]) > 0
    assert all(0 <= s["value"] <= 1 for s in by_name["system.memory.utilization"])
    mounts = {s["labels"]["mountpoint"] for s in by_name["system.filesystem.utilization"]}
    assert "/" in mounts

    out = run(collect_outputs(settings))
    assert out.deadletters == []
    assert sorted(_actions(out)) == host_actions_of(host)


# --- Filebeat ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def filebeat() -> Path:
    return built(FILEBEAT)


def test_filebeat_auth_log_fires_failed_login_burst_and_app_lines_are_log_records(
    filebeat: Path, kafka_bootstrap: str, tmp_path: Path, worker_of: Any
) -> None:
    """Filebeat 7.17 (built from the Go module proxy) with the README's output.kafka,
    reading a file in auth.log's form: sshd's 26 attempts reach the security topic and
    decode as authentication events, the other lines the logs topic as log records with
    their program as service, all keyed by host; the shipped rules in a real worker fire
    failed_login_burst for the address, and nothing else."""
    settings = isolated_settings(kafka_bootstrap)
    make_topics(settings)
    logs_topic = settings.topic(settings.topic_logs)
    security_topic = settings.topic(settings.topic_security)
    home = tmp_path / "home"
    (home / "module").mkdir(parents=True)  # else Filebeat logs an error about modules
    auth_log = tmp_path / "auth.log"
    auth_log.write_text("")
    conf = tmp_path / "filebeat.yml"
    conf.write_text(
        render(
            "filebeat.yml",
            broker=settings.bootstrap_servers,
            logs_topic=logs_topic,
            security_topic=security_topic,
            log_path=str(auth_log),
            data_dir=str(tmp_path / "data"),
            logs_dir=str(tmp_path / "logs"),
        )
    )
    conf.chmod(0o600)  # Filebeat refuses a configuration others may write
    host = socket.gethostname()
    stamp = time.strftime("%b %e %H:%M:%S")
    failures = [
        f"{stamp} {host} sshd[4242]: Failed password for root from {ATTACKER} port {40000 + i} ssh2"
        for i in range(FAILURES)
    ]
    accepted = (
        f"{stamp} {host} sshd[4243]: Accepted publickey for alice from 198.51.100.2 port 50000 ssh2"
    )
    others = [
        f"{stamp} {host} sshd[4242]: Connection closed by authenticating user root "
        f"{ATTACKER} port 40000 [preauth]",
        f"{stamp} {host} myapp[77]: disk /dev/sdz failed",
    ]
    worker_of(settings)
    log = tmp_path / "filebeat.log"
    argv = [str(filebeat), "-e", "-c", str(conf), "--path.home", str(home)]
    with running(
        argv, log=log, ready=lambda: b"Loading and starting Inputs completed" in log.read_bytes()
    ):
        with auth_log.open("a") as out:
            out.writelines(f"{line}\n" for line in [*failures, accepted, *others])
        wait_for_actions(settings, {("failed_login_burst", "alert")})
        security = wait_for_records(settings, security_topic, FAILURES + 1)
        logs = wait_for_records(settings, logs_topic, len(others))

    assert {r.key for r in security + logs} == {host}
    events = [e for r in security for e in decode(settings, "security", r.value)]
    assert sorted(
        (e["source"]["ip"], e["source"]["port"], e["event"]["outcome"]) for e in events
    ) == [
        ("198.51.100.2", 50000, "success"),
        *((ATTACKER, 40000 + i, "failure") for i in range(FAILURES)),
    ]
    assert {(e["host"]["name"], e["process"]["name"]) for e in events} == {(host, "sshd")}
    assert {e["agent"]["type"] for e in events} == {"filebeat"}  # Filebeat's fields stay
    records = [rec for r in logs for rec in decode(settings, "logs", r.value)]
    assert sorted((rec["host"], rec["service"], rec["body"]) for rec in records) == sorted(
        [(host, "sshd", others[0]), (host, "myapp", others[1])]
    )

    out = run(collect_outputs(settings))
    assert out.deadletters == []
    assert _actions(out) == [("failed_login_burst", "alert", "firing", {"source.ip": ATTACKER})]
