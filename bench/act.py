"""``python -m bench.act``: ``opsrules act`` delivering to a webhook on loopback.

Two phases on a real broker (a fresh one, port 19092 by default, as BENCHMARKS.md
asks), each repeated ``--repeat`` times, a new act process and topic prefix each:

- **throughput**: ``--actions`` alert actions pre-loaded on the action topic, then act
  started; deliveries per second from the first request at the webhook to the last;
- **added latency**: actions produced at ``--rate`` per second for ``--seconds`` while
  act runs; the time from each action's produce call to its request at the webhook
  (p50, p99, max): what act adds to the engine's own produce → action latency.

The webhook answers at once (an aiohttp server in this process, its own thread and
loop). act runs as it ships: ``act_concurrency`` workers per receiver, the default.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer

from bench.arguments import positive
from bench.kafka_harness import delete_run_topics, unique_settings, wait_for_leaders
from bench.tables import environment, progress, table
from streams.codec import cloudevent_headers
from streams.settings import OpsrulesSettings
from streams.topics import action_topic, ensure_topics
from streams.worker_process import start_command, stop_worker


class Webhook:
    """An aiohttp server on 127.0.0.1 in a thread of its own: the arrival time of each
    request by Idempotency-Key."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self.port = 0
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait()

    def _serve(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            self.requests += 1
            self.arrived.setdefault(request.headers["Idempotency-Key"], time.monotonic())
            return web.Response(status=204)

        async def start() -> None:
            app = web.Application()
            app.router.add_post("/hook", hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.arrived) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.arrived)} of {count} deliveries arrived")
            time.sleep(0.01)


def _action(n: int, run: str) -> tuple[str, bytes]:
    action_id = f"{run}-{n:07d}"
    value = {
        "id": action_id,
        "type": "alert",
        "status": "firing",
        "rule_id": "bench_rule",
        "rule_version": "1",
        "severity": "warning",
        "group": {"host": f"host-{n % 100}"},
        "fingerprint": f"fp-{n % 100}",
        "summary": f"bench action {n}",
        "ts": "2026-12-08T00:00:00Z",
    }
    return action_id, orjson.dumps(value)


