"""SLOs in the firehose: records counted per group and minute by the SloCounts the
compiler plans for an input partition, their parts added up by the SloMerge of a
signals partition into one ``slo`` signal per group per minute, and the decision tier
paging and resolving on them (the Google SRE workbook's multi-window burn rates).

Burn rates by hand: burn = (bad / total) / (1 - objective); budget_remaining =
1 - burn over every minute seen so far (the SLO window is 30 days)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from processors.decisions.alert_record import DictStore
from processors.decisions.decide import decide
from processors.firehose.slos import MERGE_WAIT_MS, SloCounts, SloMerge
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook, MatcherKind
from processors.timestamps import format_ts
from streams.ingest import signal_fields
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
M = 60 * S
T0 = 1_796_688_000_000  # a whole hour
GRACE_MS = 5 * S

RULES = """
slos:
  - id: checkout_availability
    objective: 0.99
    sli:
      source: health
      total: service == "checkout" and check == "http"
      bad: status == "fail"
    group_by: [instance]
    grace: 5s
  - id: api_errors
    objective: 0.99
    sli:
      source: metric
      total: name == "http.server.requests"
      bad: labels.class == "5xx"
    group_by: [service]
    grace: 0s
"""

VALUE_KEYS = {
    *(f"burn_{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
    "budget_remaining",
    "total",
    "bad",
}


class TwoStages:
    """One input partition's counts, their parts added up at once by a signals
    partition whose clock is the input's plus the merge's wait: a minute comes out
    when the input's clock passes its end and grace, as with one stage."""

    def __init__(self, rulebook: CompiledRulebook, source: str) -> None:
        self.counts = SloCounts(rulebook.sources[source].slos, source, "topic/0")
        self.merge = SloMerge(rulebook.sources["signal"].slo_merges)

    def add(self, record: dict[str, Any], ts_ms: int) -> None:
        self.counts.add(record, ts_ms)

    def close(self, clock_ms: int) -> list[Signal]:
        for part in self.counts.close(clock_ms):
            self.merge.add(signal_fields(part))
        return self.merge.close(clock_ms + MERGE_WAIT_MS)

    @property
    def skipped(self) -> int:
        return self.counts.skipped

    def __len__(self) -> int:
        """Groups held, counting or accounted."""
        counting = {
            (slo, key) for slo, ms in self.counts.minutes.items() for m in ms.values() for key in m
        }
        accounted = {(slo, key) for slo, groups in self.merge.series.items() for key in groups}
        return len(counting | accounted)


def accounts(
    tmp_path: Path, source: str, text: str = RULES, matcher: MatcherKind = "durable_rules"
) -> tuple[CompiledRulebook, TwoStages]:
    rulebook = rulebook_from_yaml(tmp_path, text, matcher)
    return rulebook, TwoStages(rulebook, source)


def check(instance: str, status: str, service: str = "checkout") -> dict[str, Any]:
    return {"service": service, "check": "http", "instance": instance, "status": status}


def requests(service: str, status_class: str, value: Any) -> dict[str, Any]:
    return {
        "name": "http.server.requests",
        "service": service,
        "labels": {"class": status_class},
        "value": value,
    }


def test_each_group_counts_its_own_events_per_minute(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "health")
    for second in range(9):  # web-1: 9 checks in minute 0, 3 of them failing
        slos.add(check("web-1", "fail" if second < 3 else "pass"), T0 + second * S)
    for second in range(4):  # web-2: 4 checks, all passing
        slos.add(check("web-2", "pass"), T0 + 30 * S + second * S)
    slos.add(check("web-1", "fail", service="cart"), T0 + 40 * S)  # not checkout's
    slos.add({**check("web-1", "fail"), "check": "tcp"}, T0 + 41 * S)  # not http
    web1, web2 = slos.close(T0 + M + GRACE_MS)
    # web-1: 3 / 9 bad = 0.3333, over an error budget of 0.01: burn 33.333333 on every
    # window (they hold the one minute seen so far); budget 1 - 33.333333
    assert (web1.key, web1.values["total"], web1.values["bad"]) == ("web-1", 9.0, 3.0)
    assert web1.values["burn_5m"] == web1.values["burn_3d"] == 33.333333
    assert web1.values["budget_remaining"] == -32.333333
    assert (web2.key, web2.values["total"], web2.values["bad"]) == ("web-2", 4.0, 0.0)
    assert web2.values["burn_1h"] == 0.0 and web2.values["budget_remaining"] == 1.0
    assert len(slos) == 2 and slos.skipped == 0


