"""The rules of types beyond thresholds, in one input partition: records in, signals out.

One instance per :class:`~processors.firehose.routing.Router` (one per input partition). For
each record of the partition's source:

- every rule of type ``frequency``, ``flatline``, ``change``, ``new_term``,
  ``cardinality``, ``spike`` or ``unfinished`` whose ``match`` holds feeds its core
  (``counting``, ``change``, ``new_terms``, ``cardinality``, ``spike``, ``unfinished``
  in this package)
  under the record's
  ``group_by`` key; a core's match becomes a ``kind="match"`` signal with the rule's id,
  which the decision tier decides like a rule on single records (one firing per
  ``keep_firing_for``, default 5m; no resolved notification);
- every step of a ``sequence`` rule on this source whose ``match`` holds becomes a
  ``kind="step"`` signal keyed by the join key (see :mod:`processors.firehose.sequence`);
- every SLO whose ``total`` holds counts it, and sends each closed minute's count as a
  ``kind="part"`` signal; in a partition of the signals topic the parts are added up
  into each SLO's ``kind="slo"`` signals (:mod:`processors.firehose.slos`); the same for
  autoscalers' replica windows, put together into scale decisions
  (:mod:`processors.firehose.autoscalers`), and canary analyses' deploys and samples
  (:mod:`processors.firehose.canaries`).

In a partition of the signals topic (source ``signal``) it also runs the sequence
joins: a step signal feeds its rule's :class:`~processors.firehose.sequence.SequenceJoin` and
nothing else. And it keeps rules on signals from feeding on themselves: a signal made
by a rule on signals (``source == "signal"``) is seen by no rule.

State is keyed like the input (rules should ``group_by`` the field the topic is keyed
by, as for windows; the sequence joins are keyed by the join key, which is the signal's
Kafka key). :meth:`TypedRules.close` takes the partition's event clock (moved on by
processing time when idle) and reports the matches that wait for time (flatline,
spike, cardinality ``below``) and forgets expired state. Offsets of records whose state
is still held are kept uncommitted (:mod:`processors.firehose.held_offsets`); ``change`` and
``new_term`` hold state for unbounded time and are not recovered after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from processors.firehose.autoscalers import ReplicaWindows, ScaleDecisions
from processors.firehose.canaries import CanaryAnalyses, CanarySamples
from processors.firehose.cardinality import Cardinality
from processors.firehose.change import Change
from processors.firehose.counting import Flatline, Frequency
from processors.firehose.held_offsets import HeldOffsets
from processors.firehose.new_terms import NewTerms
from processors.firehose.sequence import SequenceJoin, SequenceMatch
from processors.firehose.slos import SloCounts, SloMerge
from processors.firehose.spike import Spike
from processors.firehose.unfinished import Unfinished
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import CompiledRule, CompiledRulebook, SequenceStepPlan, group_text
from processors.series_keys import group_values, series_key
from processors.timestamps import format_ts

Record = Mapping[str, Any]
Core = Frequency | Flatline | Change | NewTerms | Cardinality | Spike | Unfinished


def make_core(rule: CompiledRule) -> Core:
    """The core of a rule of a type beyond thresholds (not ``sequence``)."""
    r = rule.rule
    if r.frequency is not None:
        c = r.frequency
        return Frequency(c.at_least, c.timeframe_ms, c.grace_ms)
    if r.flatline is not None:
        f = r.flatline
        verify_ms = [a.verify.after_ms for a in r.actions if a.verify is not None]
        return Flatline(f.fewer_than, f.timeframe_ms, f.grace_ms, max(verify_ms, default=0))
    if r.change is not None:
        return Change(timeframe_ms=r.change.timeframe_ms, max_keys=r.change.max_keys)
    if r.new_term is not None:
        n = r.new_term
        return NewTerms(learning_ms=n.learning_ms, max_terms=n.max_terms, max_keys=n.max_keys)
    if r.cardinality is not None:
        k = r.cardinality
        return Cardinality(k.timeframe_ms, above=k.above, below=k.below, grace_ms=k.grace_ms)
    if r.spike is not None:
        s = r.spike
        return Spike(
            s.timeframe_ms,
            s.ratio,
            s.direction,
            min_previous=s.min_previous,
            min_current=s.min_current,
            grace_ms=s.grace_ms,
        )
    if r.unfinished is not None:
        u = r.unfinished
        return Unfinished(u.within_ms, u.grace_ms, u.max_keys)
    raise ValueError(f"rule {r.id!r} of type {r.type!r} has no core")


def horizon_ms(core: Core) -> int:
    """How long after a record's time its core may still need it (0: unbounded, not
    recovered by replay)."""
    if isinstance(core, Flatline):  # a silence remembered is rebuilt by a replay too
        return core.timeframe_ms + core.grace_ms + core.remember_ms
    if isinstance(core, Frequency | Cardinality):
        return core.timeframe_ms + core.grace_ms
    if isinstance(core, Spike):
        return 2 * core.timeframe_ms + core.grace_ms
    if isinstance(core, Unfinished):
        return core.within_ms + core.grace_ms
    return 0


class TypedRules:
    def __init__(
        self, rulebook: CompiledRulebook, source: str, *, idle_timeout_ms: int, origin: str = ""
    ) -> None:
        plan = rulebook.plan(source)
        self.source = source
        self.idle_timeout_ms = idle_timeout_ms
        self.cores = [(rule, make_core(rule)) for rule in plan.typed]
        self.steps: tuple[SequenceStepPlan, ...] = plan.steps
        self.joins: dict[str, tuple[CompiledRule, SequenceJoin]] = {}
        for rule in plan.sequences:
            config = rule.rule.sequence
            assert config is not None
            join = SequenceJoin(
                len(config.steps),
                timeframe_ms=config.timeframe_ms,
                grace_ms=config.grace_ms,
                ordered=config.ordered,
                max_keys=config.max_keys,
            )
            self.joins[rule.id] = (rule, join)
        self.slos = SloCounts(plan.slos, source, origin)
        self.slo_merge = SloMerge(plan.slo_merges)
        self.replicas = ReplicaWindows(plan.autoscalers, source, origin)
        self.scaling = ScaleDecisions(plan.autoscale_merges)
        self.canary_samples = CanarySamples(plan.canary_deploys, plan.canary_checks, source, origin)
        self.canaries = CanaryAnalyses(plan.canary_merges)
        horizons = [horizon_ms(core) for _, core in self.cores]
        horizons += [j.timeframe_ms + j.grace_ms for _, j in self.joins.values()]
        horizons += [self.slos.horizon_ms] if self.slos else []
        horizons += [self.replicas.horizon_ms] if self.replicas else []
        horizons += [self.canary_samples.horizon_ms] if self.canary_samples else []
        self.held = HeldOffsets(max(horizons)) if any(horizons) else None
        self._held_cores = {id(core) for _, core in self.cores if horizon_ms(core)}
        self.active = bool(
            self.cores
            or self.steps
            or self.joins
            or self.slos
            or self.replicas
            or self.canary_samples
            or source == "signal"
        )

    def route(
        self, record: Record, *, ts_ms: int, offset: int, ref: str, now_ms: int, out: list[Signal]
    ) -> bool:
        """Feed one record; matches and steps are appended to ``out``. True when the
        record is a sequence step, for the joins, or an SLO's part, for its accounting:
        then no other rule may see it. (A signal a rule on signals made never comes
        here: :meth:`Router.route`.)"""
        if self.source == "signal" and record.get("kind") == "step":
            self._join(record, ts_ms, offset, now_ms, out)
            return True
        if self.source == "signal" and record.get("kind") == "part":
            if not (self.scaling.add(record) or self.canaries.add(record)):
                self.slo_merge.add(record)
            return True
        held = False
        for rule, core in self.cores:
            if not rule.match(record):
                continue
            group = rule.group_of(record)
            key = series_key(list(group.values()))
            signal = self._feed(rule, core, key, group, record, ts_ms, ref)
            if signal is not None:
                out.append(signal)
            held = held or id(core) in self._held_cores
        if held and self.held is not None:
            self.held.note(offset, ts_ms)
        if self.slos and self.slos.add(record, ts_ms) and self.held is not None:
            self.held.note(offset, ts_ms)
        if self.replicas and self.replicas.add(record, ts_ms) and self.held is not None:
            self.held.note(offset, ts_ms)
        if self.canary_samples:
            kept = self.canary_samples.add(record, ts_ms, out)
            if kept and self.held is not None:
                self.held.note(offset, ts_ms)
        for step in self.steps:
            if step.match(record):
                values = [get(record) for get in step.join]
                if any(v is None for v in values):
                    continue  # nothing to join on
                out.append(self._step(step, [group_text(v) for v in values], record, ts_ms, ref))
        return False

    def _feed(
        self,
        rule: CompiledRule,
        core: Core,
        key: str,
        group: dict[str, str],
        record: Record,
        ts_ms: int,
        ref: str,
    ) -> Signal | None:
        computed: dict[str, Any]
        if isinstance(core, Frequency):
            found = core.add(key, ts_ms)
            if found is None:
                return None
            computed = {"count": found.count, "first_ts": format_ts(found.first_ts_ms)}
        elif isinstance(core, Flatline):
            recovered = core.add(key, ts_ms)
            if recovered is None:
                return None
            return Signal(  # the silence ended: a verified heal of it worked
                id=stable_id("recovery", rule.id, ref),
                kind="recovery",
                key=key,
                source=self.source,
                rules=[rule.id],
                group=group,
                ts_ms=ts_ms,
                record={"silent_since": format_ts(recovered.silent_since_ms)},
            )
        elif isinstance(core, Spike):
            core.add(key, ts_ms)
            return None
        elif isinstance(core, Unfinished):
            start, end = rule.values
            if start(record):
                core.start(key, ts_ms)
            if end(record):
                core.end(key, ts_ms)
            return None
        else:
            texts = [v for v in (_text(get(record)) for get in rule.values) if v is not None]
            if not texts:
                return None  # the field is missing: nothing to compare or count
            if isinstance(core, Change):
                changed = core.add(key, ts_ms, texts[0])
                if changed is None:
                    return None
                computed = {
                    "previous": changed.previous,
                    "previous_ts": format_ts(changed.previous_ts_ms),
                }
            elif isinstance(core, NewTerms):
                if len(texts) < len(rule.values):
                    return None  # a term is the value of every field
                new = core.add(key, ts_ms, series_key(texts) if len(texts) > 1 else texts[0])
                if new is None:
                    return None
                computed = {"term": new.term, "known_terms": new.known_terms}
            else:
                above = core.add(key, ts_ms, texts[0])
                if above is None:
                    return None
                computed = {"distinct": above.distinct}
        return Signal(
            id=stable_id(rule.rule.type, rule.id, ref),
            kind="match",
            key=key,
            source=self.source,
            rules=[rule.id],
            group=group,
            ts_ms=ts_ms,
            record={**record, **computed},
        )

    def _step(
        self, step: SequenceStepPlan, values: list[str], record: Record, ts_ms: int, ref: str
    ) -> Signal:
        return Signal(
            id=stable_id("step", step.rule_id, step.index, ref),
            kind="step",
            key=series_key(values),
            source=self.source,
            sequence=step.rule_id,
            group=dict(zip(step.group_by, values, strict=True)),
            ts_ms=ts_ms,
            values={"step": float(step.index)},
            record=dict(record),
        )

    def _join(
        self, record: Record, ts_ms: int, offset: int, now_ms: int, out: list[Signal]
    ) -> None:
        found = self.joins.get(record.get("sequence") or "")
        if found is None:
            return  # a step of a rule removed since
        rule, join = found
        key: str = record["key"]
        step = int((record.get("values") or {}).get("step") or 0)
        if self.held is not None:
            self.held.note(offset, ts_ms)
        match = join.add(key, step, ts_ms, now_ms)
        if match is not None:
            out.append(self._completed(rule, match, record))

    def _completed(self, rule: CompiledRule, match: SequenceMatch, step: Record) -> Signal:
        config = rule.rule.sequence
        assert config is not None
        steps = [
            {"step": index, "source": config.steps[index].source, "ts": format_ts(ts)}
            for index, ts in enumerate(match.times_ms)
        ]
        return Signal(
            id=stable_id("sequence", rule.id, match.key, *match.times_ms),
            kind="match",
            key=match.key,
            source="signal",
            rules=[rule.id],
            group=dict(step.get("group") or {}),
            ts_ms=match.ts_ms,
            record={
                "steps": steps,
                "first_ts": format_ts(match.first_ms),
                "span_s": (match.ts_ms - match.first_ms) / 1000,
                "completed_by": step.get("record"),
            },
        )

    def close(self, clock_ms: int | None, now_ms: int) -> list[Signal]:
        """Matches that waited for time, ordered by time; expired state is forgotten.
        ``clock_ms``: the partition's event clock at processing time ``now_ms`` (None
        before any record); the sequence joins keep clocks of their own."""
        if clock_ms is None:
            return []
        out: list[Signal] = []
        for rule, core in self.cores:
            if isinstance(core, Frequency | Change):
                core.expire(clock_ms)
            elif isinstance(core, Flatline):
                out.extend(
                    self._timed(
                        rule, m.key, m.ts_ms, {"count": m.count, "last_ts": format_ts(m.last_ts_ms)}
                    )
                    for m in core.due(clock_ms)
                )
            elif isinstance(core, Spike):
                for s in core.due(clock_ms):
                    computed: dict[str, Any] = {
                        "count": s.count,
                        "previous_count": s.previous_count,
                        "direction": s.direction,
                        "window_start": format_ts(s.start_ms),
                    }
                    out.append(self._timed(rule, s.key, s.end_ms, computed))
            elif isinstance(core, Cardinality):
                out.extend(
                    self._timed(rule, m.key, m.ts_ms, {"distinct": m.distinct})
                    for m in core.due(clock_ms)
                )
            elif isinstance(core, Unfinished):
                for u in core.due(clock_ms):
                    computed = {
                        "started": format_ts(u.started_ms),
                        "ended": format_ts(u.ended_ms) if u.ended_ms is not None else None,
                        "running_s": (u.ts_ms - u.started_ms) / 1000,
                    }
                    out.append(self._timed(rule, u.key, u.ts_ms, computed))
        if self.slos:
            out.extend(self.slos.close(clock_ms))
        if self.slo_merge:
            out.extend(self.slo_merge.close(clock_ms))
        if self.replicas:
            out.extend(self.replicas.close(clock_ms))
        if self.scaling:
            out.extend(self.scaling.close(clock_ms))
        if self.canary_samples:
            out.extend(self.canary_samples.close(clock_ms))
        if self.canaries:
            out.extend(self.canaries.close(clock_ms))
        release_ms = clock_ms
        for _, join in self.joins.values():
            join.expire(now_ms, self.idle_timeout_ms)
            join_ms = join.clock_at(now_ms, self.idle_timeout_ms)
            if join_ms is not None:
                release_ms = min(release_ms, join_ms)
        if self.held is not None:
            self.held.release(release_ms)
        out.sort(key=lambda s: (s.ts_ms, s.rules[0] if s.rules else "", s.key))
        return out

    def _timed(self, rule: CompiledRule, key: str, ts_ms: int, computed: dict[str, Any]) -> Signal:
        return Signal(
            id=stable_id(rule.rule.type, rule.id, key, ts_ms),
            kind="match",
            key=key,
            source=self.source,
            rules=[rule.id],
            group=group_values(rule.rule.group_by, key),
            ts_ms=ts_ms,
            record=computed,
        )

    def committable_offset(self) -> int | None:
        """The smallest offset whose state is still held, or None."""
        return self.held.first_offset() if self.held is not None else None


def _text(value: Any) -> str | None:
    """A field's value as text for comparing and counting; None when missing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return group_text(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(value)
