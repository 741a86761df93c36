"""Write BENCHMARKS.md from the JSON of ``opsrules bench pipeline --json``.

opsrules bench pipeline --json > bench-result.json
python -m bench.report bench-result.json BENCHMARKS.md
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

GOALS = [
    ("firehose end to end", "opsrules_rps", ">= 100,000 records/s"),
    ("opsrules / Quix Streams", "opsrules_over_quix", ">= 2"),
    ("50-sample batches", "batched_sps", ">= 500,000 samples/s"),
    ("latency p99, single-record rule, 5k/s offered", "latency_p99_ms", "< 250 ms"),
    ("memory per idle series", "rss_per_series_bytes", "< 1024 B"),
]


def loop_rows(result: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, str]]:
    """(label, the loop's figures, the key of its records/s) for each loop measured."""
    return [
        ("ceiling: aiokafka getmany + orjson", result.get("ceiling"), "records_per_s"),
        ("faust-streaming agent, decode only", result.get("faust"), "rps"),
        ("Quix Streams, 10 s tumbling mean, final", result.get("quix"), "rps"),
        ("opsrules worker: windows + rules + actions", result.get("opsrules"), "records_per_s"),
        ("opsrules worker, 50-sample batches", result.get("batched"), "records_per_s"),
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def num(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    if isinstance(value, int | float):
        return f"{round(value):,}"
    return "—" if value is None else str(value)


def render(result: dict[str, Any]) -> str:
    env = result.get("environment", {})
    rows = loop_rows(result)
    lines = [
        "# Benchmarks",
        "",
        f"Date: {time.strftime('%Y-%m-%d')}. Machine: {env.get('cpus')} cores "
        f"({_cpu_model()}), {env.get('platform')}, Python {env.get('python')}.",
        f"Versions: opsrules {version('opsrules')}, faust-streaming "
        f"{version('faust-streaming')}, aiokafka {version('aiokafka')}, Apache Kafka 4.1.1 "
        "(local, one KRaft node on loopback, same machine), quixstreams 3.28.1 (own venv).",
        "",
        f"Command: `{result.get('command')}` "
        f"({result.get('records'):,} records of ~150–200 B, {result.get('series'):,} series, "
        f"{result.get('partitions')} partitions; same topic, keys and partitions for all).",
        "",
        "Settings: " + "; ".join(f"{k}: {v}" for k, v in result.get("settings", {}).items()) + ".",
        "",
        "| loop | records/s | samples/s | CPU s / M records | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for label, data, key in rows:
        if not data:
            continue
        cpu = data.get("cpu_s_per_million_records", data.get("cpu_s_per_million"))
        rss = data.get("peak_rss_bytes")
        lines.append(
            f"| {label} | {num(data.get(key))} | {num(data.get('samples_per_s', data.get(key)))}"
            f" | {num(cpu)} | {num(rss / 2**20) if rss else '—'} |"
        )
    lines += ["", "| goal | figure | target |", "|---|---|---|"]
    for label, key, target in GOALS:
        lines.append(f"| {label} | {num(result.get(key))} | {target} |")
    lines += [
        "",
        f"Ratios: opsrules / ceiling {num(result.get('opsrules_over_ceiling'))}, "
        f"opsrules / Quix {num(result.get('opsrules_over_quix'))}.",
    ]
    latency = result.get("latency")
    if isinstance(latency, dict):
        lines += [
            "",
            "Latency mode: "
            + ", ".join(
                f"{k} {num(v)}"
                for k, v in latency.items()
                if k.endswith("_ms") or k.endswith("_rps")
            )
            + ".",
        ]
    memory = result.get("memory")
    if isinstance(memory, dict):
        lines += [
            "",
            "Memory mode: "
            + json.dumps({k: v for k, v in memory.items() if not isinstance(v, list | dict)}),
        ]
    return "\n".join(lines) + "\n"


MARKER = "<!-- analysis: kept by bench.report -->"


def main(argv: list[str]) -> int:
    """Render the figures; a hand-written part after MARKER in the old file is kept."""
    source, target = Path(argv[0]), Path(argv[1])
    result = json.loads(source.read_text().strip().splitlines()[-1])
    kept = ""
    if target.exists() and MARKER in target.read_text():
        kept = "\n" + MARKER + target.read_text().split(MARKER, 1)[1]
    target.write_text(render(result) + kept)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
