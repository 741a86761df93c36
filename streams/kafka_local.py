"""A real single-node Apache Kafka (KRaft, broker+controller) on loopback, no Docker.

``opsrules kafka up`` provisions the broker jars pinned in ``deploy/kafka/pom.xml``
with Maven into a per-user cache (a second clone reuses them), formats KRaft storage,
starts the JVM in its own session with its output in ``<data dir>/broker.log``, and
waits until a client round-trip succeeds. A broker that already answers is reused.
``down`` stops our broker by the pid it recorded, never by process name.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from processors.errors import KafkaLocalError, MissingToolError
from streams.settings import OpsrulesSettings

MIN_JAVA_MAJOR = 17
BROKER_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deploy_dir() -> Path:
    """``deploy/kafka`` of the checkout, or its copy inside an installed wheel."""
    packaged = Path(__file__).parent / "_deploy" / "kafka"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "deploy" / "kafka"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


@dataclass(frozen=True, slots=True)
class LocalKafkaConfig:
    port: int
    controller_port: int
    heap: str
    data_dir: Path
    cache_dir: Path
    start_timeout_s: float

    @classmethod
    def from_settings(cls, settings: OpsrulesSettings) -> LocalKafkaConfig:
        port = settings.kafka_port
        return cls(
            port=port,
            controller_port=settings.kafka_controller_port or port + 1,
            heap=settings.kafka_heap,
            data_dir=settings.kafka_data_dir
            or _xdg("XDG_STATE_HOME", ".local/state") / "opsrules" / f"kafka-{port}",
            cache_dir=settings.kafka_cache_dir
            or _xdg("XDG_CACHE_HOME", ".cache") / "opsrules" / "kafka",
            start_timeout_s=settings.kafka_start_timeout_s,
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"


# --- tools -------------------------------------------------------------------------


def java_major_version(java: str) -> int:
    """Major version of ``java``; reads ``java -version`` (which prints to stderr)."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise MissingToolError("Java 17+", f"could not read the version of {java}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means Java 8


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise MissingToolError("Java 17+", "no `java` on PATH (or under $JAVA_HOME)")
    major = java_major_version(java)
    if major < MIN_JAVA_MAJOR:
        raise MissingToolError("Java 17+", f"{java} is Java {major}; Kafka 4 needs 17 or newer")
    return java


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise MissingToolError("Maven", "no `mvn` on PATH; it downloads the pinned Kafka jars")
    return mvn


# --- provisioning ------------------------------------------------------------------


def pom_path() -> Path:
    return deploy_dir() / "pom.xml"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom_path().read_text())
    if not match:
        raise KafkaLocalError(f"{pom_path()} does not pin <kafka.version>")
    return match.group(1)


def libs_dir(config: LocalKafkaConfig) -> Path:
    """Cache folder of one exact pom: a changed pin provisions a fresh folder."""
    digest = hashlib.sha256(pom_path().read_bytes()).hexdigest()[:12]
    return config.cache_dir / f"{kafka_version()}-{digest}" / "libs"


