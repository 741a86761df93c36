"""What came back, matched to what was sent: the latency bench's tally of sends, of
actions (stamped when fetched) and of signals (their Kafka CreateTimes), and the two
readers that fill it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer

from bench.latency.rulebook import RECORD_RULE, WINDOW_RULE
from processors.timestamps import parse_ts_ms


@dataclass
class Tally:
    """What was sent and what came back."""

    log_sent_ns: dict[int, int] = field(default_factory=dict)  # seq -> sent
    windows: set[tuple[str, int]] = field(default_factory=set)  # (host, start) sent
    metrics_sent: int = 0
    first_send_ns: int = 0
    last_send_ns: int = 0
    last_metric_ms: dict[int, int] = field(default_factory=dict)  # partition -> last ts
    window_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    record_recv_ns: dict[int, int] = field(default_factory=dict)  # seq -> received
    window_recv_ns: dict[tuple[str, int], int] = field(default_factory=dict)
    # Kafka CreateTime (ms) of the signal and of the action of each record / window:
    # when the firehose and the decision tier sent them.
    record_signal_ms: dict[int, int] = field(default_factory=dict)
    window_signal_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    record_action_ms: dict[int, int] = field(default_factory=dict)
    window_action_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    duplicates: int = 0
    resolved: int = 0
    warmup_seen: bool = False
    other: int = 0

    def complete(self) -> bool:
        return len(self.record_recv_ns) >= len(self.log_sent_ns) and len(
            self.window_recv_ns
        ) >= len(self.windows)

    def take_signal(self, value: bytes, created_ms: int) -> None:
        signal = orjson.loads(value)
        if signal.get("kind") == "window":
            if signal.get("values", {}).get("count"):  # not the empty windows after it
                key = (signal["group"].get("host", ""), signal["window_start_ms"])
                self.window_signal_ms.setdefault(key, created_ms)
            return
        seq = ((signal.get("record") or {}).get("attributes") or {}).get("seq")
        if seq is not None:
            self.record_signal_ms.setdefault(seq, created_ms)

    def take(self, value: bytes, recv_ns: int, created_ms: int) -> None:
        action = orjson.loads(value)
        rule = action.get("rule_id")
        if action.get("status") != "firing":
            self.resolved += 1
            return
        evidence = (action.get("evidence") or [{}])[0]
        if rule == RECORD_RULE:
            record = evidence.get("record") or {}
            seq = (record.get("attributes") or {}).get("seq")
            if seq is None:
                self.warmup_seen = self.warmup_seen or str(record.get("service", "")).startswith(
                    "warmup-"
                )
                return
            if seq in self.record_recv_ns:
                self.duplicates += 1
            else:
                self.record_recv_ns[seq] = recv_ns
                self.record_action_ms[seq] = created_ms
        elif rule == WINDOW_RULE:
            key = (action["group"]["host"], parse_ts_ms(evidence["window_start"]))
            if key in self.window_recv_ns:
                self.duplicates += 1
            else:
                self.window_recv_ns[key] = recv_ns
                self.window_action_ms[key] = created_ms
        else:
            self.other += 1


async def consume_actions(consumer: AIOKafkaConsumer, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=50)
        recv_ns = time.time_ns()
        for records in batches.values():
            for record in records:
                tally.take(record.value, recv_ns, record.timestamp)


async def consume_signals(consumer: AIOKafkaConsumer, tally: Tally, stop: asyncio.Event) -> None:
    """Only for the stage split: the signals' CreateTime (the firehose's send)."""
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                tally.take_signal(record.value, record.timestamp)
