"""Autoscalers in the firehose: the ReplicaWindows an input partition runs (each replica's
sum and count of its values per window, sent as a part when the window closes), the
ScaleDecisions of a signals partition (the parts of a window put together, the HPA core
run on them, a match sent when the desired count is new), hpa_config, and the decision
tier turning a match into a scale action.

HPA by hand (processors/firehose/autoscale.py): desired = ceil(current × metric / target),
no change while metric / target is within 0.9 .. 1.1, clamped to min/max; HPA's default
scale-up limit is max(ceil(start × 2), start + 4) per 15s, start being the count 15s ago."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from processors.decisions.alert_record import DictStore
from processors.decisions.decide import decide
from processors.firehose.autoscale import AutoscalerConfig, ScalingPolicy, ScalingRules
from processors.firehose.autoscalers import ReplicaWindows, ScaleDecisions, hpa_config
from processors.firehose.repartition import MERGE_WAIT_MS
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook
from processors.rules.templates import MATCH_FIELDS
from processors.timestamps import format_ts
from streams.ingest import signal_fields
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
M = 60 * S
T0 = 1_796_688_000_000  # a whole hour
GRACE_MS = 5 * S
CPU = "system.cpu.utilization"
LAG = "messaging.kafka.consumer.lag"
CHECKOUT = "checkout_autoscale"
ORDERS = "orders_worker_autoscale"

RULES = """
autoscalers:
  - id: checkout_autoscale
    target: checkout
    match: name == "system.cpu.utilization" and service == "checkout"
    per: host
    grace: 5s
    target_value: 0.6
    min_replicas: 2
    max_replicas: 10
  - id: orders_worker_autoscale
    target: orders-worker
    match: name == "messaging.kafka.consumer.lag" and service == "orders-worker"
    per: host
    metric: total
    grace: 5s
    target_value: 500
    max_replicas: 20
"""
# checkout's scale-up: at most one replica more per 5 minutes
ONE_PER_5M = RULES.replace(
    "    max_replicas: 10\n",
    "    max_replicas: 10\n    behavior: {scale_up: {policies: [{pods: 1, period: 5m}]}}\n",
    1,
)
HOSTS = ("web-1", "web-2", "web-3")


class TwoStages:
    """Input partitions (one ReplicaWindows per origin) and the signals partition whose
    ScaleDecisions put their parts together, its clock the inputs' plus the merge's
    wait: a window is decided when the inputs' clock passes its end and grace."""

    def __init__(
        self,
        rulebook: CompiledRulebook,
        origins: tuple[str, ...] = ("m/0",),
        source: str = "metric",
    ) -> None:
        plans = rulebook.sources[source].autoscalers
        self.inputs = {origin: ReplicaWindows(plans, source, origin) for origin in origins}
        self.decisions = ScaleDecisions(rulebook.sources["signal"].autoscale_merges)

    def add(self, record: dict[str, Any], ts_ms: int, origin: str = "m/0") -> bool:
        return self.inputs[origin].add(record, ts_ms)

    def parts(self, clock_ms: int) -> list[Signal]:
        return [part for windows in self.inputs.values() for part in windows.close(clock_ms)]

    def close(self, clock_ms: int) -> list[Signal]:
        for part in self.parts(clock_ms):
            self.decisions.add(signal_fields(part))
        return self.decisions.close(clock_ms + MERGE_WAIT_MS)


def stages(
    tmp_path: Path, text: str = RULES, origins: tuple[str, ...] = ("m/0",)
) -> tuple[CompiledRulebook, TwoStages]:
    rulebook = rulebook_from_yaml(tmp_path, text)
    return rulebook, TwoStages(rulebook, origins)


def decisions_of(directory: Path, text: str) -> ScaleDecisions:
    """A signals partition's decisions of a rulebook loaded afresh (a hot reload)."""
    directory.mkdir()
    return ScaleDecisions(rulebook_from_yaml(directory, text).sources["signal"].autoscale_merges)


