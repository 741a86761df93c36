"""Hot reload without Kafka: what counts as a change, the watcher's refuse/apply paths,
and the decision tier forgetting the alerts of changed rules."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest
from aiokafka import TopicPartition

from processors.errors import RulesError
from processors.rules.compiler import CompiledRulebook
from streams.decision_tier import DecisionBatch
from streams.metrics import Metrics
from streams.reload import RulesWatcher, changed_rules, rules_digest
from streams.settings import load_settings
from tests.processors.rulebook_factory import rulebook_from_yaml
from tests.streams.test_decision_tier import batch_of, disk_signal

DISK = """
rules:
  - id: host_disk_full
    source: metric
    match: name == "system.filesystem.utilization"
    window: {size: 1m, stat: max}
    condition: value > THRESHOLD
    group_by: [host]
"""
OTHER = """
  - id: other
    source: log
    match: body contains "x"
"""


def book(tmp_path: Path, threshold: str = "0.95", other: bool = True) -> CompiledRulebook:
    text = DISK.replace("THRESHOLD", threshold) + (OTHER if other else "")
    return rulebook_from_yaml(tmp_path, text)


def test_changed_rules_are_the_edited_and_the_removed(tmp_path: Path) -> None:
    old = book(tmp_path)
    assert changed_rules(old, book(tmp_path)) == set()
    assert changed_rules(old, book(tmp_path, threshold="0.9")) == {"host_disk_full"}
    assert changed_rules(old, book(tmp_path, other=False)) == {"other"}
    assert changed_rules(book(tmp_path, other=False), old) == set()  # added: no state


def test_the_digest_follows_the_rule_files_and_ignores_the_tests_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules: []\n")
    before = rules_digest(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "a.yaml").write_text("tests: []\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    assert rules_digest(tmp_path) == before
    (tmp_path / "a.yaml").write_text("rules: [] # edited\n")
    assert rules_digest(tmp_path) != before


class FakeTier:
    def __init__(self, name: str, calls: list[tuple[str, set[str]]]) -> None:
        self.name, self.calls = name, calls

    async def reload(self, rulebook: CompiledRulebook, changed: set[str]) -> None:
        self.calls.append((self.name, changed))


def test_the_watcher_refuses_a_broken_change_and_applies_a_good_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules: []\n")
    current = book(tmp_path)
    loads: list[CompiledRulebook | RulesError] = []

    def load() -> CompiledRulebook:
        result = loads.pop(0)
        if isinstance(result, RulesError):
            raise result
        return result

    calls: list[tuple[str, set[str]]] = []
    metrics = Metrics()

    async def scenario() -> list[bool]:
        watcher = RulesWatcher(
            rules,
            current,
            load,
            [FakeTier("decisions", calls), FakeTier("firehose", calls)],
            metrics,
            interval_s=3600,
        )
        seen = [await watcher.check()]  # nothing changed
        (rules / "r.yaml").write_text("rules: [broken\n")
        loads.append(RulesError(["r.yaml:1:8: flow sequence not closed"]))
        seen.append(await watcher.check())
        seen.append(await watcher.check())  # the same broken files: reported once
        (rules / "r.yaml").write_text("rules: []  # fixed\n")
        loads.append(book(tmp_path, threshold="0.9"))
        seen.append(await watcher.check())
        return seen

    with caplog.at_level(logging.INFO, logger="streams.reload"):
        assert asyncio.run(scenario()) == [False, False, False, True]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "not valid" in errors[0]
    assert errors[1].strip() == "r.yaml:1:8: flow sequence not closed"
    assert calls == [("decisions", {"host_disk_full"}), ("firehose", {"host_disk_full"})]
    assert metrics.value("opsrules_rules_reloads_total", result="refused") == 1
    assert metrics.value("opsrules_rules_reloads_total", result="applied") == 1


def test_a_loader_that_fails_unexpectedly_keeps_the_running_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules: []\n")
    current = book(tmp_path)
    calls: list[tuple[str, set[str]]] = []
    metrics = Metrics()

    def load() -> CompiledRulebook:
        raise RecursionError("maximum recursion depth exceeded")  # a loader bug

    async def scenario() -> bool:
        watcher = RulesWatcher(
            rules, current, load, [FakeTier("firehose", calls)], metrics, interval_s=3600
        )
        (rules / "r.yaml").write_text("rules: " + "[" * 5000 + "\n")
        refused = await watcher.check()
        assert watcher.rulebook is current
        return refused

    with caplog.at_level(logging.ERROR, logger="streams.reload"):
        assert asyncio.run(scenario()) is False
    assert calls == []
    assert metrics.value("opsrules_rules_reloads_total", result="refused") == 1
    assert "the running rules stay" in caplog.records[0].getMessage()


def test_the_decision_tier_forgets_alerts_of_changed_rules_only(tmp_path: Path) -> None:
    settings = load_settings()
    batch = DecisionBatch(settings, book(tmp_path), Metrics())
    topic = settings.topic(settings.topic_signals)
    batch.process(batch_of(topic, 2, [disk_signal(0, 0.99)]), now_ms=0)
    (key,) = batch.stores[2].data

    assert batch.reload(book(tmp_path), changed=set()) == []
    assert key in batch.stores[2].data  # unchanged rule: its firing alert stays

    out = batch.reload(book(tmp_path, threshold="0.9"), changed={"host_disk_full"})
    assert batch.stores[2].data == {}
    changelog = [o for o in out if o.topic == batch.changelog_topic]
    assert [(o.key, o.value, o.partition) for o in changelog] == [(key.encode(), None, 2)]
    assert any(o.topic == batch.firing_topic and o.value is None for o in out)
    # the next signal of the edited rule starts a new alert
    later, _ = batch.process(batch_of(topic, 2, [disk_signal(1, 0.99)], first=1), now_ms=0)
    alerts = [o for o in later if o.topic == batch.action_topics["alert"]]
    assert [orjson.loads(o.value or b"")["status"] for o in alerts] == ["firing"]
    assert TopicPartition(topic, 2) in batch.next_offsets


INHIBIT = """
inhibit_rules:
  - name: disk_mutes_other
    source_matchers: [alertname=host_disk_full]
    target_matchers: [alertname=other]
    equal: [host]
"""


def test_firing_alerts_are_published_only_when_inhibit_rules_need_them(tmp_path: Path) -> None:
    settings = load_settings()
    batch = DecisionBatch(settings, book(tmp_path), Metrics())
    topic = settings.topic(settings.topic_signals)
    out, _ = batch.process(batch_of(topic, 1, [disk_signal(0, 0.99)]), now_ms=0)
    assert [o for o in out if o.topic == batch.firing_topic] == []  # no inhibit rules
    assert batch.context.firing.by_fingerprint  # this worker still knows its alerts

    with_inhibition = rulebook_from_yaml(
        tmp_path, DISK.replace("THRESHOLD", "0.95") + OTHER + INHIBIT
    )
    out = batch.reload(with_inhibition, changed=set())
    published = [o for o in out if o.topic == batch.firing_topic]
    assert len(published) == 1 and published[0].value is not None  # now the others learn
    later, _ = batch.process(batch_of(topic, 1, [disk_signal(1, None)], first=1), now_ms=0)
    assert [o.value for o in later if o.topic == batch.firing_topic] == [None]  # resolved
