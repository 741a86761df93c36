"""Fuzzing the decision tier's per-batch core (streams/decision_tier.py
``DecisionBatch.process``) without Kafka, on the shipped rulebook: hostile and
mutated-valid signals give actions and state updates that read back, or dead letters
with a reason of bad input; never an exception. The executors' results for the actions
sent, and a restore from the state updates, must hold up too."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from aiokafka import TopicPartition
from hypothesis import event, given
from hypothesis import strategies as st

from processors.records import Action, ActionResult
from streams.codec import decode
from streams.decision_tier import DecisionBatch
from streams.metrics import Metrics
from tests.hypothesis_profiles import ci_examples
from tests.processors.rulebook_factory import shipped_rulebook

from .properties import assert_dead_letter_round_trips, default_settings
from .strategies import NOW_MS, SIGNAL, record_bytes, to_json

SETTINGS = default_settings()
RULEBOOK = shipped_rulebook()
TOPIC = SETTINGS.topic(SETTINGS.topic_signals)

SIGNALS = st.lists(
    st.tuples(st.integers(0, 1), st.one_of(record_bytes("signal"), SIGNAL.map(to_json))),
    min_size=1,
    max_size=10,
)


def fetched(values: list[tuple[int, bytes]], offsets: dict[int, int]) -> dict[Any, list[Any]]:
    batches: dict[TopicPartition, list[SimpleNamespace]] = {}
    for partition, value in values:
        offset = offsets[partition] = offsets.get(partition, -1) + 1
        batches.setdefault(TopicPartition(TOPIC, partition), []).append(
            SimpleNamespace(topic=TOPIC, partition=partition, offset=offset, key=b"k", value=value)
        )
    return batches


@ci_examples(120)
@given(
    first=SIGNALS,
    second=SIGNALS,
    later_ms=st.sampled_from([0, 60_000, 3_600_000]),
    statuses=st.lists(st.sampled_from(["succeeded", "failed", "skipped"]), min_size=1),
)
def test_signals_give_actions_and_states_that_read_back_or_dead_letters(
    first: list[tuple[int, bytes]],
    second: list[tuple[int, bytes]],
    later_ms: int,
    statuses: list[str],
) -> None:
    metrics = Metrics()
    batch = DecisionBatch(SETTINGS, RULEBOOK, metrics)
    offsets: dict[int, int] = {}
    batches = [fetched(first, offsets), fetched(second, offsets)]
    out, updates = batch.process(batches[0], NOW_MS)
    more, more_updates = batch.process(batches[1], NOW_MS + later_ms)
    out, updates = out + more, updates + more_updates

    originals = {
        (r.partition, r.offset): r.value
        for fetch in batches
        for records in fetch.values()
        for r in records
    }
    assert metrics.value("opsrules_signals_decided_total") == len(originals)
    actions = []
    for outgoing in out:
        if outgoing.topic == batch.deadletter_topic:
            letter = orjson.loads(outgoing.value)
            raw = originals[(letter["partition"], letter["offset"])]
            assert_dead_letter_round_trips(outgoing.value, raw)
            event(f"dead letter: {letter['reason']}")
        elif outgoing.topic in batch.action_topics.values():
            action = decode(outgoing.value, Action)
            assert isinstance(action, Action), outgoing.value
            actions.append(action)
            event(f"action: {action.type} {action.status}")

    # The executors report on every action sent; what they say is applied where it waits.
    results = [
        ActionResult(ts_ms=NOW_MS + later_ms, action_id=a.id, status=s)  # type: ignore[arg-type]
        for a, s in zip(actions, statuses * len(actions), strict=False)
    ]
    escalations, result_updates = batch.process_results(results, NOW_MS + later_ms)
    for outgoing in escalations:
        if outgoing.topic in batch.action_topics.values():
            assert isinstance(decode(outgoing.value, Action), Action), outgoing.value

    # Another worker takes the partitions over from the changelog.
    states: dict[int, dict[str, Any]] = {}
    for update in updates + result_updates:
        assert update.key is not None and update.partition is not None
        state = states.setdefault(update.partition, {})
        if update.value is None:
            state.pop(update.key.decode(), None)
        else:
            state[update.key.decode()] = orjson.loads(update.value)
    successor = DecisionBatch(SETTINGS, RULEBOOK, Metrics())
    for partition, state in states.items():
        successor.restore(partition, state, {r.action_id: r for r in results}, NOW_MS + later_ms)
    assert metrics.total("opsrules_processing_errors_total") == 0, metrics.summary()
