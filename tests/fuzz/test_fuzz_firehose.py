"""Fuzzing the firehose's per-batch core (streams/firehose.py ``FirehoseBatch.process``)
without Kafka, on the shipped rulebook with both matchers: a batch of hostile and
mutated-valid records of every input topic returns without raising, every record is
processed, replayed or dead-lettered with a reason of bad input (the counters add up,
per topic), and every signal it sends reads back as a signal."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from hypothesis import event, given
from hypothesis import strategies as st

from processors.records import Signal
from processors.rules.compiler import CompiledRulebook, MatcherKind
from streams.codec import decode
from streams.firehose import FirehoseBatch
from streams.ingest import SOURCES
from streams.metrics import Metrics
from tests.hypothesis_profiles import ci_examples
from tests.processors.rulebook_factory import shipped_rulebook

from .properties import assert_dead_letter_round_trips, default_settings
from .strategies import NOW_MS, VALID_INPUTS, record_bytes, to_json

SETTINGS = default_settings()
CASES = {"metrics": "metric", "logs": "log", "security": "security", "health": "health"}
CASES |= {"events": "event", "signals": "signal", "batches": "batch"}  # role -> generator
assert set(CASES) - {"batches"} == set(SOURCES)


@cache
def rulebook(matcher: MatcherKind) -> CompiledRulebook:
    return shipped_rulebook(matcher)


def topic_of(case: str) -> str:
    role = "metrics" if case == "batches" else case
    return SETTINGS.topic(getattr(SETTINGS, f"topic_{role}"))


INPUTS = st.lists(
    st.sampled_from(sorted(CASES)).flatmap(
        lambda case: st.tuples(
            st.just(case),
            st.integers(0, 1),  # partition
            st.one_of(st.none(), st.sampled_from([b"web-1", b"\xff", b""])),  # key
            # more valid records than record_bytes gives: windows and rules need them
            st.one_of(st.none(), record_bytes(CASES[case]), VALID_INPUTS[CASES[case]].map(to_json)),
        )
    ),
    min_size=1,
    max_size=12,
)

Inputs = list[tuple[str, int, bytes | None, bytes | None]]


def fetched(inputs: Inputs, offsets: dict[TopicPartition, int]) -> dict[Any, list[Any]]:
    """The records as one getmany() batch of consumer records; ``offsets`` holds each
    partition's next offset."""
    batches: dict[TopicPartition, list[SimpleNamespace]] = {}
    for case, partition, key, value in inputs:
        tp = TopicPartition(topic_of(case), partition)
        offset = offsets[tp] = offsets.get(tp, -1) + 1
        batches.setdefault(tp, []).append(
            SimpleNamespace(
                topic=tp.topic, partition=partition, offset=offset, key=key, value=value
            )
        )
    return batches


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
@ci_examples(100)
@given(first=INPUTS, second=INPUTS, later_ms=st.sampled_from([0, 61_000, 600_000, 3_600_000]))
def test_every_record_is_processed_replayed_or_dead_lettered_with_a_reason(
    matcher: MatcherKind, first: Inputs, second: Inputs, later_ms: int
) -> None:
    metrics = Metrics()
    batch = FirehoseBatch(SETTINGS, rulebook(matcher), metrics)
    offsets: dict[TopicPartition, int] = {}
    batches = [fetched(first, offsets), fetched(second, offsets)]
    # Two batches, the second one later (its records may be late), then an empty one
    # later still, which closes the windows they opened.
    out = batch.process(batches[0], NOW_MS)
    out += batch.process(batches[1], NOW_MS + later_ms)
    out += batch.process({}, NOW_MS + 2 * later_ms)

    originals = {
        (r.topic, r.partition, r.offset): r.value
        for fetch in batches
        for records in fetch.values()
        for r in records
    }
    letters = [o for o in out if o.topic == batch.deadletter_topic]
    for outgoing in letters:
        letter = orjson.loads(outgoing.value)
        raw = originals[(letter["topic"], letter["partition"], letter["offset"])]
        assert_dead_letter_round_trips(outgoing.value, raw)
        event(f"dead letter: {letter['reason']}")
    for outgoing in out:
        if outgoing.topic == batch.signals_topic:
            signal = decode(outgoing.value, Signal)
            assert isinstance(signal, Signal), outgoing.value
            event(f"signal: {signal.kind}")

    for topic in {tp.topic for tp in offsets}:
        total = metrics.value("opsrules_records_total", topic=topic)
        assert total == sum(1 for (t, _, _) in originals if t == topic)
        dead = sum(
            count
            for (name, labels), count in metrics.counters.items()
            if name == "opsrules_deadletters_total" and ("topic", topic) in labels
        )
        assert dead == sum(orjson.loads(o.value)["topic"] == topic for o in letters)
        handled = metrics.value("opsrules_records_processed_total", topic=topic)
        handled += metrics.value("opsrules_records_replayed_total", topic=topic)
        assert total == handled + dead, metrics.summary()
    assert metrics.total("opsrules_processing_errors_total") == 0, metrics.summary()
