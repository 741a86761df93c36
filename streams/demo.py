"""``opsrules demo``: the whole loop on a real broker, in one command.

Starts (or reuses) the local Kafka, ensures the topics, runs ``opsrules worker`` with
the rules in ``rules/`` and ``opsrules act`` as child processes, plays a scenario
(``streams/scenarios.py``) into the input topics with event time running 60x, and
shows the actions as they arrive and as act delivers them. act's receivers file is the
demo's own (every action to a webhook on 127.0.0.1 that the demo serves), never
``rules/receivers.yaml``, whose commands could act on this machine. Exits when every
action the rules must produce for the scenario arrived and was delivered (0), on
timeout (1) or on Ctrl-C; stops both processes cleanly and, unless ``--keep``, the
broker it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from processors.timestamps import parse_ts_ms
from streams import kafka_local
from streams.app import state_dir
from streams.offline import run_offline
from streams.scenarios import SCENARIOS, generate
from streams.settings import OpsrulesSettings
from streams.simulate import default_start_ms, run_simulation
from streams.topics import ACTION_TYPES, action_topic, ensure_topics, topic_partitions
from streams.worker import load_rulebook


def _say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp}  {message}", file=sys.stderr, flush=True)


@contextmanager
def _local_kafka(settings: OpsrulesSettings, keep: bool) -> Iterator[None]:
    """Reuse a broker that answers; else start the local one (and stop it afterwards)."""
    if kafka_local.answers(settings.bootstrap_servers):
        _say(f"using Kafka at {settings.bootstrap_servers}")
        yield
        return
    config = kafka_local.LocalKafkaConfig.from_settings(settings)
    if settings.bootstrap_servers != config.bootstrap:
        from processors.errors import KafkaUnavailableError

        raise KafkaUnavailableError(settings.bootstrap_servers, "not answering")
    state = kafka_local.up(config)
    try:
        yield
    finally:
        if state.started and not keep:
            kafka_local.down(config)
        elif state.started:
            _say(f"Kafka left running at {config.bootstrap}; stop it with `opsrules kafka down`")


@contextmanager
def _child(settings: OpsrulesSettings, name: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``opsrules <name> *args`` as a child process, stopped with SIGTERM at the end."""
    log_path = state_dir(settings) / f"demo-{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OPSRULES_BOOTSTRAP_SERVERS=settings.bootstrap_servers)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", name, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    _say(f"{name} started (pid {proc.pid}, log {log_path})")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            _say(f"{name} stopped cleanly (exit {code})")
        else:
            _say(f"{name} had exited with {proc.returncode}; see {log_path}")


@contextmanager
def _webhook() -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    """A webhook receiver on 127.0.0.1 (a free port): its URL, and the actions it got."""
    got: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.put(orjson.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/demo", got
    finally:
        server.shutdown()
        server.server_close()


def _receivers_file(settings: OpsrulesSettings, url: str) -> Path:
    path = state_dir(settings) / "demo-receivers.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# opsrules demo: every action to the demo's own webhook\n"
        f'receivers:\n  - name: demo-webhook\n    webhook: {{url: "{url}"}}\n'
        "route:\n  receiver: demo-webhook\n"
    )
    return path


_COLUMNS = "{:<8}  {:>6}  {:<8}  {:<8}  {:<8}  {:<20}  {:<18}  {}"


def _row(action: dict[str, Any], start_ms: int) -> str:
    offset_s = (parse_ts_ms(action["ts"]) - start_ms) // 1000
    group = ",".join(f"{k}={v}" for k, v in action["group"].items())
    return _COLUMNS.format(
        time.strftime("%H:%M:%S"),
        f"+{offset_s // 60}:{offset_s % 60:02d}",
        action["type"],
        action["status"],
        action["severity"],
        action["rule_id"],
        group,
        action["summary"],
    )


async def _watch(
    settings: OpsrulesSettings,
    scenario: str,
    timeout_s: float,
    speed: float | None,
    as_json: bool,
    delivered: queue.Queue[dict[str, Any]],
) -> int:
    """Send the scenario and print each action as it arrives and as act delivers it,
    until the actions the rules must produce for it all arrived and were delivered (0)
    or the timeout (1)."""
    start_ms = default_start_ms(int(time.time() * 1000))
    rulebook = load_rulebook(settings)
    expected = run_offline(
        rulebook, [(e.role, e.value) for e in generate(scenario, start_ms=start_ms)]
    ).actions
    topics = [action_topic(settings, kind) for kind in ACTION_TYPES]
    consumer = AIOKafkaConsumer(**settings.aiokafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        # Start reading at today's end, so only this run's actions are shown.
        partitions = await topic_partitions(settings, topics)
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        _say(f"scenario {scenario}: {SCENARIOS[scenario].description}")
        _say(f"expecting {len(expected)} actions; event time runs {speed or 'max'}x")
        if not as_json:
            print(
                _COLUMNS.format(
                    "TIME", "EVENT", "TYPE", "STATUS", "SEVERITY", "RULE", "GROUP", "SUMMARY"
                ),
                flush=True,
            )
        sender = asyncio.create_task(
            run_simulation(settings, scenario, start_ms=start_ms, speed=speed, progress=_say)
        )
        wanted = {a.id for a in expected}
        seen: set[str] = set()
        handed: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while not (wanted <= seen and wanted <= handed) and time.monotonic() < deadline:
            if sender.done():
                sender.result()  # raise a send failure now
            for records in (await consumer.getmany(timeout_ms=250)).values():
                for record in records:
                    body = orjson.loads(record.value)
                    seen.add(body["id"])
                    print(record.value.decode() if as_json else _row(body, start_ms), flush=True)
            while not delivered.empty():
                body = delivered.get()
                if body["id"] in wanted and body["id"] not in handed:
                    handed.add(body["id"])
                    what = f"{body['type']} {body['status']} of {body['rule_id']}"
                    _say(f"act delivered the {what} to demo-webhook")
        if not sender.done():
            sender.cancel()
        missing, undelivered = wanted - seen, wanted - handed
        if missing or undelivered:
            _say(
                f"timed out after {timeout_s:.0f}s: {len(missing)} of {len(wanted)} actions "
                f"did not arrive, {len(undelivered)} were not delivered"
            )
            return 1
        _say(
            f"done: {len(seen)} actions for {scenario}, {len(handed)} delivered by act"
            + (f" (the rules expected {len(wanted)})" if len(seen) != len(wanted) else "")
        )
        return 0
    finally:
        await consumer.stop()


def run_demo(
    settings: OpsrulesSettings,
    *,
    scenario: str = "cpu-saturation",
    timeout_s: float = 90.0,
    speed: float | None = 60.0,
    as_json: bool = False,
    keep: bool = False,
) -> int:
    # Right after topics are created aiokafka logs leader-election retries as errors;
    # the demo shows the records instead (the worker keeps its full log).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        with _local_kafka(settings, keep):
            created = asyncio.run(ensure_topics(settings))
            if created:
                _say(f"created {len(created)} topics")
            with (
                _webhook() as (url, delivered),
                _child(settings, "worker"),
                _child(settings, "act", "--receivers", str(_receivers_file(settings, url))),
            ):
                return asyncio.run(_watch(settings, scenario, timeout_s, speed, as_json, delivered))
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
