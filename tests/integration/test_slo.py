"""An SLO in a real worker on a real broker: the shipped ``checkout_availability``
(rules/slos.yaml) counts health checks per minute of event time, sends one ``slo``
signal per minute to the signals topic, tickets and pages from them; ``opsrules
explain --live`` shows the remaining budget of its latest signal.

The records are those of the first case of rules/tests/slos.yaml, sent 19 minutes in
the past: six passing HTTP checks a minute from 0s to 17m50s, and three failing ones
a minute on top in minutes 10-14. Event time drives the minutes: the records are in
time order on one partition (all keyed by service), and the worker's idle timeout is
long enough that its clocks never move on with wall time. The input's clock at the
last record, 17m50s, less the SLO's 10s grace, sends the counts of minutes 0-16 (the
last at 17m); the signals partition that adds them up waits 1m10s more
(processors/firehose/slos.py), so minutes 0-14 close and no more."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from processors.ids import fingerprint
from processors.timestamps import format_ts
from streams.cli import main
from streams.offline import run_offline
from streams.topics import ensure_topics
from streams.worker import load_rulebook
from streams.worker_process import start_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.pipeline import (
    M,
    aligned_start_ms,
    collect_outputs,
    encode,
    send,
    wait_for_signals,
)
from tests.integration.test_real_shippers import everything
from tests.kafka_io import run

pytestmark = pytest.mark.integration

S = 1000
SLO_ID = "checkout_availability"
# End of minute n (0-based) -> (total, bad, budget_remaining), every minute seen so far
# in the budget: 1 - (bad / total) / 0.01. Minutes 0-9: 6 checks, none bad.
BUDGETS = {
    **{n: (6.0, 0.0, 1.0) for n in range(10)},
    10: (9.0, 3.0, -3.347826),  # 3 / 69 bad: burn 4.347826
    11: (9.0, 3.0, -6.692308),  # 6 / 78: 7.692308
    12: (9.0, 3.0, -9.344828),  # 9 / 87: 10.344828
    13: (9.0, 3.0, -11.5),  # 12 / 96: 12.5
    14: (9.0, 3.0, -13.285714),  # 15 / 105: 14.285714
}


def shipped_slo(directory: Path) -> None:
    """rules/slos.yaml's checkout_availability, alone, in ``directory``."""
    shipped = yaml.safe_load((REPO / "rules" / "slos.yaml").read_text())
    [slo] = [s for s in shipped["slos"] if s["id"] == SLO_ID]
    directory.mkdir()
    (directory / "slos.yaml").write_text(yaml.safe_dump({"slos": [slo]}, sort_keys=False))


def health_records(start_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    check = {"service": "checkout", "instance": "web-1", "check": "http"}
    passes = [start_ms + k * 10 * S for k in range(108)]  # 0s .. 17m50s
    fails = [start_ms + 10 * M + 5 * S + k * 20 * S for k in range(15)]  # 10m5s .. 14m45s
    timed = [(ts, "pass") for ts in passes] + [(ts, "fail") for ts in fails]
    return [
        ("health", "checkout", {"ts": ts, **check, "status": status})
        for ts, status in sorted(timed)
    ]


def test_an_slo_tickets_and_pages_in_a_real_worker_and_explain_shows_its_budget(
    kafka_bootstrap: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shipped_slo(tmp_path / "rules")
    settings = isolated_settings(kafka_bootstrap, rules_dir=tmp_path / "rules", idle_timeout_s=600)
    start_ms = aligned_start_ms(18 * M)
    records = health_records(start_ms)
    # the signals' ids, from an offline run of the same records (which, unlike the
    # worker, lets time pass at the end: only minutes 0-14 are the worker's)
    offline = run_offline(load_rulebook(settings), [(r, v) for r, _, v in records])
    ids = {s.id for s in offline.signals if s.kind == "slo" and s.ts_ms <= start_ms + 15 * M}
    assert len(ids) == 15
    run(ensure_topics(settings))
    run(send(settings, [(role, key, encode(value)) for role, key, value in records]))
    worker = start_worker(settings, log=tmp_path / "worker.log")
    try:
        asyncio.run(wait_for_signals(settings, ids, timeout_s=60))
        out = run(collect_outputs(settings))
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]

    assert out.deadletters == []
    actions = [a.json() for a in out.actions]
    assert sorted(
        (a["ts"], a["rule_id"], a["type"], a["status"], a["group"], a["summary"]) for a in actions
    ) == [
        (  # end of minute 10: 1d and 2h at 4.348, over 3
            format_ts(start_ms + 11 * M),
            "checkout_availability_ticket",
            "alert",
            "firing",
            {},
            "SLO checkout_availability: error budget burning (4.348x over 1d), -334.8% left",
        ),
        (  # end of minute 11: 6h and 30m at 7.692, over 6
            format_ts(start_ms + 12 * M),
            "checkout_availability_page",
            "alert",
            "firing",
            {},
            "SLO checkout_availability: error budget burning fast (7.692x over 1h), -669.2% left",
        ),
    ]

    topic = settings.topic(settings.topic_signals)
    signals: list[dict[str, Any]] = [orjson.loads(r.value) for r in everything(settings, topic)]
    slo_signals = sorted((s for s in signals if s["kind"] == "slo"), key=lambda s: s["ts_ms"])
    assert {s["id"] for s in slo_signals} == ids  # minutes 15 and 16 are still open
    assert [
        (
            (s["ts_ms"] - start_ms) // M - 1,
            s["values"]["total"],
            s["values"]["bad"],
            s["values"]["budget_remaining"],
        )
        for s in slo_signals
    ] == [(n, *values) for n, values in BUDGETS.items()]
    last = slo_signals[-1]
    assert (last["key"], last["group"], last["rules"], last["record"]) == (
        "*",
        {},
        ["checkout_availability_page", "checkout_availability_ticket"],
        {"slo": SLO_ID, "objective": 0.99},
    )
    assert last["values"]["burn_1h"] == last["values"]["burn_6h"] == 14.285714

    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    assert main(["explain", "checkout_availability_page", "--live", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["slo"]["id"] == SLO_ID
    assert info["budgets"] == [
        {
            "group": {},
            "ts_ms": start_ms + 15 * M,
            "ts": format_ts(start_ms + 15 * M),
            "values": last["values"],
        }
    ]
    assert info["budgets"][0]["values"]["budget_remaining"] == -13.285714
    page = fingerprint("checkout_availability_page", {})
    assert [(a["fingerprint"], a["phase"]) for a in info["alerts"]] == [(page, "firing")]
    assert orjson.dumps(info)
