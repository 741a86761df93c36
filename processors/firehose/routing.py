"""The firehose core of one input partition: records in, signals out.

For each record of a source: every window feed whose ``match`` holds adds the record's
value to its series' windows; every record rule whose ``match`` and ``condition`` hold
makes a ``record`` signal at once. :meth:`Router.close` emits the windows the
partition's watermark has passed as ``window`` signals. Pure: processing time is
passed in and only decides idleness (see :mod:`processors.windowing`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from processors.firehose.typed_rules import TypedRules
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.compiler import (
    CompiledRule,
    CompiledRulebook,
    WindowFeed,
    condition_context,
    group_text,
)
from processors.rules.expressions import Binary, Field, Literal, Node, fields, parse
from processors.series_keys import group_values, series_key
from processors.windowing import AddOutcome, PartitionWindows, WindowResult

Record = Mapping[str, Any]


class Routed(StrEnum):
    PROCESSED = "processed"  # added to a window, or no rule wanted it
    LATE = "late"  # every window it belonged to had already been emitted
    REPLAYED = "replayed"  # re-read after a restart; its windows were emitted before


__all__ = ["Routed", "Router", "group_of", "series_key"]


def group_of(feed: WindowFeed, key: str) -> dict[str, str]:
    return group_values(feed.group_by, key)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Which feeds and record rules a record can match, by the value of one field.

    Most rules of a source start with the same kind of test (``name == "…"`` for
    metrics): the feeds and record rules whose ``match`` requires ``field == "<text>"``
    in its top conjunction are only tried on records with that text there. Without it
    every record tried every rule's match (measured on the shipped rules: six
    predicates per metric sample, the largest part of routing it), and the cost per
    record grew with the size of the rulebook. The others are tried on every record;
    order is kept.
    """

    field: str | None
    by_value: dict[str, tuple[tuple[WindowFeed, ...], tuple[CompiledRule, ...]]]
    default: tuple[tuple[WindowFeed, ...], tuple[CompiledRule, ...]]

    @classmethod
    def of(
        cls,
        rulebook: CompiledRulebook,
        feeds: tuple[WindowFeed, ...],
        record_rules: tuple[CompiledRule, ...],
    ) -> Dispatch:
        keys = [_required_texts(rulebook.rules[f.rule_ids[0]].rule.match) for f in feeds]
        keys += [_required_texts(rule.rule.match) for rule in record_rules]
        fields = Counter(name for key in keys for name in key)
        field = max(fields, key=lambda name: (fields[name], name)) if fields else None
        wanted = [key.get(field) if field else None for key in keys]
        values = {value for value in wanted if value is not None}

        def select(value: str | None) -> tuple[tuple[WindowFeed, ...], tuple[CompiledRule, ...]]:
            fits = [w is None or w == value for w in wanted]
            return (
                tuple(f for f, ok in zip(feeds, fits[: len(feeds)], strict=True) if ok),
                tuple(r for r, ok in zip(record_rules, fits[len(feeds) :], strict=True) if ok),
            )

        return cls(field, {value: select(value) for value in values}, select(None))

    def candidates(self, record: Record) -> tuple[tuple[WindowFeed, ...], tuple[CompiledRule, ...]]:
        if self.field is None:
            return self.default
        value = record.get(self.field)
        if type(value) is not str:
            return self.default
        return self.by_value.get(value, self.default)


def _required_texts(match: str) -> dict[str, str]:
    """``{field: text}`` for each top-level field (no dots) that ``match`` requires to
    equal a string literal in its top conjunction."""
    out: dict[str, str] = {}
    stack: list[Node] = [parse(match)]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary) and node.op == "and":
            stack += [node.left, node.right]
        elif (
            isinstance(node, Binary)
            and node.op == "=="
            and isinstance(node.left, Field)
            and "." not in node.left.path
            and isinstance(node.right, Literal)
            and isinstance(node.right.value, str)
        ):
            out[node.left.path] = node.right.value
    return out


