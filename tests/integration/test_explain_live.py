"""``opsrules explain --live`` against a real worker: the rule's alerts, read from the
decision tier's compacted changelog, with their phase and since when."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import orjson
import pytest

from processors.ids import fingerprint
from streams.cli import main
from streams.compacted import read_compacted
from streams.offline import run_offline
from streams.settings import OpsrulesSettings
from streams.topics import alerts_changelog_topic, ensure_topics, topic_partitions
from streams.worker import load_rulebook
from streams.worker_process import start_worker
from tests.conftest import isolated_settings
from tests.integration.pipeline import (
    M,
    aligned_start_ms,
    encode,
    send,
    surely_closed,
    wait_for_signals,
)
from tests.kafka_io import run

pytestmark = pytest.mark.integration

CPU = "system.cpu.utilization"


def _records(start_ms: int) -> list[tuple[str, str, dict[str, object]]]:
    """web-1 hot for 9 minutes (fires at 5m); web-2 hot from 5m (pending)."""
    out = []
    for step in range(54):  # every 10 s for 9 minutes
        ts = start_ms + step * 10_000
        for host, value in (("web-1", 0.95), ("web-2", 0.95 if step >= 30 else 0.5)):
            out.append(("metrics", host, {"ts": ts, "name": CPU, "value": value, "host": host}))
    return out


async def _stored_states(settings: OpsrulesSettings) -> dict[str, dict[str, object]]:
    topic = alerts_changelog_topic(settings)
    partitions = sorted(tp.partition for tp in await topic_partitions(settings, [topic]))
    states = await read_compacted(settings, topic, partitions)
    return {key: value for part in states.values() for key, value in part.items()}


def test_explain_live_lists_the_rules_alerts_with_phase_and_since(
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    start_ms = aligned_start_ms(10 * M)
    records = _records(start_ms)
    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in records]))
    expected = run_offline(load_rulebook(settings), [(r, v) for r, _, v in records])
    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        last_ms = start_ms + 53 * 10_000
        asyncio.run(wait_for_signals(settings, surely_closed(expected.signals, last_ms)))
        for name, value in settings.as_env().items():
            monkeypatch.setenv(name, value)
        assert main(["explain", "host_cpu_saturated", "--live", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert main(["explain", "host_cpu_saturated", "--live"]) == 0
        text = capsys.readouterr().out
        stored = asyncio.run(_stored_states(settings))
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0

    web1 = fingerprint("host_cpu_saturated", {"host": "web-1"})
    web2 = fingerprint("host_cpu_saturated", {"host": "web-2"})
    assert info["alerts_topic"] == alerts_changelog_topic(settings)
    by_key = {alert["fingerprint"]: alert for alert in info["alerts"]}
    assert by_key[web1]["phase"] == "firing"
    assert by_key[web1]["group"] == {"host": "web-1"}
    assert by_key[web1]["active_since_ms"] == start_ms
    # web-2 never fired: no action names it, its stored state does (rule_id); its group
    # is known only once the state keeps it too.
    assert stored[web2]["rule_id"] == "host_cpu_saturated"
    assert set(by_key) == {web1, web2}
    assert by_key[web2]["phase"] == "pending"
    assert by_key[web2]["active_since_ms"] == start_ms + 5 * M
    assert by_key[web2]["group"] in (None, {"host": "web-2"})
    assert info["unattributed"] == 0
    assert f"{web1}  firing" in text
    assert orjson.dumps(info)  # plain JSON all the way down


def test_explain_live_before_any_worker_ran_lists_no_alerts(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = isolated_settings(kafka_bootstrap)  # no topics at all
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    assert main(["explain", "service_down", "--live", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["alerts"], info["unattributed"]) == ([], 0)
