"""``BatchLoopService.send_all`` when the producer cannot take a record: aiokafka's
``send`` raises ``KafkaTimeoutError`` after ``request_timeout_ms`` without having
enqueued it, so the loop sends that record again once Kafka answers: once, in order.
(The integration test in tests/integration/test_broker_faults.py runs it on a broker
that stops; whether the producer's buffer fills there depends on timing.)"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from streams.batch_loop import BatchLoopService, Outgoing
from streams.metrics import Metrics
from streams.settings import load_settings


class Sender(BatchLoopService):
    """A batch loop that only sends what a test hands it."""

    component = "sender"

    async def handle(self, batches: dict[Any, list[Any]]) -> None:
        return None

    async def rewind(self) -> None:
        return None


class _Producer:
    """Takes every record but those in ``refuse``, each refused once (a full buffer)."""

    def __init__(self, refuse: set[bytes]) -> None:
        self.refuse = set(refuse)
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        if value in self.refuse:
            self.refuse.discard(value)
            raise KafkaTimeoutError()
        self.sent.append(value)
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


class _Answers:
    """A broker watch that finds Kafka answering."""

    checks = 0

    def suspect(self) -> None:
        self.checks += 1

    async def wait_up(self, stop: asyncio.Event) -> bool:
        return True


def test_a_record_the_producer_did_not_take_is_sent_again_once_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(state_dir=tmp_path, app_id="sends")

    async def run() -> tuple[_Producer, _Answers, int]:
        sender = Sender(settings, Metrics(), ["t"])
        producer, watch = _Producer({b"2", b"3"}), _Answers()
        sender._producer = producer  # type: ignore[assignment]
        sender.broker = watch  # type: ignore[assignment]
        acks = await sender.send_all([Outgoing("t", None, b"%d" % i, None, 0) for i in range(6)])
        await asyncio.gather(*acks)
        return producer, watch, len(acks)

    with caplog.at_level(logging.WARNING, logger="streams.batch_loop"):
        producer, watch, acks = asyncio.run(run())
    assert producer.sent == [b"0", b"1", b"2", b"3", b"4", b"5"]  # once each, in order
    assert acks == 6 and watch.checks == 2
    assert caplog.text.count("sending it again once Kafka answers") == 2