class Router:
    def __init__(
        self, rulebook: CompiledRulebook, source: str, *, idle_timeout_ms: int, origin: str = ""
    ) -> None:
        """``origin`` names the input partition (``topic/partition``) in what it sends
        to be added up with other partitions' (SLOs' counts)."""
        self.source = source
        self.plan = rulebook.plan(source)
        self.feeds = {feed.spec.spec_id: feed for feed in self.plan.feeds}
        self.windows = PartitionWindows(
            [feed.spec for feed in self.plan.feeds], idle_timeout_ms=idle_timeout_ms
        )
        self.next_offset = 0  # one past the highest offset routed
        self.feed_rules = {
            spec_id: [rulebook.rules[rule_id] for rule_id in feed.rule_ids]
            for spec_id, feed in self.feeds.items()
        }
        # Feeds whose rules' conditions read a group_by value: only those need the
        # series key split back into values for each window result (measured: 7% of
        # the firehose's time went to doing it for every result).
        self.conditions_read_group = {
            spec_id: any(
                set(feed.group_by) & fields(parse(rule.rule.condition))
                for rule in self.feed_rules[spec_id]
            )
            for spec_id, feed in self.feeds.items()
        }
        # Pre-filter (see close): when a rule was last true for a series, per (rule, key);
        # and until when each feed sends every window (a warm-up after each start).
        self.last_true_ms: dict[tuple[str, str], int] = {}
        self.warm_until_ms: dict[str, int] = {}
        self.filtered = 0  # window results not sent: no rule could change an alert
        # Rule types beyond thresholds and sequence steps (and joins, on signals).
        self.types = TypedRules(rulebook, source, idle_timeout_ms=idle_timeout_ms, origin=origin)
        self.dispatch = Dispatch.of(rulebook, self.plan.feeds, self.plan.record_rules)

    def route(
        self, record: Record, *, ts_ms: int, offset: int, ref: str, now_ms: int, out: list[Signal]
    ) -> Routed:
        """Feed one record; record-rule signals are appended to ``out``.

        ``ref`` names the record uniquely and stably (topic/partition/offset/index) and
        becomes part of its signals' ids.
        """
        if offset >= self.next_offset:
            self.next_offset = offset + 1
        own = self.source == "signal" and record.get("source") == "signal"
        if own and record.get("kind") not in ("step", "part"):
            # A rule on signals made it: never fed back to the rules (no loops).
            self.windows.observe(ts_ms, offset, now_ms)
            return Routed.PROCESSED
        if self.types.active and self.types.route(
            record, ts_ms=ts_ms, offset=offset, ref=ref, now_ms=now_ms, out=out
        ):
            self.windows.observe(ts_ms, offset, now_ms)
            return Routed.PROCESSED  # a sequence step: for the joins only
        added = late = replayed = False
        feeds, record_rules = self.dispatch.candidates(record)
        for feed in feeds:
            if not feed.match(record):
                continue
            value = feed.number(record)
            if value is None:
                continue
            key = series_key([group_text(get(record)) for _, get in feed.group_getters])
            outcome = self.windows.add(feed.spec.spec_id, key, ts_ms, value, offset, now_ms)
            if outcome is AddOutcome.ADDED:
                added = True
            elif outcome is AddOutcome.LATE:
                late = True
            else:
                replayed = True
        if not added:
            self.windows.observe(ts_ms, offset, now_ms)
        for rule in record_rules:
            if rule.match(record) and rule.condition(record):
                group = rule.group_of(record)
                out.append(
                    Signal(
                        id=stable_id("record", rule.id, ref),
                        kind="record",
                        key=series_key(list(group.values())),
                        source=self.source,
                        rules=[rule.id],
                        group=group,
                        ts_ms=ts_ms,
                        record=dict(record),
                    )
                )
        if added:
            return Routed.PROCESSED
        if late:
            return Routed.LATE
        return Routed.REPLAYED if replayed else Routed.PROCESSED

    def close(self, now_ms: int) -> list[Signal]:
        """Signals of the windows the watermark has passed (emit-final) that can change
        an alert.

        Most window results are false for every rule of their series and come long
        after its last true one: the alert is inactive and stays so, and the decision
        tier would only note the evaluation. Those are not sent. A result is sent when a
        rule's condition holds, or within ``empty_windows`` windows after one last held
        (enough to end a pending alert and to resolve after keep_firing_for), or during
        the first ``empty_windows`` windows after this router started — its memory of
        recent truths is gone after a restart, while the alert state is not.
        """
        return list(self.close_iter(now_ms))

    def close_iter(self, now_ms: int) -> Iterator[Signal]:
        """:meth:`close`, one signal at a time: a caller that encodes and sends each
        before taking the next never holds every signal of a large close at once (a
        million series closing together: 1.3 KiB per Signal object)."""
        for result in self.windows.advance(now_ms):
            if self._wanted(result):
                yield self._signal(result)
            else:
                self.filtered += 1

    def close_types(self, now_ms: int) -> list[Signal]:
        """Matches of the rule types that wait for time (flatline, spike, cardinality
        ``below``), by the partition's event clock at ``now_ms``; forgets their expired
        state. Shells call it with :meth:`close`."""
        if not self.types.active:
            return []
        return self.types.close(self.windows.clock_at(now_ms), now_ms)

    def committable_offset(self) -> int | None:
        """The offset to commit: before every record still in an open window or still
        held by a rule type's state (see :mod:`processors.firehose.held_offsets`)."""
        windows = self.windows.committable_offset()
        held = self.types.committable_offset()
        if held is None or windows is None:
            return windows
        return min(windows, held)

    @property
    def needs_ref(self) -> bool:
        """Whether signal ids use ``route``'s ``ref`` (record rules, rule types, steps)."""
        return bool(self.plan.record_rules) or self.types.active

    def _wanted(self, result: WindowResult) -> bool:
        feed = self.feeds[result.spec_id]
        span_ms = feed.spec.empty_windows * feed.spec.hop_ms
        warm_until = self.warm_until_ms.setdefault(result.spec_id, result.end_ms + span_ms)
        wanted = result.end_ms <= warm_until
        values = {**result.values, "count": float(result.count)}
        reads_group = self.conditions_read_group[result.spec_id]
        group = group_of(feed, result.series_key) if reads_group else {}
        for rule in self.feed_rules[result.spec_id]:
            context = condition_context(rule, values, group)
            key = (rule.id, result.series_key)
            if result.count and rule.condition(context):  # an empty window's is false
                self.last_true_ms[key] = result.end_ms
                wanted = True
                continue
            last = self.last_true_ms.get(key)
            if last is not None:
                if result.end_ms - last <= span_ms:
                    wanted = True
                else:
                    del self.last_true_ms[key]
        return wanted

    def _signal(self, result: WindowResult) -> Signal:
        feed = self.feeds[result.spec_id]
        values = dict(result.values)
        values["count"] = float(result.count)
        return Signal(
            id=stable_id("window", result.spec_id, result.series_key, result.start_ms),
            kind="window",
            key=result.series_key,
            source=self.source,
            rules=list(feed.rule_ids),
            group=group_of(feed, result.series_key),
            ts_ms=result.end_ms,
            window_start_ms=result.start_ms,
            values=values,
        )
