"""What a firehose bench run measured: the firehose's counters (records in, processed,
dead-lettered, signals), records/s and CPU from wall and CPU seconds, and the median of
repeated runs."""

from __future__ import annotations

from typing import Any

from streams.metrics import Metrics


def new_counters() -> Metrics:
    """What FirehoseBatch counts into."""
    return Metrics()


def counts(metrics: Metrics, topic: str | None = None) -> dict[str, Any]:
    """Records in, processed, replayed, dead-lettered (by reason), signals out and window
    results not sent (the firehose's pre-filter). With ``topic``, the input counts are
    of that topic only (the firehose also reads the signals topic back when a rule is on
    ``source: signal``)."""
    dead: dict[str, int] = {}
    for (name, labels), value in metrics.counters.items():
        if name == "opsrules_deadletters_total":
            reason = dict(labels).get("reason", "?")
            dead[reason] = dead.get(reason, 0) + value

    def inputs(name: str) -> int:
        return metrics.total(name) if topic is None else metrics.value(name, topic=topic)

    return {
        "records_in": inputs("opsrules_records_total"),
        "processed": inputs("opsrules_records_processed_total"),
        "replayed": inputs("opsrules_records_replayed_total"),
        "dead_lettered": dead,
        "signals": metrics.total("opsrules_signals_total"),
        "windows_filtered": metrics.total("opsrules_windows_filtered_total"),
    }


def rates(records: int, samples: int, wall_s: float, cpu_s: float) -> dict[str, float]:
    return {
        "wall_s": round(wall_s, 4),
        "cpu_s": round(cpu_s, 4),
        "records_per_s": round(records / wall_s, 1) if wall_s > 0 else 0.0,
        "samples_per_s": round(samples / wall_s, 1) if wall_s > 0 else 0.0,
        "cpu_records_per_s": round(records / cpu_s, 1) if cpu_s > 0 else 0.0,
        "cpu_s_per_million_records": round(cpu_s / records * 1e6, 3) if records else 0.0,
    }


def median(runs: list[dict[str, Any]], spread: tuple[str, ...], **fields: Any) -> dict[str, Any]:
    """The run of median wall time, with ``fields`` added, then each ``spread`` figure
    of all runs (``<figure>_all``, by wall time)."""
    ordered = sorted(runs, key=lambda run: run["wall_s"])
    result = dict(ordered[(len(ordered) - 1) // 2])
    result.update(fields)
    for figure in spread:
        result[f"{figure}_all"] = [run[figure] for run in ordered]
    return result
