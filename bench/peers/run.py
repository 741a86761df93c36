"""Run a peer of the firehose benchmark as a subprocess and return its figures.

:func:`run_peer` launches one of

- ``"quix"``: ``bench/peers/quix_app.py`` with the quix venv's python (created on first
  use by :func:`bench.peers.quix_env.ensure_quix_venv`; run with ``-I`` so nothing of
  opsrules is importable), a tumbling 10 s window mean per series with final emission;
- ``"faust"``: ``python -m bench.peers.faust_floor`` in this interpreter, a faust
  agent that only decodes each record;

on an already pre-loaded topic, with a fresh consumer group / app id, waits for it
(``timeout_s``), parses the one JSON line it prints and deletes the topics the peer
created (Quix's output and changelog topics, faust's assignor topic: every topic whose
name holds the run's unique tag). It is blocking: from async code call it through
``asyncio.to_thread``.

Run as a module it pre-loads a topic itself with the firehose bench's helpers
(:func:`bench.workload.sample_records` and :func:`bench.kafka_harness.preload`, same
records, keys and partitions as ``python -m bench.firehose --mode kafka``), runs the
peers one after the other on it and deletes every topic afterwards:

    .venv/bin/python -m bench.peers.run --bootstrap 127.0.0.1:19092 --records 200000 \\
        --series 10000 --partitions 4 [--record-bytes 200] [--peers quix,faust] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import orjson
from aiokafka.admin import AIOKafkaAdminClient

from bench import kafka_harness, tables, workload
from bench.arguments import positive
from bench.peers.quix_env import ensure_quix_venv, venv_python
from streams.topics import ensure_topics

Kind = Literal["quix", "faust"]
Progress = Callable[[str], None]
T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
QUIX_APP = Path(__file__).resolve().parent / "quix_app.py"
KINDS: tuple[Kind, ...] = ("quix", "faust")
STDERR_TAIL = 40
# Labels added, in this order, by --record-bytes to bring a sample near the wanted size.
EXTRA_LABELS = (
    ("region", "eu-west-1"),
    ("env", "production"),
    ("cluster", "k8s-prod-3"),
    ("team", "platform"),
    ("rack", "r12"),
    ("os", "linux"),
)


class PeerError(RuntimeError):
    """A peer failed, timed out or printed no result line."""


def _stderr_progress(message: str) -> None:
    print(f"[bench.peers] {message}", file=sys.stderr, flush=True)


def _run_coro(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-peers-admin")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def _delete_topics_with(bootstrap: str, tag: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if tag in t)
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


def _command(
    kind: Kind,
    bootstrap: str,
    topic: str,
    records: int,
    tag: str,
    workdir: Path,
    partitions: int,
    progress: Progress,
) -> tuple[list[str], dict[str, str]]:
    """The peer's command line and the ids it uses."""
    if kind == "quix":
        venv = ensure_quix_venv(progress)
        ids = {"group": f"opsrules-bench-quix-{tag}", "output_topic": f"{topic}.quix-{tag}.out"}
        argv = [
            str(venv_python(venv)), "-I", str(QUIX_APP),
            "--bootstrap", bootstrap, "--topic", topic, "--records", str(records),
            "--group", ids["group"], "--output-topic", ids["output_topic"],
            "--output-partitions", str(partitions), "--state-dir", str(workdir / "state"),
        ]  # fmt: skip
        return argv, ids
    if kind == "faust":
        ids = {"app_id": f"opsrules-bench-faust-{tag}"}
        argv = [
            sys.executable, "-m", "bench.peers.faust_floor",
            "--bootstrap", bootstrap, "--topic", topic, "--records", str(records),
            "--app-id", ids["app_id"], "--data-dir", str(workdir / "data"),
            "--partitions", str(partitions),
        ]  # fmt: skip
        return argv, ids
    raise ValueError(f"unknown peer kind {kind!r}: one of {', '.join(KINDS)}")


