"""The router's pre-filter: window results that cannot change an alert are not sent."""

from __future__ import annotations

from pathlib import Path

from processors.firehose.routing import Router, series_key
from processors.records import Signal
from tests.processors.rulebook_factory import rulebook_from_yaml

M = 60_000
T0 = 1_795_899_240_000

RULES = """
rules:
  - id: hot
    source: metric
    match: name == "t"
    window: {size: 1m, stat: max, grace: 0s}
    condition: value > 1
    keep_firing_for: 1m
    group_by: [host]
"""


def sent_minutes(router: Router, values: list[float], first_minute: int = 0) -> list[int]:
    """Feed one record per minute; the minutes whose window was sent."""
    sent: list[Signal] = []
    for i, value in enumerate(values):
        minute = first_minute + i
        record = {"ts_ms": T0 + minute * M, "name": "t", "value": value, "host": "h"}
        router.route(
            record, ts_ms=record["ts_ms"], offset=minute, ref=str(minute), now_ms=0, out=sent
        )
        sent.extend(router.close(now_ms=0))
    return [(s.window_start_ms - T0) // M for s in sent if s.window_start_ms is not None]


def test_false_windows_long_after_the_last_true_are_not_sent(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    router = Router(rulebook, "metric", idle_timeout_ms=10**9)
    span = rulebook.feeds[next(iter(rulebook.feeds))].spec.empty_windows  # windows
    values = [0.0] * 10 + [5.0] + [0.0] * 10
    sent = sent_minutes(router, values)
    warm = list(range(span + 1))  # the first window closed, and `span` more, all sent
    assert sent == [*warm, 10, *range(11, 11 + span)]
    assert router.filtered == len(values) - 1 - len(sent)  # the last window is still open


def test_a_new_router_warms_up_before_filtering(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(tmp_path, RULES)
    span = rulebook.feeds[next(iter(rulebook.feeds))].spec.empty_windows
    after_restart = Router(rulebook, "metric", idle_timeout_ms=10**9)
    sent = sent_minutes(after_restart, [0.0] * 10, first_minute=100)
    assert sent == list(range(100, 100 + span + 1))


def test_series_key_escapes_only_what_it_must() -> None:
    assert series_key(["web-1"]) == "web-1"
    assert series_key(["a|b", "50%"]) == "a%7Cb|50%25"
    assert series_key([]) == "*"


DISPATCH_RULES = """
rules:
  - id: cpu
    source: metric
    match: name == "cpu" and value >= 0
    window: {size: 1m, stat: max}
    condition: value > 0.9
  - id: disk_on_db
    source: metric
    match: host == "db" and name == "disk"
    window: {size: 1m, stat: max}
    condition: value > 0.9
  - id: any_high
    source: metric
    match: value > 100 or name == "cpu"
    window: {size: 1m, stat: count}
    condition: value > 1
  - id: cpu_now
    source: metric
    match: name == "cpu"
    condition: value > 0.99
"""


def test_records_are_tried_only_on_rules_that_can_match_their_name(tmp_path: Path) -> None:
    router = Router(rulebook_from_yaml(tmp_path, DISPATCH_RULES), "metric", idle_timeout_ms=1)
    dispatch = router.dispatch
    assert dispatch.field == "name"

    def rules_tried(record: dict[str, object]) -> list[str]:
        feeds, record_rules = dispatch.candidates(record)
        return [f.rule_ids[0] for f in feeds] + [r.id for r in record_rules]

    assert rules_tried({"name": "cpu"}) == ["cpu", "any_high", "cpu_now"]
    assert rules_tried({"name": "disk", "host": "web"}) == ["disk_on_db", "any_high"]
    assert rules_tried({"name": "mem"}) == ["any_high"]
    assert rules_tried({"name": 7}) == ["any_high"]  # never equal to a string literal
    assert rules_tried({}) == ["any_high"]


def test_dispatch_changes_no_outcome(tmp_path: Path) -> None:
    """The same records through a router with and without the index: the same signals."""
    rulebook = rulebook_from_yaml(tmp_path, DISPATCH_RULES)
    indexed = Router(rulebook, "metric", idle_timeout_ms=10**9)
    plain = Router(rulebook, "metric", idle_timeout_ms=10**9)
    everything = (plain.plan.feeds, plain.plan.record_rules)
    object.__setattr__(plain.dispatch, "field", None)
    object.__setattr__(plain.dispatch, "default", everything)
    out: dict[str, list[Signal]] = {"indexed": [], "plain": []}
    for i in range(600):
        record = {
            "ts_ms": T0 + i * 1000,
            "name": ["cpu", "disk", "mem", "cpu "][i % 4],
            "host": ["db", "web"][i % 3 % 2],
            "value": (i * 37 % 1000) / 5,
        }
        for name, router in (("indexed", indexed), ("plain", plain)):
            router.route(
                record, ts_ms=record["ts_ms"], offset=i, ref=str(i), now_ms=0, out=out[name]
            )
            out[name].extend(router.close(now_ms=0))
    assert len(out["indexed"]) > 20
    assert [s.id for s in out["indexed"]] == [s.id for s in out["plain"]]
