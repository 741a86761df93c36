"""The firehose bench's tables: a result of either mode (and its profiles), as ``python
-m bench.firehose`` prints it without ``--json``."""

from __future__ import annotations

from typing import Any

from bench.firehose.profiling import PROFILE_TOP, profile_text
from bench.tables import table


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    rows: list[tuple[object, ...]]
    head = f"python {env['python']} on {env['machine']}, {env['cpus']} cpus"
    if result["mode"] == "core":
        params = result["params"]
        out = [
            f"firehose core: FirehoseBatch.process, 1 partition, batches of "
            f"{params['max_records']:,}, shipped rulebook "
            f"({params['rules']} rules, {params['metric_feeds']} metric window feeds); {head}",
            "",
        ]
        rows = []
        for name, run in result["runs"].items():
            label = (
                "1 sample/record"
                if name == "single"
                else f"{run['samples_per_record']} samples/record"
            )
            rows.append(
                (
                    label,
                    run["hosts"],
                    run["records"],
                    run["samples"],
                    run["record_bytes_avg"],
                    run["wall_s"],
                    run["cpu_s"],
                    run["records_per_s"],
                    run["samples_per_s"],
                    run["cpu_records_per_s"],
                    run["signals"],
                )
            )
        out.append(
            table(
                (
                    "run",
                    "hosts",
                    "records",
                    "samples",
                    "bytes/rec",
                    "wall s",
                    "cpu s",
                    "records/s",
                    "samples/s",
                    "records/cpu-s",
                    "signals",
                ),
                rows,
            )
        )
        for name, run in result["runs"].items():
            if "profile_cumulative" in run:
                out += [
                    "",
                    profile_text(
                        f"profile of {name} ({run['profile_wall_s']:.2f}s under cProfile), "
                        f"top {PROFILE_TOP} by cumulative time:",
                        run["profile_cumulative"],
                    ),
                    "",
                    profile_text(f"top {PROFILE_TOP} by own time:", run["profile_self"]),
                ]
        return "\n".join(out)
    params = result["params"]
    top, hose = result["ceiling"], result["firehose"]
    rows = [
        (
            "getmany + orjson.loads (ceiling)",
            top["records"],
            top["wall_s"],
            top["records_per_s"],
            top["cpu_s_per_million_records"],
            "",
        ),
        (
            "FirehoseService",
            hose["records"],
            hose["wall_s"],
            hose["records_per_s"],
            hose["cpu_s_per_million_records"],
            hose["signals"],
        ),
    ]
    return "\n".join(
        [
            f"firehose on kafka {params['bootstrap']}: topic {params['topic']} "
            f"({params['partitions']} partition(s), {result['record_bytes_avg']} B/record, "
            f"preload {result['preload_s']:.1f}s); {head}",
            "",
            table(("loop", "records", "wall s", "records/s", "cpu s/M rec", "signals"), rows),
            "",
            f"firehose / ceiling: {result['firehose_vs_ceiling']:.1%}",
            "FirehoseService wall time by phase: "
            + ", ".join(f"{name} {value:.2f}s" for name, value in hose["phases_s"].items())
            + f" (cpu {hose['cpu_s']:.2f}s)",
        ]
    )
