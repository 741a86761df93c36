"""Decode throughput per producer format: records and samples per second on one core.

``python -m bench.formats`` decodes one representative message of each registered
format (processors/formats/registry.py) through ``decode_input`` — recognition
(``auto``), the format's decoder and the validation every record gets — ``--seconds``
long each, three times, and prints the median. A message may fan out: "messages/s" are
the Kafka values, "records/s" the native records they give (samples, for metrics).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import orjson

from bench.arguments import positive
from processors.formats.registry import FORMATS
from streams.codec import Rejected
from streams.ingest import Limits, decode_input

T_MS = 1_795_899_240_000
T_NS = T_MS * 1_000_000
LIMITS = Limits(max_record_bytes=1_048_576, max_future_skew_ms=2**62, max_age_ms=2**62)


def _otlp_metrics(points: int) -> bytes:
    def point(i: int) -> dict[str, Any]:
        return {
            "timeUnixNano": str(T_NS),
            "asDouble": 0.5 + i / 1000,
            "attributes": [{"key": "cpu", "value": {"stringValue": f"cpu{i % 8}"}}],
        }

    metrics = [
        {
            "name": f"app.metric.{m}",
            "unit": "1",
            "gauge": {"dataPoints": [point(i) for i in range(10)]},
        }
        for m in range(points // 10)
    ]
    resource = {"attributes": [{"key": "host.name", "value": {"stringValue": "web-1"}}]}
    return orjson.dumps(
        {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": metrics}]}]}
    )


def _otlp_proto(points: int) -> bytes:
    """The same export as :func:`_otlp_metrics`, in the exporter's default encoding."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    message = json_format.Parse(_otlp_metrics(points), ExportMetricsServiceRequest())
    return bytes(message.SerializeToString())


def _otlp_logs() -> bytes:
    record = {
        "timeUnixNano": str(T_NS),
        "severityNumber": 17,
        "severityText": "ERROR",
        "body": {"stringValue": "payment failed: card declined"},
        "attributes": [{"key": "http.route", "value": {"stringValue": "/pay"}}],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]}
    return orjson.dumps(
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    )


