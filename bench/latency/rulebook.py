"""What the latency bench and its rulebook (``bench/rulebooks/latency/rules.yaml``) must
agree on: the rules' ids, the metric the window rule counts, its window and grace."""

from __future__ import annotations

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parents[1] / "rulebooks" / "latency"

RECORD_RULE = "bench_latency_record"
WINDOW_RULE = "bench_latency_window"
METRIC_NAME = "bench.latency"
WINDOW_MS = 1_000
GRACE_MS = 200
