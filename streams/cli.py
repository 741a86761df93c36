"""The ``opsrules`` command line.

Settings come from ``OPSRULES_*`` environment variables (see ``streams/settings.py``);
a few flags override them for one run. Progress goes to stderr; the one line a script
wants (a bootstrap address, a JSON record) goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from processors.errors import OpsrulesError
from streams.settings import OpsrulesSettings, load_settings

Handler = Callable[[argparse.Namespace, OpsrulesSettings], int]


def _cmd_kafka(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams import kafka_local

    config = kafka_local.LocalKafkaConfig.from_settings(settings)
    if args.kafka_command == "up":
        state = kafka_local.up(config)
        print(state.bootstrap)
        return 0
    if args.kafka_command == "down":
        kafka_local.down(config)
        return 0
    state = kafka_local.status(config)
    print(f"{'up' if state.up else 'down'} {state.bootstrap} ({state.detail})")
    return 0 if state.up else 3


def _cmd_topics(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.topics import ensure_topics, topic_specs

    created = asyncio.run(ensure_topics(settings))
    for spec in topic_specs(settings):
        mark = "created" if spec.name in created else "exists"
        print(f"{spec.name:<40} {spec.partitions:>3} partitions  {mark}")
    return 0


def _cmd_worker(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.worker import run_worker

    return run_worker(
        settings,
        timeout_s=args.timeout,
        firehose=not args.no_firehose,
        decisions=not args.no_decisions,
        loglevel=args.loglevel,
    )


def _cmd_act(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.act import run_act

    return run_act(
        settings,
        receivers_file=args.receivers,
        dry_run=args.dry_run,
        timeout_s=args.timeout,
        loglevel=args.loglevel,
    )


def _cmd_check(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from processors.executors.loader import load_receivers
    from processors.probes.loader import load_probes
    from processors.rules.loader import NOT_RULE_FILES, PROBES_FILES, load_rules, rule_files

    paths = args.paths or [settings.rules_dir]
    others = [Path(p) for p in paths if Path(p).name in NOT_RULE_FILES and Path(p).is_file()]
    paths = [p for p in paths if Path(p) not in others]
    for directory in (Path(p) for p in paths if Path(p).is_dir()):
        others += [directory / name for name in NOT_RULE_FILES if (directory / name).is_file()]
    if not args.paths:
        others += [p for p in (settings.receivers_file, settings.probe_targets) if p.is_file()]
    once: dict[Path, Path] = {}  # the same file named twice is checked once
    for path in others:
        once.setdefault(path.resolve(), path)
    others = list(once.values())
    files = rule_files(paths) if paths else []
    result = load_rules(paths) if paths else None
    errors = list(result.errors) if result is not None else []
    for path in others:
        load = load_probes if path.name in PROBES_FILES else load_receivers
        errors += load(path).errors
    for error in errors:
        print(error)
    count = len(files) + len(others)
    if errors:
        print(f"{len(errors)} error(s) in {count} file(s)", file=sys.stderr)
        return 1
    rules = len(result.rules) if result is not None else 0
    names = ", ".join(p.name for p in others)
    print(
        f"{rules} rules OK in {len(files)} file(s)" + (f"; {names} OK" if others else ""),
        file=sys.stderr,
    )
    return 0


def _cmd_probe(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.probe import run_probe

    return run_probe(
        settings,
        targets=args.targets or settings.probe_targets,
        once=args.once,
        dry_run=args.dry_run,
        timeout_s=args.timeout,
    )


def _cmd_test(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.ruletest import run_tests

    rules_dir = args.rules or settings.rules_dir
    return run_tests(args.paths, rules_dir, matcher=settings.matcher, junit=args.junit)


def _cmd_explain(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.explain import run_explain

    rules_dir = args.rules or settings.rules_dir
    return run_explain(
        settings, args.rule_id, rules_dir, as_json=args.json, live=args.live, timeout_s=args.timeout
    )


def _cmd_bench(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    import json

    from bench.pipeline import render, run

    args.bootstrap = args.bootstrap or settings.bootstrap_servers
    args.argv = sys.argv[3:] if len(sys.argv) > 3 else []
    result = run(args)
    print(json.dumps(result) if args.json else render(result))
    return 0


def _cmd_demo(args: argparse.Namespace, settings: OpsrulesSettings) -> int:
    from streams.demo import run_demo

    return run_demo(
        settings,
        scenario=args.scenario,
        timeout_s=args.timeout,
        speed=None if args.speed == 0 else args.speed,
        as_json=args.json,
        keep=args.keep,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsrules",
        description="Operations rule engine on Kafka: telemetry in, alert/heal/scale/"
        "incident actions out. Settings come from OPSRULES_* environment variables "
        "(OPSRULES_BOOTSTRAP_SERVERS, OPSRULES_TOPIC_PREFIX, OPSRULES_APP_ID, …).",
    )
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka to use (overrides OPSRULES_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kafka = sub.add_parser(
        "kafka",
        help="run a local single-node Kafka without Docker",
        description="A pinned Apache Kafka (KRaft, one node on 127.0.0.1) provisioned with "
        "Maven. Port, data dir and heap: OPSRULES_KAFKA_PORT, OPSRULES_KAFKA_DATA_DIR, "
        "OPSRULES_KAFKA_HEAP.",
    )
    kafka_sub = kafka.add_subparsers(dest="kafka_command", required=True, metavar="ACTION")
    kafka_sub.add_parser("up", help="start (or reuse) the broker; prints its bootstrap address")
    kafka_sub.add_parser("down", help="stop the broker started by `up`")
    kafka_sub.add_parser("status", help="say whether the broker is up (exit 3 when down)")
    kafka.set_defaults(handler=_cmd_kafka)

    topics = sub.add_parser("topics", help="manage opsrules topics")
    topics_sub = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    topics_sub.add_parser("create", help="create every opsrules topic that is missing")
    topics.set_defaults(handler=_cmd_topics)

    check = sub.add_parser(
        "check",
        help="validate rule files and the receivers file, every error as path:line:col",
        description="Loads every rule file under PATH (default: OPSRULES_RULES_DIR, "
        "'rules') and the receivers file of opsrules act (receivers.yaml in those "
        "directories, or given as a PATH; by default also OPSRULES_RECEIVERS_FILE) and "
        "prints every error, one per line: path:line:col: rule <id>: message. "
        "Exit status 1 on any error.",
    )
    check.add_argument("paths", nargs="*", metavar="PATH", help="rule files or directories")
    check.set_defaults(handler=_cmd_check)

    test = sub.add_parser(
        "test",
        help="run rule unit tests (rules/tests/*.yaml) on a virtual clock, no Kafka",
        description="Runs every rule test file under PATH (default: <rules>/tests): input "
        "records at time offsets through the production cores, the actions decided compared "
        "with the expected ones at each eval_at. Prints PASS/FAIL per test, a diff for each "
        "failure and 'N passed, M failed'. Exit status 1 on a failure or a broken test file. "
        "Format: rules/README.md, 'Testing rules'.",
    )
    test.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="test files or folders")
    test.add_argument(
        "--rules",
        type=Path,
        metavar="DIR",
        help="the rule folder; a test file's rule_files are relative to it "
        "(default: OPSRULES_RULES_DIR, 'rules')",
    )
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML to FILE")
    test.set_defaults(handler=_cmd_test)

    from streams.decode import add_decode_parser

    add_decode_parser(sub)

    explain = sub.add_parser(
        "explain",
        help="show a rule as the engine runs it (and, with --live, its current alerts)",
        description="Prints the compiled form of RULE_ID: its source topic, match and "
        "condition after macros, window (spec id, rules sharing it), group_by, timing, "
        "actions, version and the signals that carry it. --live also reads the decision "
        "tier's alert state from Kafka and lists the rule's alerts.",
    )
    explain.add_argument("rule_id", metavar="RULE_ID")
    explain.add_argument(
        "--rules", type=Path, metavar="DIR", help="the rule folder (default: OPSRULES_RULES_DIR)"
    )
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.add_argument(
        "--live", action="store_true", help="also list the rule's alerts from a running worker"
    )
    explain.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="with --live: give up when Kafka does not answer within S seconds (default 10)",
    )
    explain.set_defaults(handler=_cmd_explain)

    worker = sub.add_parser(
        "worker",
        help="run the processors and the rule engine",
        description="Runs the firehose tier (aiokafka batch loops on the input topics) and "
        "the decision tier (a batch loop on signals, alert state on a compacted changelog) "
        "in one process, and reloads changed rule files. Stops cleanly on SIGINT/SIGTERM: "
        "flushes, commits, exits 0.",
    )
    worker.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    worker.add_argument("--no-firehose", action="store_true", help="run the decision tier only")
    worker.add_argument("--no-decisions", action="store_true", help="run the firehose only")
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning"])
    worker.set_defaults(handler=_cmd_worker)

    act = sub.add_parser(
        "act",
        help="carry actions out: webhooks, Alertmanager, PagerDuty, Slack, commands, kubectl",
        description="Consumes the action topics and delivers each action to the receivers "
        "that the receivers file's routing tree names (--receivers, else "
        "OPSRULES_RECEIVERS_FILE, default rules/receivers.yaml), with retries; writes one "
        "result per action and receiver to ops.actions.results. A restart delivers again "
        "only what was in flight, with the same Idempotency-Key. Stops cleanly on "
        "SIGINT/SIGTERM.",
    )
    act.add_argument("--receivers", type=Path, metavar="FILE", help="the receivers file")
    act.add_argument(
        "--dry-run",
        action="store_true",
        help="print each request and program as one JSON line instead of sending it "
        "(secrets shown as <secret>); writes no results and commits nothing",
    )
    act.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    act.add_argument("--loglevel", default="info", choices=["debug", "info", "warning"])
    act.set_defaults(handler=_cmd_act)

    probe = sub.add_parser(
        "probe",
        help="active health checks (HTTP, TCP, commands) into the health topic",
        description="Runs the probes of a targets file (--targets, else "
        "OPSRULES_PROBE_TARGETS, default rules/probes.yaml), each every interval, and "
        "sends each result to the health topic as a HealthCheck keyed by service. Probes go "
        "only where the file says. Stops on SIGINT/SIGTERM.",
    )
    probe.add_argument("--targets", type=Path, metavar="FILE", help="the targets file")
    probe.add_argument("--once", action="store_true", help="run every probe once and exit")
    probe.add_argument(
        "--dry-run", action="store_true", help="print the results instead of sending them"
    )
    probe.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    probe.set_defaults(handler=_cmd_probe)

    demo = sub.add_parser(
        "demo",
        help="start local Kafka and a worker, play a scenario, show the actions",
        description="Starts (or reuses) a local Kafka, runs the worker with rules/, plays a "
        "synthetic scenario and prints each action as it arrives.",
    )
    demo.add_argument(
        "--scenario",
        default="cpu-saturation",
        metavar="NAME",
        help="scenario to play (see `opsrules simulate --list`; default cpu-saturation)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=60.0,
        metavar="X",
        help="event time runs X times faster than wall time (0: at once)",
    )
    demo.add_argument("--timeout", type=float, default=90.0, metavar="S", help="give up after S s")
    demo.add_argument("--json", action="store_true", help="print one action per line as JSON")
    demo.add_argument("--keep", action="store_true", help="leave the local Kafka running")
    demo.set_defaults(handler=_cmd_demo)

    _add_bench_parser(sub)

    from streams.collect import add_collect_parser
    from streams.silences import add_silence_parser
    from streams.simulate import add_simulate_parser

    add_simulate_parser(sub)
    add_collect_parser(sub)
    add_silence_parser(sub)
    return parser


def _add_bench_parser(sub: Any) -> None:
    """``opsrules bench``, in a checkout only: the benchmarks are a repository tool
    (``bench/`` is not in the wheel, so an installed opsrules does not list it)."""
    try:
        from bench.nab.cli import add_arguments as add_nab_arguments
        from bench.nab.cli import handle as handle_nab
        from bench.pipeline import add_arguments
    except ImportError:  # installed from the wheel
        return
    bench = sub.add_parser(
        "bench",
        help="benchmarks (from a checkout): opsrules against its limit and its peers",
    )
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="KIND")
    pipeline = bench_sub.add_parser(
        "pipeline",
        help="ceiling, faust, Quix Streams and opsrules on the same topic; latency; memory",
        description="Pre-loads one metrics topic and runs, in turn: a plain aiokafka "
        "getmany loop, a faust agent, a Quix Streams app (own venv, created on first use) "
        "and the opsrules worker on it; then 50-sample batches, the latency mode and the "
        "memory mode. Needs a running Kafka (opsrules kafka up).",
    )
    add_arguments(pipeline)
    bench.set_defaults(handler=_cmd_bench)
    nab = bench_sub.add_parser(
        "nab",
        help="the anomaly detector on the Numenta Anomaly Benchmark (NAB), NAB's scoring",
        description="Runs the anomaly detector over every labelled series of a NAB-layout "
        "folder and prints NAB's normalised scores (standard, reward_low_FP_rate, "
        "reward_low_FN_rate) at its fixed threshold; or scores existing NAB results "
        "(--results DIR --detector NAME), sweeping the threshold as NAB does. No Kafka.",
    )
    add_nab_arguments(nab)
    nab.set_defaults(handler=handle_nab)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {}
    if args.bootstrap_servers:
        overrides["bootstrap_servers"] = args.bootstrap_servers
    handler: Handler = args.handler
    try:
        settings = load_settings(**overrides)
        return handler(args, settings)
    except OpsrulesError as exc:
        print(f"opsrules: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
