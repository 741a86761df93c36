"""Canary analyses in the firehose: the CanarySamples an input partition runs (a deploy
event sent at once as a part; each check's samples per side and interval, sent as a part
when the interval closes), the CanaryAnalyses of a signals partition (a deploy started
opens an analysis, the parts of an interval are put together and judged, a verdict is a
match of the rollback or promote rule), and the decision tier turning a rollback into an
alert and a heal.

The judging by hand (processors/firehose/canary.py): per interval and check, each side's
stat over its values (an error ratio is the mean of 0/1 values), fewer than min_samples
(5) on a side is no data (ignored); a check fails when |canary - baseline| >=
min_difference and canary > max_ratio x baseline; two failed intervals (in all) roll
back, three intervals with fewer promote. An interval [start, end) is judged once the
signals partition's clock reaches end + grace (5s) + MERGE_WAIT_MS (60s); the verdict's
time is the end of the interval that decided it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from processors.decisions.alert_record import DictStore
from processors.decisions.decide import decide
from processors.firehose.canaries import MAX_VALUES, CanaryAnalyses, CanarySamples
from processors.firehose.repartition import MERGE_WAIT_MS
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook, MatcherKind
from processors.rules.templates import MATCH_FIELDS
from processors.timestamps import format_ts
from streams.ingest import signal_fields
from tests.processors.rulebook_factory import rulebook_from_yaml

S = 1000
M = 60 * S
T0 = 1_796_688_000_000  # a whole hour
GRACE_MS = 5 * S
CANARY = "checkout_canary"
ROLLBACK, PROMOTE = f"{CANARY}_rollback", f"{CANARY}_promote"
REQUESTS = "http.server.requests"
DURATION = "http.server.request.duration"

RULES = """
canaries:
  - id: checkout_canary
    match: entity == "checkout"
    interval: 1m
    intervals: 3
    max_failures: 2
    min_samples: 5
    grace: 5s
    checks:
      - name: error_ratio
        match: name == "http.server.requests" and service == "checkout"
        value: labels.class == "5xx"
        stat: error_ratio
        max_ratio: 2
        min_difference: 0.02
      - name: latency_p99
        match: name == "http.server.request.duration" and service == "checkout"
        stat: p99
        max_ratio: 1.5
"""
WARMUP_30S = RULES.replace("    grace: 5s\n", "    grace: 5s\n    warmup: 30s\n")


class TwoStages:
    """The input partitions (one CanarySamples per origin: ``e/0`` of ops.events, ``m/0``
    and ``m/1`` of ops.metrics) and the signals partition whose CanaryAnalyses takes their
    parts, its clock the inputs' plus the merge's wait: an interval is judged when the
    inputs' clock passes its end and grace, as with one stage."""

    def __init__(self, rulebook: CompiledRulebook) -> None:
        events, metrics = rulebook.sources["event"], rulebook.sources["metric"]
        self.inputs = {
            "e/0": CanarySamples(events.canary_deploys, events.canary_checks, "event", "e/0"),
            "m/0": CanarySamples(metrics.canary_deploys, metrics.canary_checks, "metric", "m/0"),
            "m/1": CanarySamples(metrics.canary_deploys, metrics.canary_checks, "metric", "m/1"),
        }
        self.analyses = CanaryAnalyses(rulebook.sources["signal"].canary_merges)

    def add(self, record: dict[str, Any], ts_ms: int, origin: str = "m/0") -> bool:
        """A record; a deploy's part goes to the signals partition at once."""
        out: list[Signal] = []
        kept = self.inputs[origin].add(record, ts_ms, out)
        for part in out:
            self.analyses.add(signal_fields(part))
        return kept

    def close(self, clock_ms: int) -> list[Signal]:
        for samples in self.inputs.values():
            for part in samples.close(clock_ms):
                self.analyses.add(signal_fields(part))
        return self.analyses.close(clock_ms + MERGE_WAIT_MS)


def stages(tmp_path: Path, text: str = RULES) -> tuple[CompiledRulebook, TwoStages]:
    rulebook = rulebook_from_yaml(tmp_path, text)
    return rulebook, TwoStages(rulebook)


