"""The scenarios of the operations policies (SLOs, autoscalers, backups) through the
production cores: what their actions carry and why, beyond the list of actions that
tests/streams/test_offline_scenarios.py checks."""

from __future__ import annotations

from collections import Counter

from processors.timestamps import parse_ts_ms
from streams.offline import run_offline
from streams.scenarios import generate
from tests.processors.rulebook_factory import shipped_rulebook
from tests.streams.test_offline_scenarios import START_MS, M, offline

HOUR_MS = 60 * M


def test_slo_burn_fails_two_checks_a_minute_and_pages_on_the_six_hour_pair() -> None:
    failing = Counter(
        ((e.at_ms - START_MS) // M, e.value["instance"])
        for e in generate("slo-burn", start_ms=START_MS)
        if e.role == "health" and e.value["status"] == "fail"
    )
    assert failing == {(m, i): 1 for m in range(3, 9) for i in ("web-1", "web-2")}
    run = offline("slo-burn")
    burns = {
        (s.ts_ms - START_MS) // M: s.values
        for s in run.signals
        if s.kind == "slo" and "checkout_availability_page" in s.rules
    }
    # at 5m: 4 bad of 60; 6.67 is over the 6h/30m pair's 6, under the 1h/5m pair's 14.4
    assert burns[5]["burn_6h"] == burns[5]["burn_30m"] == burns[5]["burn_1h"] == 6.666667
    page = next(a for a in run.actions if a.rule_id == "checkout_availability_page")
    assert page.summary == (
        "SLO checkout_availability: error budget burning fast (6.667x over 1h), -566.7% left"
    )


def test_scale_up_asks_for_three_replicas_then_four() -> None:
    scales = [a for a in offline("scale-up").actions if a.type == "scale"]
    assert [a.params for a in scales] == [
        {"target": "checkout", "replicas": 3, "from": 2},
        {"target": "checkout", "replicas": 4, "from": 2},
    ]


def test_missed_backup_reruns_the_backup_and_the_rerun_settles_the_heal() -> None:
    records = [(e.role, e.value) for e in generate("missed-backup", start_ms=START_MS)]
    # The heal (2m) is checked an hour later, at 62m, within this flush (the next test
    # sees that check escalate); the rerun succeeded at 14m. The next backup is due at
    # 84m, after the flush.
    run = run_offline(shipped_rulebook(), records, flush_ms=HOUR_MS)
    heal = next(a for a in run.actions if a.type == "heal")
    assert heal.params == {"command": "run_backup", "target": "orders-db"}
    assert [a.type for a in run.actions if a.rule_id == "orders_backup_missed"] == [
        "alert",
        "heal",
    ]


def test_missed_backup_escalates_when_the_rerun_never_succeeds() -> None:
    emits = generate("missed-backup", start_ms=START_MS)
    records = [
        (e.role, e.value)
        for e in emits
        if not (e.value.get("backup_id") == "b5" and e.value["status"] == "succeeded")
    ]
    run = run_offline(shipped_rulebook(), records, flush_ms=HOUR_MS)
    incident = run.actions[-1]
    assert (incident.rule_id, incident.type) == ("orders_backup_missed", "incident")
    assert incident.params == {"title": "Backups of orders-db keep failing"}
    assert parse_ts_ms(incident.ts) - START_MS == 62 * M  # the heal's at 2m, plus 1h