async def _produce(
    settings: OpsrulesSettings, actions: list[tuple[str, bytes]], rate: float | None
) -> dict[str, float]:
    """Send the actions (at ``rate`` per second, or as fast as possible); the monotonic
    time of each produce call, by id."""
    topic = action_topic(settings, "alert")
    producer = AIOKafkaProducer(
        **settings.aiokafka_kwargs(), acks="all", linger_ms=1 if rate else 20
    )
    await producer.start()
    sent: dict[str, float] = {}
    try:
        start = time.monotonic()
        for n, (action_id, value) in enumerate(actions):
            if rate:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            now_ms = int(time.time() * 1000)
            headers = cloudevent_headers(
                event_id=action_id, event_type="action.alert.firing", source="bench", time_ms=now_ms
            )
            sent[action_id] = time.monotonic()
            await producer.send(topic, value, key=action_id.encode(), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def _receivers(path: Path, hook: Webhook) -> Path:
    path.write_text(
        f'receivers:\n  - name: hook\n    webhook: {{url: "http://127.0.0.1:{hook.port}/hook"}}\n'
        "route:\n  receiver: hook\n"
    )
    return path


def _settings(bootstrap: str) -> OpsrulesSettings:
    settings = unique_settings("act", bootstrap, partitions=4, commit_interval_ms=200)
    asyncio.run(ensure_topics(settings))
    asyncio.run(wait_for_leaders(settings))
    return settings


def throughput(bootstrap: str, actions: int, workdir: Path) -> float:
    hook = Webhook()
    settings = _settings(bootstrap)
    run = settings.app_id[-10:]
    asyncio.run(_produce(settings, [_action(n, run) for n in range(actions)], None))
    log = workdir / f"act-{run}.log"
    process = start_command(
        settings, "act", "--receivers", str(_receivers(workdir / f"{run}.yaml", hook)), log=log
    )
    try:
        hook.wait_for(1, 120)
        first = min(hook.arrived.values())
        hook.wait_for(actions, 600)
        last = max(hook.arrived.values())
    finally:
        stop_worker(process)
        asyncio.run(delete_run_topics(settings))
    return actions / (last - first)


def latency(bootstrap: str, rate: float, seconds: float, workdir: Path) -> list[float]:
    hook = Webhook()
    settings = _settings(bootstrap)
    run = settings.app_id[-10:]
    log = workdir / f"act-{run}.log"
    process = start_command(
        settings, "act", "--receivers", str(_receivers(workdir / f"{run}.yaml", hook)), log=log
    )
    try:
        # act is up once a first action comes through
        warm = asyncio.run(_produce(settings, [_action(-1, run)], None))
        hook.wait_for(1, 120)
        actions = [_action(n, run) for n in range(int(rate * seconds))]
        sent = asyncio.run(_produce(settings, actions, rate))
        hook.wait_for(len(actions) + len(warm), 120)
    finally:
        stop_worker(process)
        asyncio.run(delete_run_topics(settings))
    return [(hook.arrived[i] - t) * 1000 for i, t in sent.items()]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.act", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--bootstrap", default="127.0.0.1:19092", help="a fresh broker (default 127.0.0.1:19092)"
    )
    parser.add_argument(
        "--actions", type=positive, default=10_000, help="throughput phase (default 10,000)"
    )
    parser.add_argument(
        "--rate", type=positive, default=200, help="latency phase, actions/s (default 200)"
    )
    parser.add_argument(
        "--seconds", type=positive, default=15, help="latency phase length (default 15)"
    )
    parser.add_argument("--repeat", type=positive, default=3, help="runs of each phase (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    workdir = Path(unique_settings("act", args.bootstrap).state_dir or ".")
    workdir.mkdir(parents=True, exist_ok=True)
    rates, p50s, p99s, maxes = [], [], [], []
    for n in range(args.repeat):
        progress(f"throughput {n + 1}/{args.repeat}: {args.actions:,} actions")
        rates.append(throughput(args.bootstrap, args.actions, workdir))
        progress(f"latency {n + 1}/{args.repeat}: {args.rate}/s for {args.seconds}s")
        added = latency(args.bootstrap, args.rate, args.seconds, workdir)
        p50s.append(_quantile(added, 0.5))
        p99s.append(_quantile(added, 0.99))
        maxes.append(max(added))
    result: dict[str, Any] = {
        "deliveries_per_s": statistics.median(rates),
        "deliveries_per_s_runs": [round(r) for r in rates],
        "added_latency_p50_ms": statistics.median(p50s),
        "added_latency_p50_ms_runs": [round(p, 1) for p in p50s],
        "added_latency_p99_ms": statistics.median(p99s),
        "added_latency_p99_ms_runs": [round(p, 1) for p in p99s],
        "added_latency_max_ms": max(maxes),
        "actions": args.actions,
        "rate": args.rate,
        "seconds": args.seconds,
        "environment": environment(),
    }
    if args.json:
        print(orjson.dumps(result).decode())
        return 0
    print(
        table(
            ["figure", "median", "runs"],
            [
                [
                    "deliveries/s (pre-loaded)",
                    f"{result['deliveries_per_s']:,.0f}",
                    result["deliveries_per_s_runs"],
                ],
                [
                    f"added latency p50 at {args.rate}/s, ms",
                    f"{result['added_latency_p50_ms']:.1f}",
                    [round(p, 1) for p in p50s],
                ],
                [
                    f"added latency p99 at {args.rate}/s, ms",
                    f"{result['added_latency_p99_ms']:.1f}",
                    result["added_latency_p99_ms_runs"],
                ],
                [
                    "added latency max, ms",
                    f"{result['added_latency_max_ms']:.1f}",
                    [round(m, 1) for m in maxes],
                ],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