def deploy(
    status: str = "started",
    version: str = "2.4.0",
    previous: str | None = "2.3.1",
    strategy: str | None = "canary",
    entity: str = "checkout",
) -> dict[str, Any]:
    record: dict[str, Any] = {"type": "deploy", "entity": entity, "status": status}
    record |= {"version": version}
    if previous is not None:
        record["previous_version"] = previous
    if strategy is not None:
        record["strategy"] = strategy
    return record


def request(track: str, status_class: str = "2xx", service: str = "checkout") -> dict[str, Any]:
    """One request of a host of ``track`` (a sample of the error_ratio check)."""
    host = "web-c1" if track == "canary" else "web-b1"
    labels = {"track": track, "class": status_class}
    return {"name": REQUESTS, "service": service, "host": host, "labels": labels, "value": 1.0}


def duration(track: str, value: Any) -> dict[str, Any]:
    """One request's duration in seconds (a sample of the latency_p99 check)."""
    host = "web-c1" if track == "canary" else "web-b1"
    return {
        "name": DURATION,
        "service": "checkout",
        "host": host,
        "labels": {"track": track},
        "value": value,
    }


def minute_of_requests(two: TwoStages, minute: int, bad: int, origin: str = "m/0") -> None:
    """Ten requests of each side every 6s of ``minute``, the canary's first ``bad`` of
    them 5xx (an error ratio of bad / 10 against the baseline's 0)."""
    for k in range(10):
        ts_ms = T0 + minute * M + k * 6 * S
        two.add(request("baseline"), ts_ms, origin)
        two.add(request("canary", "5xx" if k < bad else "2xx"), ts_ms, origin)


def end_of(minute: int) -> int:
    """The inputs' clock that closes the interval ``[minute, minute + 1)`` and no later."""
    return T0 + (minute + 1) * M + GRACE_MS


def samples_of(part: Signal) -> Any:
    assert part.record is not None
    return part.record["samples"]


# --- CanarySamples: per input partition --------------------------------------------------


