"""``opsrules explain RULE_ID``: a rule as the engine runs it, and (``--live``) its alerts.

The compiled form: the topic it reads, ``match`` and ``condition`` after macros, lists
and exceptions, the window feed (spec id, the rules sharing it, the stats it computes),
``group_by``, timing, actions and their topics, the version, and the signals that carry
it from the firehose to the decision tier.

Live: the decision tier keeps every alert's state in the compacted
``<prefix><app_id>.alerts.changelog`` topic, keyed by fingerprint (a hash of rule id and
group values). The state names its rule (``rule_id``); a state written before it did is
attributed through the rule's actions on the action topics, which carry rule id, group
and fingerprint (so such an alert that never fired is counted, not listed). The group
comes from the state when it holds one, else from the alert's actions.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from processors.decisions.alert_record import AlertRecord, AlertRecordError
from processors.errors import RulesError
from processors.firehose.autoscalers import hpa_config
from processors.ids import fingerprint
from processors.rules.compiler import CompiledRulebook, compile_rulebook
from processors.rules.durations import format_duration
from processors.rules.loader import LoadedRule, load_rules
from processors.rules.rule_errors import did_you_mean
from processors.rules.slos import ALERTS
from processors.timestamps import format_ts
from streams.compacted import read_compacted
from streams.ingest import SOURCES
from streams.settings import OpsrulesSettings
from streams.topics import ACTION_TYPES, action_topic, alerts_changelog_topic, topic_partitions

_ROLE_OF_SOURCE = {source: role for role, source in SOURCES.items()}


def source_topic(settings: OpsrulesSettings, source: str) -> str:
    """The topic a rule of ``source`` reads (signal rules: the signals topic)."""
    role = _ROLE_OF_SOURCE.get(source, "signals")
    return settings.topic(getattr(settings, f"topic_{role}"))


# Fields shown by name; any other field a rule sets (new features too) is listed as is.
_SHOWN_RULE = frozenset(
    {"id", "description", "source", "match", "condition", "window", "for_ms"}
    | {"keep_firing_for_ms", "group_by", "severity", "labels", "annotations", "actions"}
    | {"exceptions", "tags", "enabled", "slo", "autoscale", "canary"}
)
_SHOWN_ACTION = frozenset({"type", "params", "cooldown_ms"})


def _other(fields: dict[str, Any], shown: frozenset[str]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in shown}


def explain(
    item: LoadedRule, rulebook: CompiledRulebook, settings: OpsrulesSettings
) -> dict[str, Any]:
    """The rule as run, as a JSON-able mapping; durations in milliseconds."""
    rule = item.rule
    compiled = rulebook.rules.get(rule.id)
    out: dict[str, Any] = {
        "id": rule.id,
        "description": rule.description,
        "file": item.path,
        "line": item.line,
        "version": item.version,
        "enabled": rule.enabled,
        "source": rule.source,
        "topic": source_topic(settings, rule.source),
        "match": rule.match,
        "condition": rule.condition,
        "window": None,
        "group_by": list(rule.group_by),
        "for_ms": rule.for_ms,
        "keep_firing_for_ms": rule.keep_firing_ms,
        "resolves": rule.evaluated,
        "severity": rule.severity,
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
        "tags": list(rule.tags),
        "actions": [
            {
                "type": action.type,
                "topic": action_topic(settings, action.type),
                "params": dict(action.params),
                "cooldown_ms": action.cooldown_ms,
                **_other(action.model_dump(mode="json", exclude_defaults=True), _SHOWN_ACTION),
            }
            for action in rule.actions
        ],
        "other": _other(rule.model_dump(mode="json", exclude_defaults=True), _SHOWN_RULE),
        "signals": None,
    }
    if rule.window is not None:
        window = rule.window
        feed = rulebook.feeds.get(compiled.spec_id) if compiled and compiled.spec_id else None
        out["window"] = {
            "size_ms": window.size_ms,
            "hop_ms": window.hop_ms or window.size_ms,
            "grace_ms": window.grace_ms,
            "stat": window.stat,
            "value": rule.window_value,
            "spec_id": feed.spec.spec_id if feed else None,
            "stats": sorted(feed.spec.stats) if feed else [],
            "empty_windows": feed.spec.empty_windows if feed else None,
            "shared_with": [r for r in feed.rule_ids if r != rule.id] if feed else [],
        }
    slo = rule.slo
    if slo is not None:
        alerts = ALERTS[slo.alert]
        out["slo"] = {
            "id": slo.slo,
            "alert": slo.alert,
            "objective": slo.objective,
            "window_ms": slo.window_ms,
            "grace_ms": slo.grace_ms,
            "total": rule.match,
            "bad": slo.bad,
            "events": slo.events,
            "burn_windows": [
                {"threshold": threshold, "long": long, "short": short}
                for threshold, long, short in alerts
            ],
        }
    scaler = rule.autoscale
    if scaler is not None:
        hpa = hpa_config(scaler)
        out["autoscale"] = {
            "target": scaler.target,
            "per": scaler.per,
            "value": scaler.value,
            "window_ms": scaler.window_ms,
            "grace_ms": scaler.grace_ms,
            "metric": scaler.metric,
            "target_value": scaler.target_value,
            "min_replicas": scaler.min_replicas,
            "max_replicas": scaler.max_replicas,
            "tolerance": scaler.tolerance,
            "behavior": {
                name: {
                    "stabilization_ms": rules.stabilization_ms,
                    "select": rules.select,
                    "policies": [
                        {p.kind: p.value, "period_ms": p.period_ms} for p in rules.policies
                    ],
                }
                for name, rules in (("scale_up", hpa.scale_up), ("scale_down", hpa.scale_down))
            },
        }
    canary = rule.canary
    if canary is not None:
        out["canary"] = canary.model_dump(mode="json", by_alias=False)
    if compiled is not None:
        if scaler is not None or canary is not None:
            kind, rules = "match", [rule.id]
        elif slo is not None:
            kind = "slo"
            rules = [r for r in (f"{slo.slo}_page", f"{slo.slo}_ticket") if r in rulebook.rules]
        else:
            kind = "window" if rule.windowed else "record"
            rules = list(feed.rule_ids) if rule.window is not None and feed else [rule.id]
        out["signals"] = {
            "topic": settings.topic(settings.topic_signals),
            "kind": kind,
            "key": list(rule.group_by),
            "rules": rules,
        }
    return out


def _duration(ms: int | None) -> str:
    return "-" if ms is None else format_duration(ms)


def text_lines(info: dict[str, Any]) -> Iterator[str]:
    state = "" if info["enabled"] else "  (disabled: checked, not run)"
    yield f"rule {info['id']}  {info['file']}:{info['line']}  version {info['version']}{state}"
    if info["description"]:
        yield f"  {info['description']}"
    yield f"source:      {info['source']}, read from topic {info['topic']}"
    yield f"match:       {info['match']}"
    yield f"condition:   {info['condition']}"
    window, slo = info["window"], info.get("slo")
    if slo is not None:
        pairs = " or ".join(
            f"above {w['threshold']:g} over {w['long']} and {w['short']}"
            for w in slo["burn_windows"]
        )
        yield (
            f"slo:         {slo['id']} ({slo['alert']}): objective {slo['objective']:g} over "
            f"{_duration(slo['window_ms'])}; bad: {slo['bad']}; events per record: "
            f"{slo['events']}"
        )
        yield (
            f"             counted per minute (grace {_duration(slo['grace_ms'])}); fires "
            f"when the burn rate is {pairs}; resolves when that no longer holds"
        )
    elif info.get("autoscale") is not None:
        a = info["autoscale"]
        per = "mean of the replicas' means" if a["metric"] == "mean" else "sum over replicas"
        yield (
            f"autoscale:   {a['target']}: replicas = distinct {a['per']} per "
            f"{_duration(a['window_ms'])} window (grace {_duration(a['grace_ms'])}); metric "
            f"{per} of {a['value']}; target {a['target_value']:g} per replica, tolerance "
            f"{a['tolerance']:g}, {a['min_replicas']}..{a['max_replicas']} replicas"
        )
        for name, b in a["behavior"].items():
            policies = ", ".join(
                f"{p.get('percent', p.get('pods'))}{'%' if 'percent' in p else ' pods'} per "
                f"{_duration(p['period_ms'])}"
                for p in b["policies"]
            )
            yield (
                f"             {name}: stabilization {_duration(b['stabilization_ms'])}, "
                f"select {b['select']}: {policies}"
            )
    elif info.get("canary") is not None:
        c = info["canary"]
        yield (
            f"canary:      {c['canary']} ({c['verdict']}): deploys that match start an "
            f"analysis of {c['intervals']} x {_duration(c['interval_ms'])} intervals from "
            f"the next boundary after warmup {_duration(c['warmup_ms'])}; {c['track']} "
            f"{c['canary_value']!r} against {c['baseline_value']!r}; rolls back at "
            f"{c['max_failures']} failed intervals, at least {c['min_samples']} samples a side"
        )
        for check in c["checks"]:
            tests = [f"max_ratio {check['max_ratio']:g}"] if check.get("max_ratio") else []
            if check.get("mann_whitney"):
                tests.append(f"Mann-Whitney at {check['mann_whitney']:g}")
            extra = " critical" if check.get("critical") else ""
            yield (
                f"             check {check['name']}: {check['stat']} of {check['value']} on "
                f"{check['source']} where {check['match']}; {check['direction']} is bad: "
                f"{', '.join(tests)}, min_difference {check['min_difference']:g}, nodata "
                f"{check['nodata']}{extra}"
            )
    elif window is None:
        yield "window:      none: every matching record fires at once"
    else:
        kind = "tumbling" if window["hop_ms"] == window["size_ms"] else "hopping"
        yield (
            f"window:      {kind}, size {_duration(window['size_ms'])}, hop "
            f"{_duration(window['hop_ms'])}, grace {_duration(window['grace_ms'])}; "
            f"stat {window['stat']} of {window['value']}"
        )
        if window["spec_id"] is not None:
            shared = ", ".join(window["shared_with"]) or "no other rule"
            yield (
                f"             spec {window['spec_id']} (stats {', '.join(window['stats'])}; "
                f"shared with {shared}; up to {window['empty_windows']} empty windows "
                "after a series stops)"
            )
    yield f"group_by:    {', '.join(info['group_by']) or '(none: one alert for all records)'}"
    resolves = "resolved notification" if info["resolves"] else "no resolved notification"
    yield (
        f"timing:      for {_duration(info['for_ms'])}, keep_firing_for "
        f"{_duration(info['keep_firing_for_ms'])}, {resolves}"
    )
    yield f"severity:    {info['severity']}"
    for name in ("labels", "annotations"):
        for key, value in info[name].items():
            yield f"{name + ':':<12} {key}: {value}"
    if info["tags"]:
        yield f"tags:        {', '.join(info['tags'])}"
    for action in info["actions"]:
        extra = ""
        if action["params"]:
            extra += f" params {json.dumps(action['params'])}"
        if action["cooldown_ms"]:
            extra += f" cooldown {_duration(action['cooldown_ms'])}"
        for name, value in action.items():
            if name not in _SHOWN_ACTION and name != "topic":
                extra += f" {name} {json.dumps(value)}"
        yield f"action:      {action['type']} -> {action['topic']}{extra}"
    for name, value in info["other"].items():
        yield f"{name + ':':<12} {json.dumps(value)}"
    signals = info["signals"]
    if signals is not None:
        key = "|".join(signals["key"]) or "*"
        per = {
            "window": "closed window of a series",
            "slo": "minute of each group (burn rates, budget_remaining)",
        }.get(signals["kind"], "matching record")
        if info.get("autoscale") is not None:
            per = "new desired replica count"
        if info.get("canary") is not None:
            per = f"{info['canary']['verdict']} verdict of an analysis"
        yield (
            f"signals:     kind {signals['kind']} on {signals['topic']}, one per {per}, "
            f"key {key}, rules [{', '.join(signals['rules'])}]"
        )
    if "alerts" in info:
        yield from _alert_lines(info)
    if "budgets" in info:
        yield from _budget_lines(info["budgets"])


def _budget_lines(budgets: list[dict[str, Any]]) -> Iterator[str]:
    yield f"budget:      {len(budgets)} group(s) in the latest slo signals"
    for budget in budgets:
        group = ", ".join(f"{k}={v}" for k, v in budget["group"].items()) or "(all)"
        values = budget["values"]
        burns = ", ".join(
            f"{name} {values.get(f'burn_{name}', 0):g}" for name in ("5m", "1h", "6h", "1d", "3d")
        )
        remaining = values.get("budget_remaining")
        left = f"{remaining * 100:.4g}%" if isinstance(remaining, int | float) else "?"
        yield f"  {group}: {left} of the error budget left at {budget['ts']}; burn {burns}"


def _alert_lines(info: dict[str, Any]) -> Iterator[str]:
    alerts = info["alerts"]
    yield f"alerts:      {len(alerts)} in {info['alerts_topic']}"
    for alert in alerts:
        group = ", ".join(f"{k}={v}" for k, v in (alert["group"] or {}).items()) or "?"
        since = alert["active_since"] or "-"
        yield f"  {alert['fingerprint']}  {alert['phase']:<8}  since {since}  {{{group}}}"
    if info.get("unattributed"):
        yield (
            f"  ({info['unattributed']} other alert state(s) do not name their rule and "
            "match no action of any rule: pending alerts of this rule may be among them)"
        )


# --- live -----------------------------------------------------------------------------


async def live_alerts(
    settings: OpsrulesSettings, rule_id: str, timeout_s: float
) -> tuple[str, list[dict[str, Any]], int]:
    """``(changelog topic, the rule's alerts, unattributed states)`` from the cluster;
    no alerts when no worker has made the changelog yet. Raises KafkaUnavailableError
    when no broker answers within ``timeout_s``."""
    changelog = alerts_changelog_topic(settings)
    await topic_partitions(settings, [changelog], timeout_s)  # fails fast without a broker
    states = await _latest(settings, [changelog])
    # Actions are keyed by fingerprint: the latest of each names its rule and group.
    actions = await _latest(settings, [action_topic(settings, t) for t in ACTION_TYPES])
    return (changelog, *rule_alerts(rule_id, states, list(actions.values())))


async def _latest(settings: OpsrulesSettings, topics: list[str]) -> dict[str, dict[str, Any]]:
    """The latest value of every key of ``topics`` (read like the changelog on restore)."""
    out: dict[str, dict[str, Any]] = {}
    for topic in topics:
        partitions = sorted(tp.partition for tp in await topic_partitions(settings, [topic]))
        if partitions:
            for values in (await read_compacted(settings, topic, partitions)).values():
                out.update(values)
    return out


async def live_budgets(
    settings: OpsrulesSettings, slo_id: str, tail: int = 20_000
) -> list[dict[str, Any]]:
    """The latest ``slo`` signal of each group of the SLO ``slo_id``, from the last
    ``tail`` records of each partition of the signals topic (a running worker sends one
    per group per minute)."""
    topic = settings.topic(settings.topic_signals)
    tps = [TopicPartition(topic, p.partition) for p in await topic_partitions(settings, [topic])]
    latest: dict[str, dict[str, Any]] = {}
    if not tps:
        return []
    consumer = AIOKafkaConsumer(
        **settings.aiokafka_kwargs(),
        client_id=f"{settings.app_id}-explain",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(begins[tp], ends[tp] - tail))
        pending = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
            for records in fetched.values():
                for record in records:
                    budget = slo_budget(record.value, slo_id)
                    if budget is not None:
                        key = orjson.dumps(budget["group"], option=orjson.OPT_SORT_KEYS)
                        if budget["ts_ms"] >= latest.get(key.decode(), budget)["ts_ms"]:
                            latest[key.decode()] = budget
            pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()
    return [latest[key] for key in sorted(latest)]


def slo_budget(value: bytes | None, slo_id: str) -> dict[str, Any] | None:
    """An ``slo`` signal of ``slo_id`` as explain shows it, or None for any other value."""
    try:
        signal = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(signal, dict) or signal.get("kind") != "slo":
        return None
    record, ts_ms = signal.get("record"), signal.get("ts_ms")
    if not isinstance(record, dict) or record.get("slo") != slo_id or not isinstance(ts_ms, int):
        return None
    return {
        "group": signal.get("group") or {},
        "ts_ms": ts_ms,
        "ts": format_ts(ts_ms),
        "values": signal.get("values") or {},
    }


def rule_alerts(
    rule_id: str, states: dict[str, Any], actions: list[Any]
) -> tuple[list[dict[str, Any]], int]:
    """The alerts of ``rule_id`` among the alert ``states`` (fingerprint → changelog
    value), attributed by the record's own ``rule_id`` or by the fingerprint of one of
    the rule's ``actions``; and how many states name no rule and match no action of any
    rule (a value that is not an alert state counts among them)."""
    groups: dict[str, dict[str, str] | None] = {}  # this rule's fingerprints -> group
    others: set[str] = set()  # other rules' fingerprints
    for action in actions:
        if not isinstance(action, dict) or "fingerprint" not in action:
            continue
        if action.get("rule_id") == rule_id:
            groups[action["fingerprint"]] = action.get("group")
        else:
            others.add(action["fingerprint"])
    alerts, unattributed = [], 0
    for key, value in sorted(states.items()):
        try:
            record = AlertRecord.from_json(value)
        except AlertRecordError:
            unattributed += 1
            continue
        named = record.rule_id
        if named == rule_id or (named is None and key in groups):
            group = record.group or groups.get(key)
            if group is not None and fingerprint(rule_id, group) != key:
                continue  # a stale or foreign record under this key
            alerts.append(_alert(key, record, group))
        elif named is None and key not in others:
            unattributed += 1
    return alerts, unattributed


def _alert(key: str, record: AlertRecord, group: dict[str, str] | None) -> dict[str, Any]:
    state = record.alert
    since = state.active_since_ms
    return {
        "fingerprint": key,
        "group": group,
        "phase": state.phase.value,
        "active_since": format_ts(since) if since is not None else None,
        "active_since_ms": since,
        "last_eval_ms": state.last_eval_ms,
        "keep_firing_since_ms": state.keep_firing_since_ms,
        "cooldowns": {str(i): ms for i, ms in record.cooldowns.items()},
    }


# --- the command ----------------------------------------------------------------------


def run_explain(
    settings: OpsrulesSettings,
    rule_id: str,
    rules_dir: Path,
    *,
    as_json: bool = False,
    live: bool = False,
    timeout_s: float = 10.0,
) -> int:
    """Print the explanation; 1 when the rule is unknown, 2 (raised) on broken rules or
    an unreachable broker."""
    if not rules_dir.exists():
        raise RulesError([f"{rules_dir}: no such directory (OPSRULES_RULES_DIR or --rules)"])
    loaded = load_rules([rules_dir])
    if not loaded.ok:
        raise RulesError([str(error) for error in loaded.errors])
    by_id = {item.rule.id: item for item in loaded.rules}
    item = by_id.get(rule_id)
    if item is None:
        hint = did_you_mean(rule_id, sorted(by_id))
        print(f"opsrules: no rule '{rule_id}' in {rules_dir}{hint}", file=sys.stderr)
        return 1
    rulebook = compile_rulebook(loaded.rules, matcher=settings.matcher, policies=loaded.policies)
    info = explain(item, rulebook, settings)
    if live:
        topic, alerts, unattributed = asyncio.run(live_alerts(settings, rule_id, timeout_s))
        info.update(alerts_topic=topic, alerts=alerts, unattributed=unattributed)
        if item.rule.slo is not None:
            info["budgets"] = asyncio.run(live_budgets(settings, item.rule.slo.slo))
    if as_json:
        print(json.dumps(info))
    else:
        for line in text_lines(info):
            print(line)
    return 0
