"""kill -9 the worker mid-scenario, restart it: the actions (by id) are exactly those of
an uninterrupted run — nothing missing, nothing extra; duplicates by id are counted.

The shipped rules without the operations policies whose state lives in the worker's
memory and starts afresh after a restart (rules/slos.yaml, autoscalers.yaml,
canaries.yaml; rules/README.md): their signals and actions after a crash are not those
of an uninterrupted run."""

from __future__ import annotations

import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from processors.rules.compiler import compile_rulebook
from processors.rules.loader import load_rules
from streams.offline import OfflineRun, run_offline
from streams.scenarios import DURATION_MS, generate
from streams.topics import ensure_topics
from streams.worker_process import start_worker
from tests.conftest import REPO, isolated_settings
from tests.integration.pipeline import (
    M,
    Outputs,
    aligned_start_ms,
    encode,
    send,
    surely_closed,
    wait_for_signals,
    worker_until_done,
)
from tests.kafka_io import run

pytestmark = pytest.mark.integration


# policies whose state a restart loses (docs/architecture.md, "Operations policies")
IN_MEMORY = ("slos.yaml", "autoscalers.yaml", "canaries.yaml")


def crash_settings(kafka_bootstrap: str, tmp_path: Path, **overrides: Any) -> Any:
    """Isolated settings whose rules are the shipped ones but :data:`IN_MEMORY`."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules, ignore=shutil.ignore_patterns("tests", *IN_MEMORY))
    return isolated_settings(kafka_bootstrap, rules_dir=rules, **overrides)


def offline_at(scenario: str, start_ms: int, rules: Path) -> OfflineRun:
    loaded = load_rules([rules])
    rulebook = compile_rulebook(loaded.rules, policies=loaded.policies)
    return run_offline(rulebook, [(e.role, e.value) for e in generate(scenario, start_ms=start_ms)])


@pytest.mark.parametrize("crash_minute", [4, 9])
def test_kill_9_and_restart_gives_the_same_actions(
    kafka_bootstrap: str, tmp_path: Path, crash_minute: int
) -> None:
    """Crash once everything up to minute 4 (the CPU alert pending, windows open) or
    minute 9 (firing, scale sent, not yet resolved) was processed."""
    settings = crash_settings(kafka_bootstrap, tmp_path)
    start_ms = aligned_start_ms(DURATION_MS)
    emits = generate("cpu-saturation", start_ms=start_ms)
    expected = offline_at("cpu-saturation", start_ms, settings.rules_dir)
    split = start_ms + crash_minute * M
    before = [(e.role, e.key, encode(e.value)) for e in emits if e.at_ms < split]
    after = [(e.role, e.key, encode(e.value)) for e in emits if e.at_ms >= split]
    run(ensure_topics(settings))
    run(send(settings, before))

    first = start_worker(settings, log=tmp_path / "first.log")
    try:
        # Until the first part is processed as far as the watermark allows.
        before_signals = [s for s in expected.signals if s.ts_ms <= split - M]
        run(wait_for_signals(settings, surely_closed(before_signals, split)))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    run(send(settings, after))
    out = worker_until_done(settings, expected.signals, emits[-1].at_ms, tmp_path / "second.log")
    assert out.deadletters == []
    duplicates = _same_ids(out, expected)
    print(f"crash at minute {crash_minute}: {duplicates} duplicates by id")


def _same_ids(out: Outputs, expected: OfflineRun) -> int:
    """Assert the action ids equal the uninterrupted run's; return how many duplicates."""
    ids = Counter(a.json()["id"] for a in out.actions)
    assert set(ids) == {a.id for a in expected.actions}  # none missing, none extra
    return sum(n - 1 for n in ids.values())


@pytest.mark.parametrize("delay_s", [0.5, 1.5, 3.0])
def test_kill_9_at_an_arbitrary_moment(
    kafka_bootstrap: str, tmp_path: Path, delay_s: float
) -> None:
    """All records queued; the worker is killed wherever it is after ``delay_s``."""
    settings = crash_settings(kafka_bootstrap, tmp_path)
    start_ms = aligned_start_ms(DURATION_MS)
    emits = generate("service-down", start_ms=start_ms)
    expected = offline_at("service-down", start_ms, settings.rules_dir)
    run(ensure_topics(settings))
    run(send(settings, [(e.role, e.key, encode(e.value)) for e in emits]))

    first = start_worker(settings, log=tmp_path / "first.log")
    time.sleep(delay_s + 2.5)  # ~2.5 s to start and join; then delay_s of processing
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    out = worker_until_done(settings, expected.signals, emits[-1].at_ms, tmp_path / "second.log")
    duplicates = _same_ids(out, expected)
    print(f"kill after {delay_s}s: {duplicates} duplicates by id")
