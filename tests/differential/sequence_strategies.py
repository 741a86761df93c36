"""Sequence rules (rules/README.md "### sequence") and the mixed streams they join.

A rule joins two or three steps on ``host``, each on an input source (security, logs,
events, health) with a match on one field, so that a record is one step at most (two
steps on one source test different values): security events carry it in ``host.name``
(a ``fields`` mapping), health checks may be joined on ``instance``. Streams are the
records of those topics in time order on a grid of whole seconds, with two or three
hosts, and records without their join value.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.differential.runs import T0

S = 1000
HOSTS = ["web-1", "web-2"]
TIMEFRAMES = ["5s", "10s", "20s", "30s", "1m", "1m"]
GRACES = [None, None, "0s", "5s", "10s", "30s"]

# Per role: the source, the field a step tests and its values.
STEP_FIELDS = {
    "security": ("security", "event.category", ["authentication", "intrusion_detection"]),
    "logs": ("log", "severity_text", ["ERROR", "WARN"]),
    "events": ("event", "type", ["deploy", "restart"]),
    "health": ("health", "status", ["fail", "warn"]),
}
ROLES = list(STEP_FIELDS)

Rule = dict[str, Any]
Record = tuple[str, dict[str, Any]]


@st.composite
def sequence_rule(draw: st.DrawFn, rule_id: str) -> Rule:
    """A sequence of 2 or 3 distinct steps; the tested values of its sources come in
    :func:`sequence_stream`'s records."""
    choices = [(role, value) for role, (_, _, values) in STEP_FIELDS.items() for value in values]
    picked = draw(st.lists(st.sampled_from(choices), min_size=2, max_size=3, unique=True))
    group_by = draw(st.sampled_from([["host"], ["host"], ["host"], []]))
    steps = []
    for role, value in picked:
        source, path, _ = STEP_FIELDS[role]
        step: dict[str, Any] = {"source": source, "match": f'{path} == "{value}"'}
        if not group_by:
            pass
        elif role == "security":
            step["fields"] = {"host": "host.name"}
        elif role == "health" and draw(st.booleans()):
            step["fields"] = {"host": "instance"}
        steps.append(step)
    block: dict[str, Any] = {"timeframe": draw(st.sampled_from(TIMEFRAMES)), "steps": steps}
    ordered = draw(st.sampled_from([None, True, False]))
    if ordered is not None:
        block["ordered"] = ordered
    grace = draw(st.sampled_from(GRACES))
    if grace is not None:
        block["grace"] = grace
    rule: Rule = {"id": rule_id, "type": "sequence", "source": "signal"}
    rule["group_by"] = group_by
    rule["sequence"] = block
    keep = draw(st.sampled_from([None, None, "0s", "10s", "1m"]))
    if keep is not None:
        rule["keep_firing_for"] = keep
    if draw(st.integers(0, 4)) == 0:
        rule["actions"] = [{"type": "alert", "cooldown": draw(st.sampled_from(["5s", "30s"]))}]
    return rule


@st.composite
def sequence_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A rule file of one or two sequence rules."""
    count = draw(st.integers(1, 2))
    return [{"rules": [draw(sequence_rule(f"rule_{n}")) for n in range(count)]}]


def _record(draw: st.DrawFn, role: str, ts_ms: int, host: str | None) -> dict[str, Any]:
    _, _, values = STEP_FIELDS[role]
    value = draw(st.sampled_from([*values, *values, *values, "pass" if role == "health" else "x"]))
    record: dict[str, Any] = {"ts": ts_ms}
    if role == "security":
        record["event"] = {"category": value}
        if host is not None:
            record["host"] = {"name": host}
    elif role == "logs":
        record |= {"severity_text": value, "severity_number": 17, "body": "boom"}
    elif role == "events":
        record |= {"type": value, "entity": "checkout"}
    else:
        instance = host if host is not None and draw(st.booleans()) else "web-9"
        record |= {"service": "checkout", "instance": instance, "status": value}
    if role != "security" and host is not None:
        record["host"] = host
    return record


def step_roles(files: list[dict[str, Any]]) -> list[str]:
    """The topics the steps of ``files`` read."""
    sources = {step["source"] for f in files for r in f["rules"] for step in r["sequence"]["steps"]}
    return [role for role in ROLES if STEP_FIELDS[role][0] in sources]


@st.composite
def sequence_stream(draw: st.DrawFn, roles: list[str], max_records: int = 30) -> list[Record]:
    """Records of the topics ``roles`` in time order: bursts, steps of a few seconds and
    gaps longer than most timeframes; one in six without a host."""
    steps = st.sampled_from([0, 0, 1, 1, 2, 3, 5, 5, 10, 20, 60])
    hosts = draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True))
    records: list[Record] = []
    second = draw(st.integers(0, 59))
    for _ in range(draw(st.integers(2, max_records))):
        second += draw(steps)
        role = draw(st.sampled_from(roles))
        host = draw(st.sampled_from(hosts)) if draw(st.integers(0, 5)) > 0 else None
        records.append((role, _record(draw, role, T0 + second * S, host)))
    return records
