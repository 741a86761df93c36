"""Counters of what the worker did, in Prometheus's text format.

Names follow Prometheus conventions (``opsrules_records_total{topic=...}``). The worker
serves them at ``/metrics`` on ``OPSRULES_WEB_PORT`` (faust's web server) and logs a
one-line summary every minute and at stop. The invariant operators can check:
``records_total = records_processed_total + deadletters_total + records_replayed_total``
per input topic.
"""

from __future__ import annotations

from collections import Counter

HELP = {
    "opsrules_records_total": "Input records read, by topic.",
    "opsrules_records_processed_total": "Input records processed (windowed, matched or "
    "wanted by no rule), by topic.",
    "opsrules_records_replayed_total": "Records read again after a restart whose windows "
    "had already been emitted, by topic.",
    "opsrules_deadletters_total": "Records written to the dead-letter topic, by source "
    "topic and reason.",
    "opsrules_late_records_total": "Records later than their windows (also dead-lettered).",
    "opsrules_processing_errors_total": "Failures of our own code outside any one record "
    "(closing windows, applying an executor's result), by stage; logged with a traceback.",
    "opsrules_view_records_rejected_total": "Records of the topics every decision worker "
    "follows (silences, firing alerts, decisions, results) that could not be read, by "
    "topic; logged and skipped.",
    "opsrules_signals_total": "Signals emitted, by kind.",
    "opsrules_windows_filtered_total": "Window results not sent: false for every rule, "
    "long after the last true one (the alert stays inactive).",
    "opsrules_counter_series_evicted_total": "Cumulative counter series forgotten to keep "
    "a partition's rate state within its bound, by topic; each one's next sample gives "
    "no rate.",
    "opsrules_host_joins_evicted_total": "Hosts whose CPU and memory readings a partition "
    "stopped joining to stay within its bound (OPSRULES_COUNTER_SERIES_MAX), by topic; "
    "each one's next scrape starts afresh.",
    "opsrules_act_actions_total": "Actions opsrules act read, by type.",
    "opsrules_act_deliveries_total": "Deliveries opsrules act finished, by receiver and "
    "status (succeeded, failed).",
    "opsrules_act_attempts_total": "Attempts opsrules act made, retries included, by receiver.",
    "opsrules_act_deliveries_skipped_total": "Deliveries not made again because the "
    "deliveries topic says they were made (an action read again after a restart).",
    "opsrules_signals_decided_total": "Signals read by the decision tier (decided or "
    "dead-lettered).",
    "opsrules_rule_evaluations_total": "Rule evaluations in the decision tier, by rule.",
    "opsrules_actions_total": "Actions emitted, by type and status.",
    "opsrules_suppressed_actions_total": "Would-be actions not emitted, by reason.",
    "opsrules_rewinds_total": "Times a batch loop read again from its last commit, "
    "as after a restart, because Kafka was unreachable or did not acknowledge an output, "
    "by component and cause.",
    "opsrules_rules_reloads_total": "Changes of the rule files seen by the worker, by "
    "result (applied, or refused because the files have errors).",
}
HISTOGRAM_HELP = {
    "opsrules_act_delivery_seconds": "opsrules act: time from a delivery's start to its "
    "result, retries and pauses included, by receiver.",
}

GAUGE_HELP = {
    "opsrules_loop_started_timestamp_seconds": "When each batch loop started consuming "
    "(Unix time), by component.",
}

Labels = tuple[tuple[str, str], ...]

# Upper bounds of histogram buckets, in seconds: a loopback webhook's milliseconds to a
# program's minute.
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_S) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.sum += value
        for i, bound in enumerate(BUCKETS_S):
            if value <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1


class Metrics:
    def __init__(self) -> None:
        self.counters: Counter[tuple[str, Labels]] = Counter()
        self.gauges: dict[tuple[str, Labels], float] = {}
        self.histograms: dict[tuple[str, Labels], Histogram] = {}

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        histogram = self.histograms.get(key)
        if histogram is None:
            histogram = self.histograms[key] = Histogram()
        histogram.observe(value)

    def set(self, name: str, value: float, **labels: str) -> None:
        self.gauges[(name, tuple(sorted(labels.items())))] = value

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        if amount:
            self.counters[(name, tuple(sorted(labels.items())))] += amount

    def value(self, name: str, **labels: str) -> int:
        return self.counters[(name, tuple(sorted(labels.items())))]

    def total(self, name: str) -> int:
        return sum(v for (n, _), v in self.counters.items() if n == name)

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted({n for n, _ in self.counters} | set(HELP)):
            lines.append(f"# HELP {name} {HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for (n, labels), value in sorted(self.counters.items()):
                if n == name:
                    text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                    lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")
        for name in sorted({n for n, _ in self.gauges}):
            lines.append(f"# HELP {name} {GAUGE_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} gauge")
            for (n, labels), gauge in sorted(self.gauges.items()):
                if n == name:
                    text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                    lines.append(f"{name}{{{text}}} {gauge}" if text else f"{name} {gauge}")
        for name in sorted({n for n, _ in self.histograms}):
            lines.append(f"# HELP {name} {HISTOGRAM_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} histogram")
            for (n, labels), histogram in sorted(self.histograms.items()):
                if n != name:
                    continue
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                sep = "," if text else ""
                running = 0
                for bound, count in zip((*BUCKETS_S, "+Inf"), histogram.counts, strict=True):
                    running += count
                    lines.append(f'{name}_bucket{{{text}{sep}le="{bound}"}} {running}')
                labelled = f"{{{text}}}" if text else ""
                lines.append(f"{name}_sum{labelled} {histogram.sum}")
                lines.append(f"{name}_count{labelled} {running}")
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """One log line: totals per counter, by label for the input-side counters."""
        parts = []
        for name in sorted({n for n, _ in self.counters}):
            short = name.removeprefix("opsrules_").removesuffix("_total")
            by = {
                ",".join(v for _, v in labels) or "all": value
                for (n, labels), value in sorted(self.counters.items())
                if n == name
            }
            parts.append(f"{short}={by}")
        return " ".join(parts) or "nothing yet"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