def test_a_signal_names_its_slo_group_and_minute(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "health")
    slos.add(check("web-1", "pass"), T0 + 2 * M + 10 * S)
    [signal] = slos.close(T0 + 3 * M + GRACE_MS)
    assert (signal.kind, signal.key, signal.source, signal.group) == (
        "slo",
        "web-1",
        "health",
        {"instance": "web-1"},
    )
    assert (signal.window_start_ms, signal.ts_ms) == (T0 + 2 * M, T0 + 3 * M)  # minute's end
    assert set(signal.values) == VALUE_KEYS
    assert signal.record == {"slo": "checkout_availability", "objective": 0.99}
    assert signal.rules == ["checkout_availability_page", "checkout_availability_ticket"]
    # deterministic: the same records give the same id; another group or minute another
    _, again = accounts(tmp_path, "health")
    again.add(check("web-1", "pass"), T0 + 2 * M + 50 * S)
    again.add(check("web-2", "pass"), T0 + 2 * M + 50 * S)
    again.add(check("web-1", "pass"), T0 + 3 * M)
    ids = [(s.key, s.window_start_ms, s.id) for s in again.close(T0 + 4 * M + GRACE_MS)]
    assert ids[0] == ("web-1", T0 + 2 * M, signal.id)
    # web-1 and web-2 each send minutes 2 and 3 (every minute from their first event)
    assert len({i for _, _, i in ids}) == len(ids) == 4


def test_events_of_a_metric_slo_are_the_samples_values(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "metric")
    slos.add(requests("search", "2xx", 96.5), T0 + 10 * S)
    slos.add(requests("search", "5xx", 3), T0 + 20 * S)
    slos.add(requests("search", "5xx", 0.5), T0 + 30 * S)
    slos.add({**requests("search", "2xx", 1e6), "name": "other"}, T0 + 40 * S)
    [signal] = slos.close(T0 + M)  # grace 0s: the minute closes at its end
    # 100 requests, 3.5 of them failing: 0.035 / 0.01 = burn 3.5; budget 1 - 3.5
    assert (signal.values["total"], signal.values["bad"]) == (100.0, 3.5)
    assert signal.values["burn_1h"] == 3.5 and signal.values["budget_remaining"] == -2.5
    assert signal.group == {"service": "search"} and signal.rules == [
        "api_errors_page",
        "api_errors_ticket",
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "12", None, True])
def test_an_events_value_that_is_not_a_finite_number_at_least_0_is_skipped(
    tmp_path: Path, value: Any
) -> None:
    _, slos = accounts(tmp_path, "metric")
    slos.add(requests("search", "5xx", value), T0 + 10 * S)
    assert (slos.skipped, len(slos)) == (1, 0)  # counted as skipped, in no group
    slos.add(requests("search", "2xx", 10), T0 + 20 * S)
    [signal] = slos.close(T0 + M)
    assert (signal.values["total"], signal.values["bad"]) == (10.0, 0.0)


def test_a_minute_closes_only_once_the_clock_passes_its_end_and_the_grace(
    tmp_path: Path,
) -> None:
    _, slos = accounts(tmp_path, "health")
    slos.add(check("web-1", "fail"), T0 + 59 * S)
    assert slos.close(T0 + M + GRACE_MS - 1) == []
    slos.add(check("web-1", "pass"), T0 + 59_500)  # still counted: the minute is open
    [signal] = slos.close(T0 + M + GRACE_MS)
    assert (signal.values["total"], signal.values["bad"]) == (2.0, 1.0)
    assert slos.close(T0 + M + GRACE_MS) == []  # once


def test_minutes_without_events_still_send_their_signal(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "health")
    slos.add(check("web-1", "fail"), T0)
    slos.add(check("web-1", "pass"), T0 + 1 * S)
    out = slos.close(T0 + 3 * M + GRACE_MS)
    # minute 0: 1 bad of 2, burn 50; minutes 1 and 2 add nothing: every window still
    # holds minute 0, so every burn rate stays 50
    assert [(s.window_start_ms, s.values["total"], s.values["burn_5m"]) for s in out] == [
        (T0, 2.0, 50.0),
        (T0 + M, 0.0, 50.0),
        (T0 + 2 * M, 0.0, 50.0),
    ]