def _pump(stream: Any, sink: Callable[[str], None]) -> threading.Thread:
    def read() -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (the peers' clean stop), then SIGKILL: only the process we started."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _result_line(lines: Sequence[str]) -> dict[str, Any] | None:
    """The last ``{"records": ...}`` line: terminal escapes before it (faust's worker
    writes cursor show/hide codes to stdout) are skipped."""
    for line in reversed(lines):
        start = line.find('{"records"')
        if start >= 0:
            with contextlib.suppress(ValueError):
                value = json.loads(line[start:])
                if isinstance(value, dict):
                    return value
    return None


def run_peer(
    kind: Kind,
    bootstrap: str,
    topic: str,
    records: int,
    timeout_s: float,
    progress: Progress | None = None,
    *,
    partitions: int = 4,
    keep_topics: bool = False,
) -> dict[str, Any]:
    """Run peer ``kind`` on the pre-loaded ``topic`` until it consumed ``records``
    records; its JSON line (``records``, ``first_record_s``, ``last_record_s``, ``rps``,
    ``cpu_s``, ``cpu_s_per_million``, ``peak_rss_bytes``, ``windows_out``, ``settings``)
    plus ``kind``, ``wall_s`` (last - first record), ``process_s`` (launch to exit),
    ``ids`` and ``topics_deleted``.

    Raises :class:`PeerError` when the peer exits with an error, prints no result line
    or is still running after ``timeout_s`` (it is then stopped); the error holds the
    command and the tail of its stderr. ``partitions`` sizes the peer's own topics.
    """
    say = progress or _stderr_progress
    if records < 1:
        raise ValueError("records must be >= 1")
    tag = uuid.uuid4().hex[:10]
    workdir = Path(tempfile.mkdtemp(prefix=f"opsrules-bench-{kind}-{tag}-"))
    deleted: list[str] = []
    try:
        argv, ids = _command(kind, bootstrap, topic, records, tag, workdir, partitions, say)
        say(f"{kind}: consuming {records:,} records from {topic} ({', '.join(ids.values())})")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out: list[str] = []
        err: deque[str] = deque(maxlen=STDERR_TAIL)
        pumps = [_pump(proc.stdout, out.append), _pump(proc.stderr, err.append)]
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _stop(proc)
            for pump in pumps:
                pump.join(timeout=5)
        process_s = time.perf_counter() - started
        tail = "\n".join(err)
        command = " ".join(argv)
        if timed_out:
            raise PeerError(f"{kind} peer timed out after {timeout_s:.0f}s: {command}\n{tail}")
        result = _result_line(out)
        if proc.returncode != 0 or result is None:
            raise PeerError(
                f"{kind} peer failed (exit {proc.returncode}, "
                f"{'no' if result is None else 'a'} result line): {command}\n{tail}"
            )
        if result["records"] != records:
            raise PeerError(f"{kind} peer consumed {result['records']} of {records} records")
    finally:
        if not keep_topics:
            try:
                deleted = _run_coro(_delete_topics_with(bootstrap, tag))
            except Exception as exc:
                say(f"{kind}: could not delete the topics tagged {tag}: {exc!r}")
        shutil.rmtree(workdir, ignore_errors=True)
    result["kind"] = kind
    result["wall_s"] = result["last_record_s"] - result["first_record_s"]
    result["process_s"] = process_s
    result["ids"] = ids
    result["topics_deleted"] = deleted
    say(
        f"{kind}: {result['rps']:,.0f} records/s, {result['cpu_s_per_million']:.2f} cpu s/M, "
        f"peak rss {result['peak_rss_bytes'] / 2**20:.0f} MiB, {result['windows_out']:,} windows"
    )
    return result


# --------------------------------------------------------------------------- topic


def pad_records(encoded: Sequence[workload.Encoded], record_bytes: int) -> list[workload.Encoded]:
    """The same samples made about ``record_bytes`` long: labels from
    :data:`EXTRA_LABELS` are added in order while the JSON fits, then a ``"pad"`` label
    fills what is left (records already that long are left alone). The values are
    copied into exactly-sized bytes: an ``orjson.dumps`` result keeps an allocation of
    about 4 KiB, which would make 1M records cost gigabytes here."""
    out = []
    for item in encoded:
        value = item.value
        if len(value) < record_bytes:
            sample = orjson.loads(value)
            labels = sample["labels"]
            for name, label in EXTRA_LABELS:
                labels[name] = label
                longer = orjson.dumps(sample)
                if len(longer) > record_bytes:
                    del labels[name]
                    break
                value = longer
            room = record_bytes - len(value) - len(',"pad":""')
            if room > 0:
                labels["pad"] = "x" * room
                value = orjson.dumps(sample)
            value = bytes(memoryview(value))
        out.append(workload.Encoded(item.key, value, item.series))
    return out


@contextlib.contextmanager
def preloaded_topic(
    bootstrap: str,
    records: int,
    series: int,
    partitions: int,
    *,
    record_bytes: int | None = None,
    keep_topics: bool = False,
    progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """A fresh metrics topic (under a unique prefix, with the rest of opsrules' topics,
    as in ``bench.firehose --mode kafka``) holding ``records`` samples from ``series``
    series; yields ``{"topic", "records", "series", "partitions", "record_bytes_avg",
    "preload_s"}``; deletes the topics afterwards."""
    say = progress or _stderr_progress
    settings = kafka_harness.kafka_settings(bootstrap, partitions)
    topic = settings.topic(settings.topic_metrics)
    # Event times end a minute before now, as in bench.firehose's kafka mode.
    start_ms = (int(time.time() * 1000) // 60_000 - 1) * 60_000 - workload.span_ms(records, series)
    say(f"encoding {records:,} records over {series:,} series for {topic}")
    encoded = workload.sample_records(records, series, start_ms)
    if record_bytes:
        encoded = pad_records(encoded, record_bytes)
    size = round(sum(len(e.value) for e in encoded) / max(len(encoded), 1), 1)

    async def setup(items: list[workload.Encoded]) -> float:
        await ensure_topics(settings)
        await kafka_harness.wait_for_leaders(settings)
        return await kafka_harness.preload(settings, topic, items)

    try:
        preload_s = _run_coro(setup(encoded))
        say(f"preloaded {records:,} records ({size} B avg) in {preload_s:.1f}s")
        encoded.clear()
        yield {
            "topic": topic,
            "records": records,
            "series": series,
            "partitions": partitions,
            "record_bytes_avg": size,
            "preload_s": round(preload_s, 3),
        }
    finally:
        if not keep_topics:
            _run_coro(kafka_harness.delete_topics(settings))


# --------------------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.peers.run", description=__doc__.split("\n")[0]
    )
    p.add_argument("--bootstrap", default=os.environ.get("OPSRULES_BOOTSTRAP_SERVERS"))
    p.add_argument("--records", type=positive, default=200_000)
    p.add_argument("--series", type=positive, default=10_000)
    p.add_argument("--partitions", type=positive, default=4)
    p.add_argument(
        "--record-bytes",
        type=positive,
        default=None,
        help="add labels to each sample until it is about this long (default: as "
        "bench.firehose makes them, about 142 B)",
    )
    p.add_argument("--peers", default="quix,faust", help="comma-separated: quix, faust")
    p.add_argument("--timeout-s", type=float, default=600.0)
    p.add_argument("--keep-topics", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.bootstrap:
        parser().error("--bootstrap (or OPSRULES_BOOTSTRAP_SERVERS) is required")
    kinds: list[Kind] = []
    for name in filter(None, (k.strip() for k in args.peers.split(","))):
        if name not in KINDS:
            parser().error(f"unknown peer {name!r}: one of {', '.join(KINDS)}")
        kinds.append(cast(Kind, name))
    results: dict[str, Any] = {}
    with preloaded_topic(
        args.bootstrap,
        args.records,
        args.series,
        args.partitions,
        record_bytes=args.record_bytes,
        keep_topics=args.keep_topics,
    ) as loaded:
        for kind in kinds:
            results[kind] = run_peer(
                kind,
                args.bootstrap,
                loaded["topic"],
                args.records,
                args.timeout_s,
                partitions=args.partitions,
                keep_topics=args.keep_topics,
            )
    report = {"environment": tables.environment(), "input": loaded, "peers": results}
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{loaded['records']:,} records, {loaded['series']:,} series, "
        f"{loaded['partitions']} partitions, {loaded['record_bytes_avg']} B/record"
    )
    for name, r in results.items():
        print(
            f"{name:6} {r['rps']:>12,.0f} records/s  {r['cpu_s_per_million']:8.2f} cpu s/M  "
            f"peak rss {r['peak_rss_bytes'] / 2**20:6.0f} MiB  windows_out {r['windows_out']:,}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