# One representative message per format: (source, value).
MESSAGES: dict[str, tuple[str, bytes]] = {
    "native": (
        "metric",
        orjson.dumps({"ts": T_MS, "name": "system.cpu.utilization", "value": 0.5, "host": "web-1"}),
    ),
    "telegraf_influx": (
        "metric",
        (
            "cpu,cpu=cpu-total,host=web-1 usage_user=12.5,usage_system=3.1,usage_idle=83.2,"
            "usage_nice=0,usage_iowait=0.4,usage_irq=0,usage_softirq=0.2,usage_steal=0.1,"
            f"usage_guest=0,usage_guest_nice=0 {T_NS}"
        ).encode(),
    ),
    "telegraf_json": (
        "metric",
        orjson.dumps(
            {
                "fields": {
                    "used_percent": 42.5,
                    "available": 4096,
                    "total": 8192,
                    "used": 3481,
                    "free": 611,
                },
                "name": "mem",
                "tags": {"host": "web-1"},
                "timestamp": T_MS // 1000,
            }
        ),
    ),
    "otlp_json": ("metric", _otlp_metrics(100)),
    "otlp_proto": ("metric", _otlp_proto(100)),
    "vector_json": (
        "metric",
        orjson.dumps(
            {
                "name": "filesystem_used_ratio",
                "namespace": "host",
                "tags": {"host": "web-1", "mountpoint": "/"},
                "timestamp": "2026-11-28T20:54:00.000000000Z",
                "kind": "absolute",
                "gauge": {"value": 0.42},
            }
        ),
    ),
    "fluentbit": (
        "log",
        orjson.dumps(
            {
                "@timestamp": T_MS / 1000,
                "log": "GET /health 200\n",
                "stream": "stdout",
                "kubernetes": {
                    "pod_name": "web-1",
                    "namespace_name": "prod",
                    "container_name": "web",
                },
            }
        ),
    ),
    "filebeat": (
        "log",
        orjson.dumps(
            {
                "@timestamp": "2026-11-28T20:54:00.000Z",
                "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.11.0"},
                "message": "GET /health 200",
                "log": {"level": "info", "file": {"path": "/var/log/app.log"}},
                "host": {"name": "web-1"},
                "ecs": {"version": "8.0.0"},
            }
        ),
    ),
    "falco": (
        "security",
        orjson.dumps(
            {
                "output": "Error File below a known binary directory opened for writing",
                "priority": "Error",
                "rule": "Write below binary dir",
                "source": "syscall",
                "tags": ["filesystem", "mitre_persistence"],
                "time": "2026-11-28T20:54:00.237634398Z",
                "hostname": "web-1",
                "output_fields": {
                    "container.id": "host",
                    "evt.time": T_NS,
                    "fd.name": "/bin/x",
                    "proc.cmdline": "touch /bin/x",
                    "proc.pname": "bash",
                    "user.name": "root",
                },
            }
        ),
    ),
    "collectd_json": (
        "metric",
        orjson.dumps(
            [
                {
                    "values": [83.2],
                    "dstypes": ["gauge"],
                    "dsnames": ["value"],
                    "time": T_MS / 1000,
                    "interval": 10.0,
                    "host": "web-1",
                    "plugin": "cpu",
                    "plugin_instance": "",
                    "type": "percent",
                    "type_instance": "idle",
                }
            ]
        ),
    ),
    "collectd_graphite": ("metric", b"web-1.cpu.percent-idle 83.2 1795899240"),
    "syslog_json": (
        "log",
        orjson.dumps(
            {
                "timereported": "2026-11-28T20:54:00.003Z",
                "hostname": "web-1",
                "programname": "sshd",
                "procid": "8710",
                "syslogfacility": "4",
                "syslogseverity": "6",
                "msg": " Accepted publickey for deploy from 203.0.113.7 port 51234 ssh2",
            }
        ),
    ),
    "syslog": (
        "log",
        b"<34>1 2026-11-28T20:54:00.003Z web-1 sshd 8710 - - "
        b"Failed password for root from 203.0.113.7 port 51234 ssh2",
    ),
}


def measure(source: str, value: bytes, seconds: float) -> tuple[float, float]:
    """(messages/s, records/s) of decoding ``value`` for ``seconds``."""
    first = decode_input(source, value, LIMITS, T_MS)
    if isinstance(first, Rejected):
        raise RuntimeError(f"{first.reason}: {first.message}")
    records, count, started = len(first), 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            decode_input(source, value, LIMITS, T_MS)
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started), count * records / (now - started)


def run(seconds: float, repeats: int, only: list[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, (source, value) in MESSAGES.items():
        if name not in FORMATS or (only and name not in only):
            continue
        runs = [measure(source, value, seconds) for _ in range(repeats)]
        rows.append(
            {
                "format": name,
                "source": source,
                "bytes": len(value),
                "messages_per_s": round(statistics.median(m for m, _ in runs)),
                "records_per_s": round(statistics.median(r for _, r in runs)),
                "records_per_s_runs": [round(r) for _, r in runs],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.formats", description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per run (default 2)")
    parser.add_argument("--repeats", type=positive, default=3)
    parser.add_argument("--format", action="append", dest="only", metavar="NAME")
    parser.add_argument("--json", action="store_true", help="one JSON object per format")
    args = parser.parse_args(argv)
    rows = run(args.seconds, args.repeats, args.only)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(f"{'format':<16} {'source':<8} {'bytes':>6} {'messages/s':>11} {'records/s':>11}  runs")
    for row in rows:
        runs = ", ".join(f"{r:,}" for r in row["records_per_s_runs"])
        print(
            f"{row['format']:<16} {row['source']:<8} {row['bytes']:>6} "
            f"{row['messages_per_s']:>11,} {row['records_per_s']:>11,}  {runs}"
        )


if __name__ == "__main__":
    main()