def test_a_group_is_forgotten_once_its_slo_window_holds_no_event(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "health")
    slos.add(check("web-1", "fail"), T0)
    # the 3d window (4,320 minutes) ending with minute 4,319 still holds minute 0
    out = slos.close(T0 + 4320 * M + GRACE_MS)
    assert len(out) == 4320 and out[-1].values["burn_3d"] == 100.0  # 1 bad of 1
    [later] = slos.close(T0 + 4321 * M + GRACE_MS)  # minute 4,320: minute 0 leaves 3d
    assert later.values["burn_3d"] == 0.0 and later.values["budget_remaining"] == -99.0
    assert len(slos) == 1  # the 30-day budget still holds minute 0's hour
    # minute 0's hour leaves the 720 hours of the SLO window at hour 720: the group's
    # signals go on every minute until then, and it is forgotten with the last one
    out = slos.close(T0 + (720 * 60 + 1) * M + GRACE_MS)
    assert out[-1].values["budget_remaining"] == 1.0 and len(slos) == 0
    assert out[-2].values["budget_remaining"] == -99.0
    # an event after that starts the group afresh: one minute, not a backlog
    slos.add(check("web-1", "pass"), T0 + 50_000 * M)
    [fresh] = slos.close(T0 + 50_001 * M + GRACE_MS)
    assert fresh.window_start_ms == T0 + 50_000 * M and fresh.values["total"] == 1.0


def test_a_quiet_group_keeps_its_error_budget_for_the_slo_window(tmp_path: Path) -> None:
    _, slos = accounts(tmp_path, "health")
    slos.add(check("web-1", "fail"), T0)
    slos.add(check("web-1", "pass"), T0 + 1 * S)
    slos.close(T0 + 4321 * M + GRACE_MS)  # 3 days and a minute without events
    slos.add(check("web-1", "pass"), T0 + 4400 * M)  # day 3 of the SLO's 30
    signal = slos.close(T0 + 4401 * M + GRACE_MS)[-1]
    # 1 bad of 3 events in the 30-day window: 1 - (1 / 3) / 0.01
    assert signal.window_start_ms == T0 + 4400 * M
    assert signal.values["budget_remaining"] == -32.333333


@pytest.mark.parametrize(
    ("extra", "rules"),
    [
        ("    ticket: {enabled: false}\n", ["checkout_availability_page"]),
        ("    page: {enabled: false}\n", ["checkout_availability_ticket"]),
    ],
)
def test_a_signal_feeds_only_the_enabled_rules(
    tmp_path: Path, extra: str, rules: list[str]
) -> None:
    text = RULES.split("  - id: api_errors")[0] + extra
    _, slos = accounts(tmp_path, "health", text)
    slos.add(check("web-1", "pass"), T0)
    [signal] = slos.close(T0 + M + GRACE_MS)
    assert signal.rules == rules


