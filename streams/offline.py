"""Run records through the production cores without Kafka, on a virtual clock.

The same decode → route → window → decide path as the worker, with one partition per
input topic and processing time equal to event time. Records of the ``signals`` role
go straight to the decision core, as they do in the decision tier. Used by rule tests
(``opsrules test``) and by the scenario tests; the only things it leaves out are Kafka
itself and partitioning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from processors.decisions.alert_record import DictStore
from processors.decisions.context import DecisionContext, Outcome, Suppressed
from processors.decisions.decide import decide, verify_due
from processors.decisions.event_clock import EventClock
from processors.firehose.anomaly_feed import AnomalyPlan
from processors.firehose.pipeline import PartitionPipeline
from processors.firehose.routing import Routed
from processors.records import Action, Decision, Signal
from processors.rules.compiler import CompiledRulebook
from streams.codec import Rejected, decode
from streams.ingest import SOURCES, Limits, decode_input, signal_fields

SIGNALS_ROLE = "signals"  # records of this role are signals for the decision core
ROLES = tuple(dict.fromkeys((*SOURCES, SIGNALS_ROLE)))

# Virtual time needs no guard against clocks far off.
LIMITS = Limits(max_record_bytes=1_048_576, max_future_skew_ms=2**62, max_age_ms=2**62)


@dataclass(slots=True)
class OfflineRun:
    actions: list[Action] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    rejected: list[tuple[str, Rejected]] = field(default_factory=list)  # (role, why)
    late: int = 0
    decisions: list[Decision] = field(default_factory=list)  # the trail: sent and held back
    # What decisions read besides an alert's own state (firing alerts for inhibition, the
    # actions sent for budgets and breakers), kept current as in the decision tier.
    context: DecisionContext = field(default_factory=DecisionContext)


def run_offline(
    rulebook: CompiledRulebook,
    records: Iterable[tuple[str, dict[str, object] | bytes]],
    *,
    idle_timeout_ms: int = 30_000,
    flush_ms: int = 10 * 60_000,
    anomaly_window_ms: int = 0,
) -> OfflineRun:
    """Feed ``(topic role, record)`` pairs in order (a role of :data:`ROLES`); then let
    ``flush_ms`` of virtual time pass so that every window closes. Returns every action
    and signal."""
    run = OfflineRun()
    plan = AnomalyPlan.of(rulebook, anomaly_window_ms)
    pipelines = {
        role: PartitionPipeline(
            rulebook, source, ref_prefix=role, idle_timeout_ms=idle_timeout_ms, anomaly_plan=plan
        )
        for role, source in SOURCES.items()
    }
    store = DictStore()
    clock = EventClock(idle_timeout_ms)  # the signals "partition": verification timers
    # The firehose reads the signals topic back for rules on ``source: signal``; here it
    # happens in place.
    read_back = pipelines["signals"] if rulebook.reads_signals else None
    read_offset = 0
    now_ms = 0
    for offset, (role, value) in enumerate(records):
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        signals: list[Signal] = []
        injected: Signal | None = None
        if role == SIGNALS_ROLE:
            read = decode(raw, Signal, LIMITS.max_record_bytes)
            if isinstance(read, Rejected):
                run.rejected.append((role, read))
                continue
            injected, now_ms = read, max(now_ms, read.ts_ms)
        else:
            decoded = decode_input(SOURCES[role], raw, LIMITS, now_ms)
            if isinstance(decoded, Rejected):
                run.rejected.append((role, decoded))
                continue
            now_ms = max(now_ms, *(item["ts_ms"] for item in decoded))
            routed = pipelines[role].feed(decoded, offset=offset, now_ms=now_ms, out=signals)
            if routed is Routed.LATE:
                run.late += 1
        for each in pipelines.values():
            signals.extend(each.close(now_ms))
        if injected is not None:
            signals.append(injected)  # after the windows that closed before it
        read_offset = _read_back(read_back, signals, read_offset, now_ms)
        _decide(signals, rulebook, store, run, clock, now_ms)
    end_ms = now_ms + flush_ms
    for step_ms in range(now_ms, end_ms + 1, idle_timeout_ms):
        flushed = [s for pipeline in pipelines.values() for s in pipeline.close(step_ms)]
        read_offset = _read_back(read_back, flushed, read_offset, step_ms)
        _decide(flushed, rulebook, store, run, clock, step_ms)
    return run


def _read_back(
    pipeline: PartitionPipeline | None, signals: list[Signal], offset: int, now_ms: int
) -> int:
    """Feed ``signals`` to the pipeline of the signals topic, as the firehose reads
    ``ops.signals`` back when a rule needs it (``source: signal``, sequence joins). What
    it makes is appended to ``signals`` and read back in turn (a sequence step; a
    signal of a rule on signals is never fed back: the router sees to that). Returns the
    next offset of the signals "partition"."""
    if pipeline is None:
        return offset
    index = 0
    while index < len(signals):
        signal = signals[index]
        index += 1
        pipeline.feed([signal_fields(signal)], offset=offset, now_ms=now_ms, out=signals)
        offset += 1
    return offset


def _decide(
    signals: list[Signal],
    rulebook: CompiledRulebook,
    store: DictStore,
    run: OfflineRun,
    clock: EventClock,
    now_ms: int,
) -> None:
    """Decide ``signals`` in order, then the verifications due by the clock, as the
    decision tier does per batch."""
    for signal in signals:
        run.signals.append(signal)
        clock.observe(signal.ts_ms, now_ms)
        _apply(decide(signal, rulebook, store, run.context), run)
    at = clock.at(now_ms)
    if at is not None and store.verifying:
        _apply(verify_due(rulebook, store, at, run.context), run)


def _apply(outcome: Outcome, run: OfflineRun) -> None:
    run.context.apply(outcome)
    run.actions.extend(outcome.actions)
    run.suppressed.extend(outcome.suppressed)
    run.decisions.extend(outcome.decisions)
