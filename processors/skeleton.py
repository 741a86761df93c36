"""The walking skeleton's two trivial cores, to be replaced by the real processors.

Firehose: every metric sample becomes a ``sample`` signal. Decision: a signal whose
value reaches a fixed threshold becomes a firing alert. Both are pure: same input,
same output, with time passed in, so ids are deterministic across replays.
"""

from __future__ import annotations

import hashlib

from streams.schemas import Action, MetricSample, Signal, format_ts

SKELETON_RULE_ID = "skeleton_value_high"
SKELETON_THRESHOLD = 0.9


def stable_id(*parts: object) -> str:
    """A 32-hex-digit id that depends only on ``parts``."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sample_to_signal(sample: MetricSample) -> Signal:
    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
    series = f"{sample.host}|{sample.name}|{labels}"
    return Signal(
        id=stable_id("sample", series, sample.ts_ms),
        kind="sample",
        key=sample.host,
        name=sample.name,
        value=sample.value,
        ts_ms=sample.ts_ms,
        host=sample.host,
        service=sample.service,
        labels=sample.labels,
    )


RULE_VERSION = stable_id(SKELETON_RULE_ID, SKELETON_THRESHOLD)[:12]


def decide(signal: Signal, now_ms: int) -> Action | None:
    """A firing alert for a signal at or above the threshold, else nothing."""
    if signal.value < SKELETON_THRESHOLD:
        return None
    group = {"host": signal.key, "name": signal.name}
    return Action(
        id=stable_id(SKELETON_RULE_ID, signal.id, "alert", 0),
        type="alert",
        status="firing",
        rule_id=SKELETON_RULE_ID,
        rule_version=RULE_VERSION,
        severity="warning",
        group=group,
        summary=f"{signal.name} is {signal.value:g} on {signal.key} "
        f"(threshold {SKELETON_THRESHOLD:g})",
        evidence=[
            {
                "signal_id": signal.id,
                "name": signal.name,
                "value": signal.value,
                "ts": format_ts(signal.ts_ms),
            }
        ],
        ts=format_ts(now_ms),
    )
