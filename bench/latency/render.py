"""The latency bench's table: the result of a run, as ``python -m bench.latency`` prints
it without ``--json``."""

from __future__ import annotations

from typing import Any

from bench.tables import table


def render(result: dict[str, Any]) -> str:
    p, env = result["params"], result["environment"]
    rec, win = result["record_rule"], result["window_rule"]
    idle, w = win["closed_by_idle_timeout"], result["worker"]
    rows = [
        (
            "record rule: sent → action",
            rec["sent"],
            rec["received"],
            rec["missing"],
            rec["p50_ms"],
            rec["p95_ms"],
            rec["p99_ms"],
            rec["max_ms"],
        ),
        (
            "window rule: window end → action",
            win["windows"],
            win["received"],
            win["missing"],
            win["p50_ms"],
            win["p95_ms"],
            win["p99_ms"],
            win["max_ms"],
        ),
    ]
    return "\n".join(
        [
            f"latency on kafka {p['bootstrap']}: offered {result['offered_rps']:,.0f} rec/s "
            f"(achieved {result['achieved_rps']:,.0f}) for {p['seconds']}s, "
            f"{p['log_share']:.0%} FATAL logs, {p['hosts']} metric hosts, "
            f"{p['partitions']} partitions; python {env['python']}, {env['cpus']} cpus",
            "",
            table(
                ("", "sent", "actions", "missing", "p50 ms", "p95 ms", "p99 ms", "max ms"),
                rows,
            ),
            "",
            f"window latencies: {win['closed_by_samples']:,} windows closed by later samples "
            f"(figures above; they include the {p['grace_ms']} ms grace); "
            f"{idle['windows']} closed by the {p['idle_timeout_s']}s idle timeout "
            f"(p50 {idle['p50_ms']:.0f} ms, max {idle['max_ms']:.0f} ms)",
            f"worker: {w['cpu_s']:.1f} cpu-s ({w['cpu_share']:.0%} of a core), "
            f"exit {w['exit_code']}; "
            f"warm-up {result['warmup_s']:.1f}s, drain {result['drain_s']:.1f}s, "
            f"duplicates {result['duplicates']}; machine busy "
            f"{result['machine']['busy_share']:.0%} of {result['machine']['cpus']} cpus",
            "stages p50/p99 ms (Kafka CreateTimes): "
            + "; ".join(
                f"{name} "
                + ", ".join(
                    f"{hop} {v['p50']:.0f}/{v['p99']:.0f}"
                    for hop, v in rule["stages_ms"].items()
                    if hop != "items"
                )
                for name, rule in (("record", rec), ("window", win))
            ),
        ]
    )
