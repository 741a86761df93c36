"""One input partition's cores, as the firehose and the offline runner both drive them.

A Kafka record of an input topic becomes one or more records (a batch of samples
holds several). Each is scored for anomalies (metrics, when a rule reads anomaly
scores) and routed (:class:`~processors.firehose.routing.Router`: windows, rules on single
records, rule types, sequence steps); what the partition's clock has passed is then
closed. Signals are appended to the caller's list, in the order they are made.

A metric sample marked ``"cumulative": True`` (a running total, as the producer formats
mark them) is followed by its rate sample (:mod:`processors.firehose.counter_rates`),
and a reading that completes a host utilisation joined from several
(:mod:`processors.firehose.host_joins`, Vector's CPU and memory) by that sample; each is
scored and routed the same way, at the same offset.

The shells (``streams/firehose.py`` over Kafka, ``streams/offline.py`` on a virtual
clock) decode, account and send; nothing here knows Kafka or reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from processors.firehose.anomaly_feed import AnomalyFeed, AnomalyPlan
from processors.firehose.counter_rates import CounterRates
from processors.firehose.host_joins import JOINED, HostJoins
from processors.firehose.routing import Routed, Router
from processors.records import Signal
from processors.rules.compiler import CompiledRulebook

# Cumulative counter series whose last sample a partition keeps to make rates: about
# 200 bytes each (measured in tests/processors/firehose/test_counter_rates.py), so 20 MB
# per metrics partition at most.
MAX_COUNTER_SERIES = 100_000


class PartitionPipeline:
    def __init__(
        self,
        rulebook: CompiledRulebook,
        source: str,
        *,
        ref_prefix: str,
        idle_timeout_ms: int,
        anomaly_plan: AnomalyPlan | None = None,
        max_counter_series: int = MAX_COUNTER_SERIES,
    ) -> None:
        self.source = source
        self.ref_prefix = ref_prefix  # names the partition in signal ids (topic/partition)
        self.router = Router(rulebook, source, idle_timeout_ms=idle_timeout_ms, origin=ref_prefix)
        self.anomalies: AnomalyFeed | None = None
        if source == "metric" and anomaly_plan is not None and anomaly_plan.metrics:
            self.anomalies = AnomalyFeed(anomaly_plan)
        metric = source == "metric"
        self.rates = CounterRates(max_counter_series) if metric else None
        self.joins = HostJoins(max_counter_series) if metric else None

    def feed(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        offset: int,
        now_ms: int,
        out: list[Signal],
    ) -> Routed:
        """The records decoded from the Kafka record at ``offset`` (signal ids of record
        rules and rule types end in ``<ref_prefix>/<offset>/<index>``; a cumulative
        sample's rate has the index after its own, and a joined sample the next, each
        kept whether or not the sample is made, so ids do not depend on what came
        before). PROCESSED if any record counted somewhere, else LATE if any was late for
        every window it belongs to, else REPLAYED (a restart read it again)."""
        router, anomalies, rates, joins = self.router, self.anomalies, self.rates, self.joins
        needs_ref = router.needs_ref  # else no ref is built: the common case, per record
        processed = late = False
        index = 0
        for record in records:
            # self._route(record, …), inline: the hot path, once per record
            if anomalies is not None:
                anomaly = anomalies.add(record)
                if anomaly is not None:
                    out.append(anomaly)
            routed = router.route(
                record,
                ts_ms=record["ts_ms"],
                offset=offset,
                ref=f"{self.ref_prefix}/{offset}/{index}" if needs_ref else "",
                now_ms=now_ms,
                out=out,
            )
            if routed is Routed.PROCESSED:
                processed = True
            elif routed is Routed.LATE:
                late = True
            index += 1
            if rates is None or joins is None:
                continue
            if record.get("cumulative") is True:
                rate = rates.rate(record)
                if rate is not None:
                    routed = self._route(rate, offset, index, now_ms, out)
                    processed |= routed is Routed.PROCESSED
                    late |= routed is Routed.LATE
                index += 1
            if record["name"] in JOINED:
                joined = joins.add(record)
                if joined is not None:
                    routed = self._route(joined, offset, index, now_ms, out)
                    processed |= routed is Routed.PROCESSED
                    late |= routed is Routed.LATE
                index += 1
        if processed:
            return Routed.PROCESSED
        return Routed.LATE if late else Routed.REPLAYED

    def _route(
        self, record: Mapping[str, Any], offset: int, index: int, now_ms: int, out: list[Signal]
    ) -> Routed:
        if self.anomalies is not None:
            anomaly = self.anomalies.add(record)
            if anomaly is not None:
                out.append(anomaly)
        router = self.router
        return router.route(
            record,
            ts_ms=record["ts_ms"],
            offset=offset,
            ref=f"{self.ref_prefix}/{offset}/{index}" if router.needs_ref else "",
            now_ms=now_ms,
            out=out,
        )

    def close(self, now_ms: int) -> Iterator[Signal]:
        """What the partition's clock at processing time ``now_ms`` has passed: windows
        (emit-final, one signal at a time) and the rule types' timed matches."""
        yield from self.router.close_iter(now_ms)
        yield from self.router.close_types(now_ms)