def test_a_disabled_slo_counts_nothing(tmp_path: Path) -> None:
    text = RULES.split("  - id: api_errors")[0] + "    enabled: false\n"
    rulebook = rulebook_from_yaml(tmp_path, text)
    plan = rulebook.sources.get("health")
    assert plan is None or plan.slos == ()


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
def test_the_decision_tier_pages_on_a_burning_slo_and_resolves_when_it_recovers(
    tmp_path: Path, matcher: MatcherKind
) -> None:
    rulebook, slos = accounts(tmp_path, "health", matcher=matcher)
    store, decided = DictStore(), []
    # 10 checks a minute; in minute 0, 5 of them fail; then all pass. At the end of
    # minute n (0-based) every window up to 1h holds minutes 0..n: 5 bad of 10 (n + 1)
    #   n = 0: burn 50 everywhere: page (> 14.4 on 1h and 5m) and ticket (> 3 on 1d, 2h)
    #   n = 5: the 5m window [1, 5] has no bad event: the 1h/5m pair is over, but 6h
    #          and 30m hold 50 / 6 = 8.33 > 6: still paging
    #   n = 7: 50 / 8 = 6.25 > 6; n = 8: 50 / 9 = 5.556: the page resolves at 9m
    #   ticket: 1d/2h > 3 until 50 / 16 = 3.125 (n = 15), 3d/6h > 1 until 50 / 49 (n =
    #   48); n = 49: 50 / 50 = 1, not above 1: it resolves at 50m, budget 1 - 1 = 0
    for n in range(60):
        for i in range(10):
            status = "fail" if n == 0 and i < 5 else "pass"
            slos.add(check("web-1", status), T0 + n * M + i * S)
        for signal in slos.close(T0 + n * M + GRACE_MS):
            decided.extend(decide(signal, rulebook, store).actions)
    assert [(a.rule_id, a.status, a.ts, a.summary) for a in decided] == [
        (
            "checkout_availability_page",
            "firing",
            format_ts(T0 + M),
            "SLO checkout_availability: error budget burning fast (50x over 1h), -4900% left",
        ),
        (
            "checkout_availability_ticket",
            "firing",
            format_ts(T0 + M),
            "SLO checkout_availability: error budget burning (50x over 1d), -4900% left",
        ),
        (
            "checkout_availability_page",
            "resolved",
            format_ts(T0 + 9 * M),
            "SLO checkout_availability: error budget burning fast (5.556x over 1h), -455.6% left",
        ),
        (
            "checkout_availability_ticket",
            "resolved",
            format_ts(T0 + 50 * M),
            "SLO checkout_availability: error budget burning (1x over 1d), 0% left",
        ),
    ]
    assert {a.group["instance"] for a in decided} == {"web-1"}
    assert {a.type for a in decided} == {"alert"}


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
def test_a_slow_burn_tickets_without_paging(tmp_path: Path, matcher: MatcherKind) -> None:
    rulebook, _ = accounts(tmp_path, "health", matcher=matcher)
    # burn 4 over every window (a 1d window of minutes seen so far): over the ticket's 3
    # on 1d and 2h, under the page's 14.4 and 6
    values = {f"burn_{w}": 4.0 for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")}
    signal = Signal(
        id="s1",
        kind="slo",
        key="web-1",
        source="health",
        rules=["checkout_availability_page", "checkout_availability_ticket"],
        group={"instance": "web-1"},
        ts_ms=T0 + M,
        window_start_ms=T0,
        values={**values, "budget_remaining": -3.0, "total": 100.0, "bad": 4.0},
        record={"slo": "checkout_availability", "objective": 0.99},
    )
    actions = decide(signal, rulebook, DictStore()).actions
    assert [(a.rule_id, a.status, a.severity) for a in actions] == [
        ("checkout_availability_ticket", "firing", "warning")
    ]


def test_parts_of_one_minute_from_two_partitions_add_up_once_each(tmp_path: Path) -> None:
    """Metrics are keyed by host: one service's requests come from two input partitions,
    each counting its own; the signals partition adds them up, one part per origin (a
    replayed part replaces the first)."""
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    plans = rulebook.sources["metric"].slos
    first, second = SloCounts(plans, "metric", "m/0"), SloCounts(plans, "metric", "m/1")
    first.add(requests("search", "2xx", 90), T0 + 10 * S)
    second.add(requests("search", "5xx", 10), T0 + 20 * S)
    merge = SloMerge(rulebook.sources["signal"].slo_merges)
    [part0], [part1] = first.close(T0 + M), second.close(T0 + M)
    assert (part0.kind, part0.key, part0.rules) == ("part", "api_errors:search", [])
    assert part0.id != part1.id  # the origin is part of the id
    for part in (part0, part1, part1):  # the second part1 is a replay
        merge.add(signal_fields(part))
    assert merge.close(T0 + M + MERGE_WAIT_MS - 1) == []  # still waiting for others
    [signal] = merge.close(T0 + M + MERGE_WAIT_MS)
    # 10 bad of 100: burn 0.1 / 0.01 = 10, budget 1 - 10 = -9
    assert (signal.values["total"], signal.values["bad"]) == (100.0, 10.0)
    assert signal.values["burn_5m"] == 10.0 and signal.values["budget_remaining"] == -9.0
    assert signal.source == "metric" and signal.rules == ["api_errors_page", "api_errors_ticket"]


def test_a_part_of_a_minute_already_accounted_is_late(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    plans = rulebook.sources["metric"].slos
    merge = SloMerge(rulebook.sources["signal"].slo_merges)
    on_time, lagging = SloCounts(plans, "metric", "m/0"), SloCounts(plans, "metric", "m/1")
    on_time.add(requests("search", "2xx", 90), T0 + 10 * S)
    lagging.add(requests("search", "5xx", 10), T0 + 20 * S)
    for part in on_time.close(T0 + M):
        merge.add(signal_fields(part))
    [signal] = merge.close(T0 + M + MERGE_WAIT_MS)
    for part in lagging.close(T0 + M):  # a minute and more behind
        merge.add(signal_fields(part))
    assert merge.late == 1 and signal.values["bad"] == 0.0
    assert lagging.add(requests("search", "5xx", 1), T0 + 30 * S) is False
    assert lagging.late == 1  # its own minute 0 was sent: late at the source too


def test_parts_are_seen_by_no_rule_on_signals(tmp_path: Path) -> None:
    from processors.firehose.routing import Router

    text = (
        RULES
        + """
rules:
  - id: every_signal
    source: signal
"""
    )
    rulebook = rulebook_from_yaml(tmp_path, text)
    counts = SloCounts(rulebook.sources["metric"].slos, "metric", "m/0")
    counts.add(requests("search", "2xx", 90), T0 + 10 * S)
    [part] = counts.close(T0 + M)
    router = Router(rulebook, "signal", idle_timeout_ms=10**9)
    out: list[Signal] = []
    now = T0 + M
    router.route(signal_fields(part), ts_ms=part.ts_ms, offset=0, ref="s/0/0", now_ms=now, out=out)
    assert out == []  # every_signal saw nothing
    slo_signals = router.types.slo_merge.close(T0 + M + MERGE_WAIT_MS)
    assert [s.kind for s in slo_signals] == ["slo"]
    fields = signal_fields(slo_signals[0])
    router.route(fields, ts_ms=T0 + M, offset=1, ref="s/0/1", now_ms=now, out=out)
    assert [s.rules for s in out] == [["every_signal"]]  # an slo signal is seen


def test_of_a_part_sent_again_the_one_with_more_events_is_kept(tmp_path: Path) -> None:
    """After a rewind an input partition may count a minute again from fewer records (some
    of its offsets were committed): the fuller part stands, whichever comes first."""
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    plans = rulebook.sources["metric"].slos
    full, partial = SloCounts(plans, "metric", "m/0"), SloCounts(plans, "metric", "m/0")
    full.add(requests("search", "2xx", 90), T0 + 10 * S)
    full.add(requests("search", "5xx", 10), T0 + 20 * S)
    partial.add(requests("search", "5xx", 10), T0 + 20 * S)
    for order in ((full, partial), (partial, full)):
        merge = SloMerge(rulebook.sources["signal"].slo_merges)
        for counts in order:
            [part] = counts.close(T0 + M)
            counts.sent_until.clear()  # the same counts again, for the other order
            counts.add(requests("search", "5xx", 10), T0 + 20 * S)
            if counts is full:
                counts.add(requests("search", "2xx", 90), T0 + 10 * S)
            merge.add(signal_fields(part))
        [signal] = merge.close(T0 + M + MERGE_WAIT_MS)
        assert (signal.values["total"], signal.values["bad"]) == (100.0, 10.0)


def test_a_reload_carries_the_accounting_of_slos_counted_alike(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    merge = SloMerge(rulebook.sources["signal"].slo_merges)
    counts = SloCounts(rulebook.sources["metric"].slos, "metric", "m/0")
    counts.add(requests("search", "5xx", 10), T0 + 20 * S)
    for part in counts.close(T0 + M):
        merge.add(signal_fields(part))
    merge.close(T0 + M + MERGE_WAIT_MS)
    (tmp_path / "same").mkdir()
    (tmp_path / "changed").mkdir()
    same = SloMerge(rulebook_from_yaml(tmp_path / "same", RULES).sources["signal"].slo_merges)
    same.adopt(merge)
    changed_text = RULES.replace("grace: 0s", "grace: 0s\n    window: 7d")
    changed_book = rulebook_from_yaml(tmp_path / "changed", changed_text)
    changed = SloMerge(changed_book.sources["signal"].slo_merges)
    changed.adopt(merge)
    [kept] = same.close(T0 + 2 * M + MERGE_WAIT_MS)  # minute 1: no events, burn kept
    assert kept.values["burn_5m"] == 100.0
    assert changed.close(T0 + 2 * M + MERGE_WAIT_MS) == []  # a 7d window starts afresh