def test_a_deploy_goes_out_at_once_as_a_part_with_its_fields(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    events = two.inputs["e/0"]
    out: list[Signal] = []
    record = {**deploy(), "message": "release 2.4.0", "ts": "2026-12-08T04:00:00Z"}
    assert events.add(record, T0 + 20 * S, out) is False  # no sample: no offset held
    [part] = out
    fields = {
        "entity": "checkout",
        "status": "started",
        "version": "2.4.0",
        "previous_version": "2.3.1",
        "strategy": "canary",
    }  # only these of the event's fields
    assert (part.kind, part.key, part.source, part.rules, part.ts_ms) == (
        "part",
        CANARY,  # keyed by the analysis: its parts all land on one signals partition
        "event",
        [],  # seen by no rule
        T0 + 20 * S,
    )
    assert part.record == {"canary": CANARY, "origin": "e/0", "deploy": fields}
    assert part.id == stable_id("canary_deploy", CANARY, "e/0", T0 + 20 * S, str(fields))
    # a field the event lacks is None; the same event again gives the same id
    again: list[Signal] = []
    events.add(deploy(previous=None, strategy=None), T0 + 20 * S, again)
    assert again[0].record is not None
    assert again[0].record["deploy"] == {**fields, "previous_version": None, "strategy": None}
    events.add(record, T0 + 20 * S, again)
    assert again[1].id == part.id


@pytest.mark.parametrize(
    "record",
    [
        deploy(entity="search"),  # not the analysis's match
        {**deploy(), "type": "change"},  # checkout's, but no deploy
        {"type": "backup", "entity": "checkout", "status": "started"},
    ],
)
def test_an_event_that_is_not_the_analysiss_deploy_sends_nothing(
    tmp_path: Path, record: dict[str, Any]
) -> None:
    _, two = stages(tmp_path)
    out: list[Signal] = []
    assert two.inputs["e/0"].add(record, T0, out) is False
    assert out == [] and two.inputs["e/0"].close(end_of(5)) == []


def test_samples_are_kept_per_check_and_side(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    assert two.add(request("baseline"), T0 + 1 * S)
    assert two.add(request("canary", "5xx"), T0 + 2 * S)
    assert two.add(request("canary", "2xx"), T0 + 3 * S)
    assert two.add(duration("baseline", 0.1), T0 + 4 * S)
    assert two.add(duration("canary", 0.25), T0 + 5 * S)
    assert two.add(duration("canary", 3), T0 + 6 * S)  # an int: a number too
    assert not two.add(request("canary", "5xx", service="search"), T0 + 7 * S)  # no check's
    assert not two.add({**duration("canary", 9.0), "name": "other"}, T0 + 8 * S)
    [part] = two.inputs["m/0"].close(end_of(0))
    # error_ratio's values are its condition's, 1 when bad; latency_p99's the samples'
    assert samples_of(part) == {
        "error_ratio": {"baseline": [0.0], "canary": [1.0, 0.0]},
        "latency_p99": {"baseline": [0.1], "canary": [0.25, 3.0]},
    }


@pytest.mark.parametrize("track", ["stable", "", None])
def test_a_sample_whose_track_is_neither_side_is_skipped(tmp_path: Path, track: Any) -> None:
    _, two = stages(tmp_path)
    record = request("canary")
    record["labels"] = {"class": "2xx"} if track is None else {"track": track, "class": "2xx"}
    assert two.add(record, T0 + 10 * S) is False
    assert two.add(request("baseline"), T0 + 20 * S) is True
    [part] = two.inputs["m/0"].close(end_of(0))
    assert samples_of(part) == {"error_ratio": {"baseline": [0.0]}}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.2", None, [0.2]])
def test_a_sample_whose_value_is_not_a_number_is_skipped(tmp_path: Path, value: Any) -> None:
    _, two = stages(tmp_path)
    assert two.add(duration("canary", value), T0 + 10 * S) is False
    assert two.add(duration("canary", 0.2), T0 + 20 * S) is True
    [part] = two.inputs["m/0"].close(end_of(0))
    assert samples_of(part) == {"latency_p99": {"canary": [0.2]}}


def test_a_boolean_value_counts_as_1_or_0(tmp_path: Path) -> None:
    """A check of any source: a log's ``attributes`` may hold a boolean."""
    text = """
canaries:
  - id: checkout_canary
    track: attributes.track
    checks:
      - name: failed_payments
        source: log
        match: service == "checkout"
        value: attributes.failed
        stat: error_ratio
        max_ratio: 2
"""
    rulebook = rulebook_from_yaml(tmp_path, text)
    log = rulebook.sources["log"]
    logs = CanarySamples(log.canary_deploys, log.canary_checks, "log", "l/0")
    for second, failed in ((1, True), (2, False), (3, True), (4, 1)):
        record = {"service": "checkout", "attributes": {"track": "canary", "failed": failed}}
        assert logs.add(record, T0 + second * S, [])
    [part] = logs.close(T0 + M + 10 * S)  # the default grace, 10s
    assert part.source == "log"
    assert samples_of(part) == {"failed_payments": {"canary": [1.0, 0.0, 1.0, 1.0]}}


def test_at_most_max_values_per_check_side_and_interval_are_kept_the_first_ones(
    tmp_path: Path,
) -> None:
    _, two = stages(tmp_path)
    for k in range(MAX_VALUES + 5):  # 2,005 durations in minute 0, valued 0, 1, 2, ...
        kept = two.add(duration("canary", float(k)), T0 + k * 20)
        assert kept is (k < MAX_VALUES)  # an offset is held only for a value kept
    assert two.add(duration("baseline", 0.1), T0 + 50 * S)  # the other side has room
    assert two.add(duration("canary", 0.5), T0 + M)  # so has the next interval
    first, second = two.inputs["m/0"].close(end_of(1))
    values = samples_of(first)["latency_p99"]
    assert values["canary"] == [float(k) for k in range(MAX_VALUES)]
    assert values["baseline"] == [0.1]
    assert samples_of(second) == {"latency_p99": {"canary": [0.5]}}


def test_an_interval_is_sent_once_the_clock_less_the_grace_passes_its_end(
    tmp_path: Path,
) -> None:
    _, two = stages(tmp_path)
    metrics = two.inputs["m/0"]
    two.add(duration("canary", 0.1), T0 + 59 * S)
    two.add(duration("canary", 0.3), T0 + M + 1 * S)
    assert metrics.close(end_of(0) - 1) == []  # 1m4.999s: 1m is not passed less the grace
    assert two.add(duration("canary", 0.2), T0 + 59_500)  # still open: kept
    [part] = metrics.close(end_of(0))  # 1m5s: minute 0 only
    assert samples_of(part) == {"latency_p99": {"canary": [0.1, 0.2]}}
    assert metrics.close(end_of(0)) == []  # once
    [later] = metrics.close(end_of(1))
    assert samples_of(later) == {"latency_p99": {"canary": [0.3]}}


def test_a_sample_of_an_interval_already_sent_is_late(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    metrics = two.inputs["m/0"]
    assert metrics.close(end_of(0)) == []  # nothing to send, but minute 0 is over
    assert two.add(duration("canary", 0.1), T0 + 30 * S) is False
    assert metrics.late == 1
    assert two.add(duration("canary", 0.1), T0 + M) is True  # minute 1 is open
    assert metrics.late == 1


def test_a_part_names_its_analysis_origin_and_interval(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(duration("canary", 0.1), T0 + 2 * M + 10 * S, "m/0")
    two.add(duration("baseline", 0.1), T0 + 2 * M + 20 * S, "m/1")
    [first] = two.inputs["m/0"].close(end_of(2))
    [second] = two.inputs["m/1"].close(end_of(2))
    assert (first.kind, first.key, first.source, first.rules, first.group) == (
        "part",
        CANARY,
        "metric",
        [],
        {},
    )
    assert (first.window_start_ms, first.ts_ms) == (T0 + 2 * M, T0 + 3 * M)  # its end
    assert first.id == stable_id("canary_samples", CANARY, T0 + 2 * M, "m/0")
    assert second.id == stable_id("canary_samples", CANARY, T0 + 2 * M, "m/1")
    assert first.record == {
        "canary": CANARY,
        "origin": "m/0",
        "samples": {"latency_p99": {"canary": [0.1]}},
    }


# --- CanaryAnalyses: per signals partition ------------------------------------------------


def judged_starts(two: TwoStages) -> list[int]:
    """The starts of the intervals the running analysis judged, from T0 in seconds."""
    return [(r.start_ms - T0) // S for r in two.analyses.judged.get(CANARY, [])]


@pytest.mark.parametrize(
    ("text", "deployed_s", "first_s"),
    [
        (RULES, 0, 0),  # on a boundary: that one
        (RULES, 20, 60),  # the next boundary
        (WARMUP_30S, 20, 60),  # 20s + 30s = 50s: the boundary at 1m
        (WARMUP_30S, 30, 60),  # 30s + 30s is a boundary itself
        (WARMUP_30S, 31, 120),  # 1m1s: the boundary at 2m
    ],
)
def test_a_deploy_started_opens_the_analysis_at_the_next_boundary_after_the_warmup(
    tmp_path: Path, text: str, deployed_s: int, first_s: int
) -> None:
    _, two = stages(tmp_path, text)
    two.add(deploy(), T0 + deployed_s * S, "e/0")
    assert two.close(end_of(0)) == []
    two.close(end_of(1))
    assert judged_starts(two) == [s for s in (0, 60) if s >= first_s]


def test_samples_before_the_analysis_starts_are_not_judged(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0 + 20 * S, "e/0")  # the analysis starts at 1m
    minute_of_requests(two, 0, bad=10)  # a canary failing every request, before it
    for minute in (1, 2, 3):
        minute_of_requests(two, minute, bad=0)
    [signal] = two.close(end_of(3))
    # minutes 1-3 are its three intervals, each 0 against 0: promoted at 4m
    assert signal.rules == [PROMOTE] and signal.ts_ms == T0 + 4 * M
    assert signal.record is not None and signal.record["failed_intervals"] == 0


@pytest.mark.parametrize("strategy", ["rolling", "recreate"])
def test_a_deploy_of_another_strategy_opens_no_analysis(tmp_path: Path, strategy: str) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(strategy=strategy), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=5)
    assert two.close(end_of(5)) == [] and not any(two.analyses.running.values())


def test_a_rollback_verdict_is_a_match_of_the_rollback_rule(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=4)  # 0.4 against 0: failed
    # minute 0 fails: judged once the signals clock reaches 1m + 5s + 1m
    assert two.close(end_of(0)) == []
    assert any(two.analyses.running.values()) and judged_starts(two) == [0]
    assert two.close(end_of(1) - 1) == []
    [signal] = two.close(end_of(1))  # minute 1 fails too: two of two, max_failures 2
    record = {
        "target": "checkout",
        "version": "2.4.0",
        "previous_version": "2.3.1",
        "strategy": "canary",
        "command": "rollback",
        "reason": "2 of 2 intervals failed, reaching max_failures 2",
        "failed_intervals": 2,
        "judged_intervals": 2,
        "stage": None,  # no stages
        "weight": None,
    }
    assert signal == Signal(
        id=stable_id("canary", ROLLBACK, "checkout", T0 + 2 * M),
        kind="match",
        key="checkout",
        source="event",
        rules=[ROLLBACK],
        group={"entity": "checkout"},
        ts_ms=T0 + 2 * M,  # the end of the interval that decided it
        record=record,
    )
    assert not any(two.analyses.running.values())  # over: minute 2 is judged by nobody
    assert two.close(end_of(5)) == []


def test_a_verdicts_record_holds_exactly_what_a_canary_rules_templates_read(
    tmp_path: Path,
) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=0)
    [signal] = two.close(end_of(2))
    reads_record, fields = MATCH_FIELDS["canary"]
    assert signal.record is not None and set(signal.record) == fields
    assert reads_record is False  # made when time passes, not on a record


@pytest.mark.parametrize("strategy", ["canary", None])
def test_a_canary_with_fewer_failures_than_the_limit_is_promoted_after_the_last_interval(
    tmp_path: Path, strategy: str | None
) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(strategy=strategy), T0, "e/0")
    for minute, bad in ((0, 0), (1, 4), (2, 0)):  # minute 1 fails: 1 of 3, under 2
        minute_of_requests(two, minute, bad=bad)
    assert two.close(end_of(1)) == []
    [signal] = two.close(end_of(2))
    assert (signal.rules, signal.key, signal.ts_ms) == ([PROMOTE], "checkout", T0 + 3 * M)
    assert signal.id == stable_id("canary", PROMOTE, "checkout", T0 + 3 * M)
    assert signal.record == {
        "target": "checkout",
        "version": "2.4.0",
        "previous_version": "2.3.1",
        "strategy": strategy,
        "command": "promote",
        "reason": "1 of 3 intervals failed, under max_failures 2",
        "failed_intervals": 1,
        "judged_intervals": 3,
        "stage": None,
        "weight": None,
    }


def test_a_blue_green_deploy_that_passes_is_switched(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(strategy="blue_green"), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=0)
    [signal] = two.close(end_of(2))
    assert signal.rules == [PROMOTE]
    assert signal.record is not None
    assert (signal.record["command"], signal.record["strategy"]) == ("switch", "blue_green")
    assert signal.record["reason"] == "0 of 3 intervals failed, under max_failures 2"


def test_a_second_deploy_started_replaces_the_running_analysis(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    minute_of_requests(two, 0, bad=4)  # 2.4.0's minute 0 fails
    # 2.4.1 at 1m30s: a fresh analysis from 2m; 2.4.0's failure is forgotten
    two.add(deploy(version="2.4.1", previous="2.4.0"), T0 + 90 * S, "e/0")
    for minute, bad in ((1, 4), (2, 4), (3, 4)):
        minute_of_requests(two, minute, bad=bad)
    assert two.close(end_of(2)) == []  # minute 2: 2.4.1's first failure
    assert judged_starts(two) == [120]
    [signal] = two.close(end_of(3))
    assert signal.rules == [ROLLBACK] and signal.ts_ms == T0 + 4 * M
    assert signal.record is not None
    assert (signal.record["version"], signal.record["previous_version"]) == ("2.4.1", "2.4.0")
    assert (signal.record["failed_intervals"], signal.record["judged_intervals"]) == (2, 2)


@pytest.mark.parametrize("status", ["failed", "rolled_back"])
def test_a_deploy_failed_or_rolled_back_ends_the_analysis_without_a_verdict(
    tmp_path: Path, status: str
) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=4)  # would roll back at 2m
    two.add(deploy(status=status), T0 + 90 * S, "e/0")
    assert two.close(end_of(5)) == []
    assert not any(two.analyses.running.values())


def test_another_entitys_deploy_failing_leaves_the_running_analysis_alone(
    tmp_path: Path,
) -> None:
    text = RULES.replace('match: entity == "checkout"', 'match: entity in ["checkout", "search"]')
    _, two = stages(tmp_path, text)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=4)
    two.add(deploy(status="failed", entity="search", version="9.0.0"), T0 + 30 * S, "e/0")
    [signal] = two.close(end_of(1))  # checkout's analysis rolls back checkout
    assert signal.rules == [ROLLBACK] and signal.key == "checkout"


def test_a_deploy_part_behind_its_samples_parts_gets_the_verdict_of_the_records_in_order(
    tmp_path: Path,
) -> None:
    """The events partition lags the metrics one (a catch-up): minute 0's and 1's parts
    reach the signals partition and come due (its clock at 2m5s + the wait) before the
    deploy's part does."""
    _, two = stages(tmp_path)
    for minute, bad in ((0, 4), (1, 4), (2, 0)):  # in order: rolled back at 2m
        minute_of_requests(two, minute, bad=bad)
    assert two.close(end_of(1)) == []  # no analysis yet: minutes 0 and 1 are dropped
    two.add(deploy(), T0, "e/0")
    # got: minutes 0 and 1 judged without their samples (no data, ignored), minute 2
    # passed: promoted at 3m
    [signal] = two.close(end_of(2))
    assert (signal.rules, signal.ts_ms) == ([ROLLBACK], T0 + 2 * M)


def test_parts_of_two_origins_are_put_together(tmp_path: Path) -> None:
    """Metrics are keyed by host: the baseline's and the canary's samples reach the
    signals partition from two input partitions."""
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for k in range(10):  # every 6s of minute 0: the baseline on m/0, the canary on m/1
        two.add(duration("baseline", 0.1), T0 + k * 6 * S, "m/0")
        two.add(duration("canary", 0.3), T0 + k * 6 * S, "m/1")
    assert two.close(end_of(0)) == []
    [interval] = two.analyses.judged[CANARY]
    errors, latency = interval.checks
    # 10 durations a side: p99 0.3 against 0.1, over 1.5 x 0.1: failed; no requests
    assert (latency.canary_n, latency.baseline_n, latency.outcome) == (10, 10, "fail")
    assert (latency.canary, latency.baseline) == pytest.approx((0.3, 0.1))
    assert (errors.canary_n, errors.baseline_n, errors.outcome) == (0, 0, "nodata")
    assert not interval.passed


@pytest.mark.parametrize("replay_first", [False, True])
def test_of_two_parts_of_one_origin_the_fuller_is_kept_whichever_comes_first(
    tmp_path: Path, replay_first: bool
) -> None:
    """After a rewind an input partition sends an interval again from fewer records (some
    of its offsets were committed): the fuller part stands."""
    rulebook, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for k in range(10):
        two.add(duration("baseline", 0.1), T0 + k * 6 * S, "m/0")
        two.add(duration("canary", 0.3), T0 + k * 6 * S, "m/1")
    metric = rulebook.sources["metric"]
    rewound = CanarySamples(metric.canary_deploys, metric.canary_checks, "metric", "m/1")
    for k in range(4):  # m/1 read again from its 7th record: 4 of its 10 samples
        rewound.add(duration("canary", 0.3), T0 + (6 + k) * 6 * S, [])
    [replay] = rewound.close(end_of(0))
    parts = [p for samples in two.inputs.values() for p in samples.close(end_of(0))]
    for part in [replay, *parts] if replay_first else [*parts, replay]:
        two.analyses.add(signal_fields(part))
    assert two.analyses.close(end_of(0) + MERGE_WAIT_MS) == []
    [interval] = two.analyses.judged[CANARY]
    assert (interval.checks[1].canary_n, interval.checks[1].baseline_n) == (10, 10)


@pytest.mark.parametrize(
    ("extra", "bad", "expected"),
    [
        ("    rollback: {enabled: false}\n", 4, []),  # a failing canary: nothing said
        ("    promote: {enabled: false}\n", 0, []),  # a good one: nothing said
        ("    promote: {enabled: false}\n", 4, [ROLLBACK]),
        ("    rollback: {enabled: false}\n", 0, [PROMOTE]),
    ],
)
def test_a_disabled_verdicts_rule_gives_no_signal(
    tmp_path: Path, extra: str, bad: int, expected: list[str]
) -> None:
    _, two = stages(tmp_path, RULES + extra)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=bad)
    assert [s.rules[0] for s in two.close(end_of(2))] == expected
    assert not any(two.analyses.running.values())  # over either way