def provision(config: LocalKafkaConfig, progress: Progress = _stderr) -> Path:
    """Copy the pinned broker classpath into the cache (once) and return its folder."""
    libs = libs_dir(config)
    if (libs / ".complete").exists():
        return libs
    mvn = find_maven()
    staging = libs.with_name(f"libs.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"provisioning Apache Kafka {kafka_version()} with Maven into {libs} …")
    cmd = [
        mvn,
        "-B",
        "--no-transfer-progress",
        "-f",
        str(pom_path()),
        "dependency:copy-dependencies",
        f"-Dkafka.libs.dir={staging}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise KafkaLocalError(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n{tail}\n"
            "Check that Maven Central is reachable (or a mirror in ~/.m2/settings.xml)."
        )
    jars = list(staging.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise KafkaLocalError(f"Maven finished but {staging} holds no kafka_2.13 jar")
    (staging / ".complete").write_text(f"{len(jars)} jars\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    progress(f"cached {len(jars)} jars")
    return libs


def _server_properties(config: LocalKafkaConfig) -> str:
    return f"""\
# Written by `opsrules kafka up`; regenerated on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{config.controller_port}
listeners=PLAINTEXT://127.0.0.1:{config.port},CONTROLLER://127.0.0.1:{config.controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{config.port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={config.data_dir / "data"}
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
"""


def _log4j_properties() -> str:
    return """\
# Written by `opsrules kafka up`: broker log to stdout, which goes to broker.log.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


def _java_cmd(java: str, libs: Path, config: LocalKafkaConfig, main_class: str) -> list[str]:
    return [
        java,
        f"-Xms{config.heap}",
        f"-Xmx{config.heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={config.data_dir / 'log4j2.properties'}",
        "-cp",
        f"{libs}/*",
        main_class,
    ]


def new_cluster_id(draw: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id as Kafka's ``random-uuid`` makes them (16 random bytes, base64
    URL-safe, unpadded), never starting with ``-``: ``kafka-storage format -t -x…`` read
    such an id as an option and failed one first start in 64."""
    while True:
        cluster_id = base64.urlsafe_b64encode(draw()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(
    java: str, libs: Path, config: LocalKafkaConfig, cluster_id: str | None = None
) -> None:
    if (config.data_dir / "data" / "meta.properties").exists():
        return
    cmd = [
        *_java_cmd(java, libs, config, STORAGE_TOOL_CLASS),
        "format",
        "-t",
        cluster_id or new_cluster_id(),
        "-c",
        str(config.properties_file),
        "--ignore-formatted",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise KafkaLocalError(
            f"formatting KRaft storage in {config.data_dir} failed:\n{result.stderr[-2000:]}"
        )


# --- process control ---------------------------------------------------------------


def _our_broker(config: LocalKafkaConfig) -> psutil.Process | None:
    """The broker process recorded in the pid file, if it is alive and really ours."""
    try:
        pid = int(config.pid_file.read_text().strip())
        process = psutil.Process(pid)
        cmdline = process.cmdline()
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    if BROKER_MAIN_CLASS in cmdline and str(config.properties_file) in cmdline:
        return process
    return None


async def _round_trip(bootstrap: str, timeout_s: float) -> str | None:
    """List topics once; None on success, else what went wrong."""
    from aiokafka.admin import AIOKafkaAdminClient

    # aiokafka logs every refused connection at ERROR; here refusal is an answer.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return None
    except Exception as exc:  # any failure means "not answering yet"
        return str(exc) or type(exc).__name__
    finally:
        await admin.close()
        aiokafka_log.setLevel(level)


def answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a Kafka broker at ``bootstrap`` completes a metadata round-trip."""
    return asyncio.run(_round_trip(bootstrap, timeout_s)) is None


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    up: bool
    ours: bool
    pid: int | None
    bootstrap: str
    detail: str
    started: bool = False  # True when this call started the process


def status(config: LocalKafkaConfig) -> BrokerStatus:
    process = _our_broker(config)
    pid = process.pid if process else None
    if answers(config.bootstrap, timeout_s=5.0):
        detail = f"pid {pid}, log {config.log_file}" if pid else "not started by opsrules"
        return BrokerStatus(True, pid is not None, pid, config.bootstrap, detail)
    if process:
        return BrokerStatus(False, True, pid, config.bootstrap, "process alive, not answering")
    return BrokerStatus(False, False, None, config.bootstrap, "not running")


def up(config: LocalKafkaConfig, progress: Progress = _stderr) -> BrokerStatus:
    """Start the broker, or reuse one that already answers; return once it answers."""
    current = status(config)
    if current.up:
        progress(f"Kafka already up at {config.bootstrap} ({current.detail}); reusing it")
        return current
    if current.ours:  # alive but not answering: maybe still starting
        return _wait_until_up(config, psutil.Process(current.pid), progress)
    for port in (config.port, config.controller_port):
        if _port_in_use(port):
            raise KafkaLocalError(
                f"port {port} on 127.0.0.1 is taken by something that is not a Kafka broker; "
                "choose others with OPSRULES_KAFKA_PORT / OPSRULES_KAFKA_CONTROLLER_PORT"
            )
    java = find_java()
    libs = provision(config, progress)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.properties_file.write_text(_server_properties(config))
    (config.data_dir / "log4j2.properties").write_text(_log4j_properties())
    _format_storage(java, libs, config)
    progress(f"starting Kafka {kafka_version()} on {config.bootstrap} (log: {config.log_file})")
    with config.log_file.open("ab") as log:
        proc = subprocess.Popen(
            [*_java_cmd(java, libs, config, BROKER_MAIN_CLASS), str(config.properties_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in our terminal must not hit the broker
            close_fds=True,
        )
    config.pid_file.write_text(f"{proc.pid}\n")
    return _wait_until_up(config, psutil.Process(proc.pid), progress)


def _wait_until_up(
    config: LocalKafkaConfig, process: psutil.Process, progress: Progress
) -> BrokerStatus:
    deadline = time.monotonic() + config.start_timeout_s
    last_error = "not answering yet"
    while time.monotonic() < deadline:
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            tail = _log_tail(config)
            config.pid_file.unlink(missing_ok=True)
            raise KafkaLocalError(
                f"the Kafka broker exited during start; {config.log_file}:\n{tail}"
            )
        error = asyncio.run(_round_trip(config.bootstrap, timeout_s=5.0))
        if error is None:
            progress(f"Kafka is up at {config.bootstrap} (pid {process.pid})")
            return BrokerStatus(True, True, process.pid, config.bootstrap, "started", started=True)
        last_error = error
        time.sleep(0.5)
    raise KafkaLocalError(
        f"Kafka did not answer at {config.bootstrap} within {config.start_timeout_s:.0f}s "
        f"({last_error}); it is still running as pid {process.pid}, see {config.log_file} "
        "and stop it with `opsrules kafka down`"
    )


def _log_tail(config: LocalKafkaConfig, lines: int = 30) -> str:
    try:
        return "\n".join(config.log_file.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def down(config: LocalKafkaConfig, timeout_s: float = 60.0, progress: Progress = _stderr) -> bool:
    """Stop our broker (SIGTERM, then SIGKILL after ``timeout_s``); False if none ran."""
    process = _our_broker(config)
    if process is None:
        config.pid_file.unlink(missing_ok=True)
        progress(f"no opsrules Kafka broker is running for {config.data_dir}")
        return False
    progress(f"stopping Kafka (pid {process.pid}) …")
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        progress(f"Kafka did not stop within {timeout_s:.0f}s; killing it")
        process.kill()
        process.wait(timeout=10)
    config.pid_file.unlink(missing_ok=True)
    progress("Kafka stopped")
    return True
