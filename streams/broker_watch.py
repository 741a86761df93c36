"""Whether Kafka answers, watched once per worker process.

aiokafka retries by itself while a broker is unreachable and logs every attempt at
ERROR (measured: a 16-second outage wrote 4,300 lines, connection refused, metadata,
fetch and coordinator errors). The watch turns that into one line per interval:

- A symptom makes it *suspect* the broker: an ERROR aiokafka logs (the first one of an
  outage passes, the rest are muted), an output the broker did not acknowledge, a send
  that found the producer's buffer full for ``request_timeout_ms``. It then mutes
  aiokafka below CRITICAL and checks with one metadata round trip.
- If the check fails, Kafka is *down*: :attr:`BrokerWatch.up` is cleared,
  :attr:`BrokerWatch.outages` counts one, and the check is repeated every
  ``interval_s`` with one line each time, ``Kafka at 127.0.0.1:9092 does not answer;
  retrying every 5s (waited 35s)``.
- Once a check succeeds, ``up`` is set again, one line says so, and aiokafka logs again.

The batch loops pause while ``up`` is clear and afterwards go back to their last commit
(:mod:`streams.batch_loop`); the worker waits with the watch before it starts
(:mod:`streams.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.client import AIOKafkaClient

from streams.settings import OpsrulesSettings

log = logging.getLogger(__name__)

RETRY_INTERVAL_S = 5.0
_CHECK_TIMEOUT_S = 5.0


class BrokerWatch:
    """Kafka's state as this process sees it: ``up`` unless a check failed."""

    def __init__(self, settings: OpsrulesSettings, *, interval_s: float = RETRY_INTERVAL_S):
        self.settings = settings
        self.interval_s = interval_s
        self.up = asyncio.Event()
        self.up.set()
        self.outages = 0  # checks that found Kafka down, counted once per outage
        self.down_since: float | None = None  # time.monotonic() of the outage's start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checking: asyncio.Task[None] | None = None
        self._aiokafka = logging.getLogger("aiokafka")
        self._level: int | None = None  # aiokafka's own level while it is muted
        self._filter = _Symptoms(self)
        self._installed: list[logging.Logger] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen to aiokafka's errors, from any thread (faust's consumer runs in its
        own), and check on ``loop``."""
        self._loop = loop
        names = [n for n in logging.root.manager.loggerDict if n.startswith("aiokafka.")]
        self._installed = [self._aiokafka, *(logging.getLogger(n) for n in sorted(names))]
        for logger in self._installed:
            logger.addFilter(self._filter)

    def uninstall(self) -> None:
        for logger in self._installed:
            logger.removeFilter(self._filter)
        self._installed = []
        self._unmute()

    def suspect(self) -> None:
        """Check whether Kafka answers, unless a check is running (thread-safe)."""
        loop = self._loop
        if loop is None:
            self._loop = loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending
            loop.call_soon_threadsafe(self._start_check)

    async def wait_up(self, stop: asyncio.Event) -> bool:
        """Until Kafka answers (True) or ``stop`` is set (False)."""
        waits = [asyncio.ensure_future(self.up.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return not stop.is_set()

    async def until_answers(self, stop: asyncio.Event) -> bool:
        """Check now (or join the check running) and wait until Kafka answers (True) or
        ``stop`` is set (False)."""
        self._start_check()
        assert self._checking is not None
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([self._checking, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        return not stop.is_set()

    async def close(self) -> None:
        """Stop checking (at the end of the process)."""
        if self._checking is not None and not self._checking.done():
            self._checking.cancel()
            await asyncio.wait([self._checking])
        self.uninstall()

    def _waited_s(self) -> float:
        return 0.0 if self.down_since is None else time.monotonic() - self.down_since

    def _start_check(self) -> None:
        if self._checking is None or self._checking.done():
            self._mute()
            self._checking = asyncio.ensure_future(self._check())

    async def _check(self) -> None:
        started = checked = time.monotonic()
        try:
            while (error := await self._round_trip()) is not None:
                if self.up.is_set():
                    self.up.clear()
                    self.outages += 1
                    self.down_since = started
                    log.debug("Kafka check failed: %s", error)
                log.warning(
                    "Kafka at %s does not answer; retrying every %gs (waited %ds)",
                    self.settings.bootstrap_servers,
                    self.interval_s,
                    self._waited_s(),
                )
                # Every interval_s from the start of one check to the next: a check
                # of a broker that hangs takes its whole timeout.
                await asyncio.sleep(max(0.0, checked + self.interval_s - time.monotonic()))
                checked = time.monotonic()
            if not self.up.is_set():
                log.warning(
                    "Kafka at %s answers again after %ds",
                    self.settings.bootstrap_servers,
                    self._waited_s(),
                )
                self.down_since = None
                self.up.set()
        finally:
            self._unmute()

    async def _round_trip(self) -> str | None:
        """One metadata request; None if it was answered, else what went wrong."""
        client = AIOKafkaClient(
            **self.settings.aiokafka_kwargs(),
            client_id=f"{self.settings.app_id}-watch",
            request_timeout_ms=int(_CHECK_TIMEOUT_S * 1000),
        )
        try:
            await asyncio.wait_for(client.bootstrap(), _CHECK_TIMEOUT_S)
            return None
        except Exception as exc:  # whatever it is, Kafka did not answer
            return f"{type(exc).__name__}: {exc}"
        finally:
            await client.close()

    def _mute(self) -> None:
        if self._level is None:
            self._level = self._aiokafka.level
            self._aiokafka.setLevel(logging.CRITICAL)

    def _unmute(self) -> None:
        if self._level is not None:
            self._aiokafka.setLevel(self._level)
            self._level = None


class _Symptoms(logging.Filter):
    """An aiokafka ERROR makes the watch suspect the broker; the record itself passes
    (the watch mutes the ones after it while it checks)."""

    def __init__(self, watch: BrokerWatch) -> None:
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            self.watch.suspect()
        return True