def test_a_disabled_canary_analyses_nothing(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES + "    enabled: false\n")
    assert all(
        not (plan.canary_deploys or plan.canary_checks or plan.canary_merges)
        for plan in rulebook.sources.values()
    )


def analyses_of(directory: Path, text: str) -> CanaryAnalyses:
    """A signals partition's analyses of a rulebook loaded afresh (a hot reload)."""
    directory.mkdir()
    return CanaryAnalyses(rulebook_from_yaml(directory, text).sources["signal"].canary_merges)


def test_adopt_carries_a_running_analysis_of_an_identical_config_only(tmp_path: Path) -> None:
    """A hot reload: the new CanaryAnalyses takes the old one's running analysis and its
    parts waiting for their interval, unless the canary changed."""
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=4)
    two.close(end_of(0))  # minute 0 judged: one failure
    for samples in two.inputs.values():  # minute 1's part is in, not due yet
        for part in samples.close(end_of(1)):
            two.analyses.add(signal_fields(part))
    same = analyses_of(tmp_path / "same", RULES)
    changed = analyses_of(tmp_path / "changed", RULES.replace("intervals: 3", "intervals: 4"))
    same.adopt(two.analyses)
    changed.adopt(two.analyses)
    [carried] = same.close(end_of(1) + MERGE_WAIT_MS)  # the failure before and minute 1's
    assert carried.rules == [ROLLBACK] and carried.ts_ms == T0 + 2 * M
    assert carried.record is not None and carried.record["failed_intervals"] == 2
    assert not any(changed.running.values()) and changed.close(end_of(1) + MERGE_WAIT_MS) == []