def cpu(host: str, value: Any, service: str = "checkout") -> dict[str, Any]:
    return {"name": CPU, "service": service, "host": host, "value": value}


def lag(host: str, value: float) -> dict[str, Any]:
    return {"name": LAG, "service": "orders-worker", "host": host, "value": value}


def busy(
    two: TwoStages,
    minute: int,
    value: float,
    hosts: tuple[str, ...] = HOSTS,
    origin: str = "m/0",
) -> None:
    """Each host's CPU at ``value`` every 10s of the minute: 6 samples each."""
    for host in hosts:
        for k in range(6):
            two.add(cpu(host, value), T0 + minute * M + k * 10 * S, origin)


def decided(signal: Signal) -> tuple[int, int, int]:
    """(when, from, to) of a match, its time from T0 in minutes."""
    assert signal.record is not None
    return (signal.ts_ms - T0) // M, signal.record["current"], signal.record["replicas"]


def end_of(minute: int) -> int:
    """The clock that closes the window ``[minute, minute + 1)`` and no later one."""
    return T0 + (minute + 1) * M + GRACE_MS


# --- ReplicaWindows: per input partition -------------------------------------------------


def test_each_replica_sums_and_counts_its_own_values_per_window(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    windows = two.inputs["m/0"]
    for second, value in ((0, 1.0), (20, 1.0), (40, 0.5)):
        assert windows.add(cpu("web-1", value), T0 + second * S)
    assert windows.add(cpu("web-2", 0.25), T0 + 30 * S)
    assert not windows.add(cpu("web-9", 0.99, service="search"), T0 + 10 * S)  # not checkout
    assert not windows.add({**cpu("web-1", 0.9), "name": "system.memory.utilization"}, T0)
    assert windows.add(cpu("web-1", 0.75), T0 + M)  # the next window
    [part] = windows.close(end_of(0))
    # web-1: 1.0 + 1.0 + 0.5 = 2.5 over 3 samples; web-2: one sample of 0.25
    assert part.record == {
        "autoscaler": CHECKOUT,
        "origin": "m/0",
        "replicas": {"web-1": [2.5, 3.0], "web-2": [0.25, 1.0]},
    }
    assert part.values == {"replicas": 2.0}
    [later] = windows.close(end_of(1))
    assert later.record is not None and later.record["replicas"] == {"web-1": [0.75, 1.0]}


def test_a_part_names_its_autoscaler_origin_and_window(tmp_path: Path) -> None:
    _, two = stages(tmp_path, origins=("m/0", "m/1"))
    two.add(cpu("web-1", 0.5), T0 + 2 * M + 10 * S, "m/0")
    two.add(cpu("web-2", 0.5), T0 + 2 * M + 20 * S, "m/1")
    first, second = two.parts(end_of(2))
    assert (first.kind, first.key, first.source, first.rules, first.group) == (
        "part",
        CHECKOUT,  # keyed by the autoscaler: every part of it on one signals partition
        "metric",
        [],  # seen by no rule
        {},
    )
    assert (first.window_start_ms, first.ts_ms) == (T0 + 2 * M, T0 + 3 * M)  # the window's end
    assert first.id == stable_id("autoscale_part", CHECKOUT, T0 + 2 * M, "m/0")
    assert second.id == stable_id("autoscale_part", CHECKOUT, T0 + 2 * M, "m/1")
    assert first.record is not None and set(first.record) == {"autoscaler", "origin", "replicas"}
    assert second.record is not None and second.record["origin"] == "m/1"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.9", None, True])
def test_a_value_that_is_not_a_finite_number_is_skipped(tmp_path: Path, value: Any) -> None:
    _, two = stages(tmp_path)
    assert two.add(cpu("web-1", value), T0 + 10 * S) is False
    assert two.add(cpu("web-2", 0.5), T0 + 20 * S) is True
    [part] = two.parts(end_of(0))
    assert part.record is not None and part.record["replicas"] == {"web-2": [0.5, 1.0]}


def test_a_record_without_its_replica_field_is_skipped(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    record = cpu("web-1", 0.5)
    del record["host"]
    assert two.add(record, T0 + 10 * S) is False
    assert two.parts(end_of(0)) == []  # a window nobody counted in sends no part


def test_a_window_is_sent_once_the_clock_less_the_grace_passes_its_end(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(cpu("web-1", 0.5), T0 + 59 * S)
    assert two.parts(end_of(0) - 1) == []
    assert two.add(cpu("web-1", 1.0), T0 + 59_500)  # still open: counted
    [part] = two.parts(end_of(0))
    assert part.record is not None and part.record["replicas"] == {"web-1": [1.5, 2.0]}
    assert two.parts(end_of(0)) == []  # once


def test_a_record_for_a_window_already_sent_is_late(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(cpu("web-1", 0.5), T0 + 10 * S)
    two.parts(end_of(0))
    windows = two.inputs["m/0"]
    assert two.add(cpu("web-2", 0.5), T0 + 30 * S) is False
    assert windows.late == 1
    assert two.add(cpu("web-2", 0.5), T0 + M + 30 * S) is True  # the next window is open
    [part] = two.parts(end_of(1))
    assert part.record is not None and part.record["replicas"] == {"web-2": [0.5, 1.0]}


# --- ScaleDecisions: per signals partition -----------------------------------------------


def test_parts_from_two_origins_are_put_together_after_the_merge_wait(tmp_path: Path) -> None:
    """Metrics are keyed by host: web-1 and web-2 on one input partition, web-3 on another.
    Three replicas at 0.9: ratio 1.5, desired ceil(3 × 1.5) = 5 (limit 7)."""
    _, two = stages(tmp_path, origins=("m/0", "m/1"))
    busy(two, 0, 0.9, ("web-1", "web-2"), "m/0")
    busy(two, 0, 0.9, ("web-3",), "m/1")
    parts = two.parts(end_of(0))
    assert [p.record["origin"] for p in parts if p.record] == ["m/0", "m/1"]
    for part in (*parts, parts[1]):  # the second of m/1 is a replay
        two.decisions.add(signal_fields(part))
    decisions = two.decisions
    assert decisions.close(end_of(0) + MERGE_WAIT_MS - 1) == []  # waiting for slower ones
    [signal] = decisions.close(end_of(0) + MERGE_WAIT_MS)
    assert decided(signal) == (1, 3, 5)
    assert signal.record is not None and signal.record["reason"] == (
        "metric 0.9 over target 0.6: 3 → 5"
    )


def test_a_part_of_a_window_already_decided_is_late(tmp_path: Path) -> None:
    _, two = stages(tmp_path, origins=("m/0", "m/1"))
    busy(two, 0, 0.9, ("web-1", "web-2", "web-3"), "m/0")
    busy(two, 0, 0.9, ("web-4",), "m/1")
    on_time, lagging = two.parts(end_of(0))
    two.decisions.add(signal_fields(on_time))
    [signal] = two.decisions.close(end_of(0) + MERGE_WAIT_MS)
    two.decisions.add(signal_fields(lagging))  # more than a minute behind
    assert two.decisions.late == 1
    assert decided(signal) == (1, 3, 5)  # web-4 never counted
    assert two.decisions.close(end_of(5) + MERGE_WAIT_MS) == []


def test_of_two_parts_from_one_origin_the_fuller_is_kept(tmp_path: Path) -> None:
    """After a rewind an input partition may send a window again from fewer records: the
    part with more samples stands, whichever comes first. The partial one alone would be
    one replica, under min_replicas 2: a scale to 2."""
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    full, partial = TwoStages(rulebook), TwoStages(rulebook)
    busy(full, 0, 0.9)
    busy(partial, 0, 0.9, ("web-1",))
    [full_part], [partial_part] = full.parts(end_of(0)), partial.parts(end_of(0))
    for order in ((full_part, partial_part), (partial_part, full_part)):
        decisions = ScaleDecisions(rulebook.sources["signal"].autoscale_merges)
        for part in order:
            decisions.add(signal_fields(part))
        [signal] = decisions.close(end_of(0) + MERGE_WAIT_MS)
        assert decided(signal) == (1, 3, 5)


def test_the_metric_is_the_mean_of_the_replicas_means(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    for k, value in enumerate((1.0, 1.0, 1.0, 0.5)):
        two.add(cpu("web-1", value), T0 + k * 10 * S)
    two.add(cpu("web-2", 0.5), T0 + 10 * S)
    [signal] = two.close(end_of(0))
    # web-1's mean 3.5 / 4 = 0.875, web-2's 0.5: metric (0.875 + 0.5) / 2 = 0.6875 (not the
    # samples' mean 4 / 5 = 0.8); ratio 1.1458, desired ceil(2 × 1.1458) = 3
    assert signal.record is not None
    assert (signal.record["metric"], signal.record["current"], signal.record["replicas"]) == (
        0.6875,
        2,
        3,
    )


def test_a_total_metric_is_the_sum_of_the_replicas_means(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(lag("worker-1", 1000), T0 + 10 * S)
    two.add(lag("worker-1", 1200), T0 + 40 * S)
    two.add(lag("worker-2", 900), T0 + 20 * S)
    [signal] = two.close(end_of(0))
    # worker-1's mean 1100 + worker-2's 900 = 2000 queued: desired ceil(2000 / 500) = 4
    # (the samples' sum, 3100, would want 7); ratio 2000 / (500 × 2) = 2
    assert signal.key == ORDERS and signal.record is not None
    assert (signal.record["metric"], signal.record["current"], signal.record["replicas"]) == (
        2000.0,
        2,
        4,
    )
    assert signal.record["reason"] == "metric 2000 over target 500 × 2: 2 → 4"


def test_nothing_goes_out_while_the_desired_count_is_the_current_one(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    busy(two, 0, 0.65)  # 0.65 / 0.6 = 1.083: within the tolerance
    assert two.close(end_of(0)) == []
    assert CHECKOUT in two.decisions.cores  # decided, to stay at 3


def test_a_count_already_sent_is_not_sent_again_but_a_different_one_is(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    busy(two, 0, 0.9)
    [first] = two.close(end_of(0))
    busy(two, 1, 0.9)  # the target is not scaled yet: still 3 replicas, still wants 5
    assert two.close(end_of(1)) == []
    busy(two, 2, 1.2)
    [second] = two.close(end_of(2))
    # ratio 2: desired 6; the scale at 1m is older than the 15s policies' period, so the
    # limit is max(ceil(3 × 2), 3 + 4) = 7
    assert [decided(first), decided(second)] == [(1, 3, 5), (3, 3, 6)]


def test_a_scale_sent_counts_against_the_rate_policy_of_the_next(tmp_path: Path) -> None:
    """scale_up: at most one pod more per 5 minutes. 3 hosts at 0.9 want 5: 4 (3 + 1).
    Then the target has 4 replicas, wanting ceil(4 × 1.5) = 6; the scale to 4 at 1m
    counts within 5m, so the period started at 4 - 1 = 3 and the limit stays 4: nothing,
    until 6m, when the scale at 1m leaves the period (ts > now - 5m): 4 + 1 = 5."""
    _, two = stages(tmp_path, ONE_PER_5M)
    busy(two, 0, 0.9)
    [first] = two.close(end_of(0))
    assert first.record is not None
    assert first.record["reason"] == "metric 0.9 over target 0.6: 3 → 4 (wants 5: scale-up limit 4)"
    out: list[Signal] = []
    four = (*HOSTS, "web-4")
    for minute in range(1, 6):
        busy(two, minute, 0.9, four)
        out += two.close(end_of(minute))
    assert [decided(first), *map(decided, out)] == [(1, 3, 4), (6, 4, 5)]


def test_a_window_nobody_reported_in_decides_nothing(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    assert two.close(end_of(9)) == []
    assert two.decisions.cores == {}  # no HPA evaluation: not even a first one
    # six idle hosts at 0.2 in minute 10, the first window reported: desired 2, but the
    # first evaluation records the current 6, and scale-down takes the highest
    # recommendation of the last 5 minutes
    busy(two, 10, 0.2, tuple(f"web-{n}" for n in range(1, 7)))
    assert two.close(end_of(10)) == []
    assert CHECKOUT in two.decisions.cores


def test_adopt_carries_the_state_of_an_autoscaler_defined_alike(tmp_path: Path) -> None:
    """A hot reload: the new ScaleDecisions takes the old one's parts waiting for their
    window, its HPA state and the last count sent, unless the autoscaler changed."""
    _, two = stages(tmp_path)
    busy(two, 0, 0.9)
    assert [decided(s) for s in two.close(end_of(0))] == [(1, 3, 5)]
    busy(two, 1, 1.2)  # wants 6: its part waits in the old decisions
    for part in two.parts(end_of(1)):
        two.decisions.add(signal_fields(part))
    same = decisions_of(tmp_path / "same", RULES)
    changed = decisions_of(
        tmp_path / "changed", RULES.replace("max_replicas: 10", "max_replicas: 9")
    )
    same.adopt(two.decisions)
    changed.adopt(two.decisions)
    [carried] = same.close(end_of(1) + MERGE_WAIT_MS)  # the part it never saw
    assert decided(carried) == (2, 3, 6)
    assert changed.close(end_of(1) + MERGE_WAIT_MS) == []  # nothing carried
    busy(two, 2, 1.2)
    for part in two.parts(end_of(2)):
        same.add(signal_fields(part))
        changed.add(signal_fields(part))
    assert same.close(end_of(2) + MERGE_WAIT_MS) == []  # 6: already sent
    assert [decided(s) for s in changed.close(end_of(2) + MERGE_WAIT_MS)] == [(3, 3, 6)]


def test_an_autoscaler_on_records_counts_each_replicas_records(tmp_path: Path) -> None:
    """value's default for any source but metric is 1: a record counts once, as an SLO's
    events do. Two API hosts logging 300 requests each in a minute, one replica per 100
    requests (metric: total): 600 / 100, desired 6 (limit max(4, 2 + 4) = 6)."""
    text = (
        "autoscalers:\n"
        "  - id: api_autoscale\n"
        "    target: api\n"
        "    source: log\n"
        '    match: service == "api"\n'
        "    per: host\n"
        "    metric: total\n"
        "    grace: 5s\n"
        "    target_value: 100\n"
        "    max_replicas: 20\n"
    )
    two = TwoStages(rulebook_from_yaml(tmp_path, text), source="log")
    for host in ("api-1", "api-2"):
        for k in range(300):
            two.add({"service": "api", "host": host, "body": "GET /cart"}, T0 + k * 200)
    assert [decided(s) for s in two.close(end_of(0))] == [(1, 2, 6)]


# --- hpa_config ---------------------------------------------------------------------------


def test_hpa_config_fills_in_hpas_defaults(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    config = rulebook.rules[CHECKOUT].rule.autoscale
    assert config is not None
    # HPA's (autoscaling/v2 defaults): up at once by 100% or 4 pods per 15s, whichever is
    # more; down to the highest recommendation of 5 minutes, by up to 100% per 15s
    assert hpa_config(config) == AutoscalerConfig(
        target_value=0.6,
        min_replicas=2,
        max_replicas=10,
        tolerance=0.1,
        scale_up=ScalingRules(
            0, (ScalingPolicy("percent", 100, 15 * S), ScalingPolicy("pods", 4, 15 * S)), "max"
        ),
        scale_down=ScalingRules(5 * M, (ScalingPolicy("percent", 100, 15 * S),), "max"),
        per_replica=True,
    )


def test_hpa_config_keeps_the_behavior_written(tmp_path: Path) -> None:
    text = RULES + (
        "    tolerance: 0.05\n"
        "    behavior:\n"
        "      scale_up: {stabilization: 1m, select: min}\n"
        "      scale_down:\n"
        "        stabilization: 0s\n"
        "        select: disabled\n"
        "        policies: [{pods: 1, period: 1m}, {percent: 10, period: 30m}]\n"
    )
    rulebook = rulebook_from_yaml(tmp_path, text)
    config = rulebook.rules[ORDERS].rule.autoscale
    assert config is not None
    hpa = hpa_config(config)
    assert hpa.scale_up == ScalingRules(  # the default policies, its stabilization and select
        M, (ScalingPolicy("percent", 100, 15 * S), ScalingPolicy("pods", 4, 15 * S)), "min"
    )
    assert hpa.scale_down == ScalingRules(  # 0s written is 0s, not the 5m default
        0, (ScalingPolicy("pods", 1, M), ScalingPolicy("percent", 10, 30 * M)), "disabled"
    )
    assert (hpa.target_value, hpa.min_replicas, hpa.max_replicas) == (500.0, 1, 20)
    assert (hpa.tolerance, hpa.per_replica) == (0.05, False)  # metric: total


# --- the match and the decision tier ------------------------------------------------------


def test_a_match_carries_exactly_the_fields_the_templates_of_its_type_see(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    busy(two, 4, 0.9)
    [signal] = two.close(end_of(4))
    reads_record, fields = MATCH_FIELDS["autoscale"]
    assert signal.record is not None and set(signal.record) == fields
    assert reads_record is False  # made when time passes, not on a record
    assert (signal.kind, signal.key, signal.rules, signal.group, signal.source) == (
        "match",
        CHECKOUT,
        [CHECKOUT],
        {},
        "metric",
    )
    assert (signal.window_start_ms, signal.ts_ms) == (T0 + 4 * M, T0 + 5 * M)
    assert signal.id == stable_id("autoscale", CHECKOUT, T0 + 5 * M)  # a replay: the same id
    assert signal.record == {
        "target": "checkout",
        "replicas": 5,
        "current": 3,
        "metric": 0.9,  # 5.3999999999999995 / 6, rounded to 6 decimals
        "target_value": 0.6,
        "proposed": 5,
        "stabilized": 5,
        "reason": "metric 0.9 over target 0.6: 3 → 5",
    }


def test_the_decision_tier_sends_a_scale_action_whose_counts_are_numbers(tmp_path: Path) -> None:
    rulebook, two = stages(tmp_path)
    busy(two, 0, 0.9)
    signals = two.close(end_of(0))
    busy(two, 2, 1.2)
    signals += two.close(end_of(2))
    store = DictStore()
    actions = []
    for signal in signals:  # as the decision tier reads them from ops.signals
        actions += decide(
            Signal.model_validate_json(signal.model_dump_json()), rulebook, store
        ).actions
    scale = ("scale", CHECKOUT, "firing")
    assert [(a.type, a.rule_id, a.status, a.ts, a.params) for a in actions] == [
        (*scale, format_ts(T0 + M), {"target": "checkout", "replicas": 5, "from": 3}),
        (*scale, format_ts(T0 + 3 * M), {"target": "checkout", "replicas": 6, "from": 3}),
    ]
    assert all(type(a.params["replicas"]) is int and type(a.params["from"]) is int for a in actions)
    assert actions[0].summary == (
        "scale checkout from 3 to 5 replicas (metric 0.9 over target 0.6: 3 → 5)"
    )