def test_a_removed_canarys_parts_are_taken_and_dropped(tmp_path: Path) -> None:
    _, two = stages(tmp_path)
    two.add(deploy(), T0, "e/0")
    minute_of_requests(two, 0, bad=4)
    parts = [p for samples in two.inputs.values() for p in samples.close(end_of(0))]
    other = analyses_of(tmp_path / "other", RULES.replace("checkout_canary", "search_canary"))
    assert all(other.add(signal_fields(p)) for p in parts)  # a canary's: taken
    assert other.close(end_of(5)) == []
    assert two.analyses.add({"kind": "part", "record": {"slo": "x"}}) is False  # not one


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
def test_the_decision_tier_alerts_and_heals_on_a_rollback(
    tmp_path: Path, matcher: MatcherKind
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES, matcher)
    two = TwoStages(rulebook)
    two.add(deploy(), T0, "e/0")
    for minute in range(3):
        minute_of_requests(two, minute, bad=4)
    [signal] = two.close(end_of(1))
    store = DictStore()
    actions = decide(Signal.model_validate_json(signal.model_dump_json()), rulebook, store).actions
    summary = (
        "canary 2.4.0 of checkout failed: 2 of 2 intervals failed, reaching max_failures 2; "
        "rolling back to 2.3.1"
    )
    assert [(a.type, a.rule_id, a.status, a.ts, a.group, a.summary) for a in actions] == [
        ("alert", ROLLBACK, "firing", format_ts(T0 + 2 * M), {"entity": "checkout"}, summary),
        ("heal", ROLLBACK, "firing", format_ts(T0 + 2 * M), {"entity": "checkout"}, summary),
    ]
    assert actions[0].params == {}
    assert actions[1].params == {"command": "rollback", "target": "checkout", "to": "2.3.1"}
