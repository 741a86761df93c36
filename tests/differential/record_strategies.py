"""Rules on single records (no window) from the grammar of rules/README.md, with what
trips rule authors: ECS arrays and missing fields, macros and lists, exceptions in both
forms, ``keep_firing_for``, ``cooldown``, verified heals; and security and log records
for them.

Event times are whole seconds; records mostly come in time order, some out of it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.differential.runs import T0
from tests.differential.strategies import verified_heal

S = 1000
IPS = ["10.0.0.1", "10.0.0.2", "203.0.113.9"]
USERS = ["alice", "bob", "svc-backup"]
CATEGORIES = ["authentication", "iam", "network", "web"]
SERVICES = ["api", "billing"]

Rule = dict[str, Any]
Record = tuple[str, dict[str, Any]]

# Shared by every file: macros use lists and other macros.
MACROS = {
    "failed": 'event.outcome == "failure"',
    "auth": 'event.category == "authentication"',
    "failed_auth": "auth and failed",
    "from_outside": "not (source.ip in internal_ips)",
    "loud": "severity_number >= 17",
}
LISTS = {"internal_ips": ["10.0.0.1", "10.0.0.2"], "robots": ["svc-backup"], "bad": [17, 21]}

SECURITY_ATOMS = [
    "failed",
    "auth",
    "failed_auth",
    "from_outside",
    'event.category in ["iam", "network"]',
    'event.category != "web"',
    'event.category not in ["web", "iam"]',
    'event.category startswith "auth"',
    'event.category matches "^i"',
    'event.category contains "iam"',
    "user.name in robots",
    "user.name not in robots",
    'user.name != "alice"',
    "not (user.name != null)",
    'source.ip endswith ".9"',
    "event.severity > 3",
    "event.severity * 2 >= 8",
    "event.severity / 0 > 1",
    '"10" > 9',
]
LOG_ATOMS = [
    "loud",
    "severity_number in bad",
    'severity_text == "ERROR"',
    "severity_number not in bad",
    'body contains "timeout"',
    'body matches "time.ut"',
    'body matches "^error"',
    'service == "api"',
    "attributes.code >= 500",
    "attributes.code % 100 == 4",
    "not (attributes.code != null)",
    'attributes.tags contains "retry"',
]


@st.composite
def expression(draw: st.DrawFn, atoms: list[str]) -> str:
    parts = draw(st.lists(st.sampled_from(atoms), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([" and ", " or "]))
    text = joiner.join(f"({p})" for p in parts)
    return f"not ({text})" if draw(st.integers(0, 5)) == 0 else text


@st.composite
def exception(draw: st.DrawFn, source: str) -> Any:
    if source == "security":
        return draw(
            st.one_of(
                st.sampled_from(["user.name in robots", 'source.ip == "203.0.113.9"']),
                st.fixed_dictionaries(
                    {"user.name": st.one_of(st.sampled_from(USERS), st.just(["alice", "bob"]))}
                ),
                st.just({"source.ip": "10.0.0.1", "user.name": ["bob", "svc-backup"]}),
            )
        )
    return draw(
        st.one_of(
            st.just('body contains "health"'),
            st.fixed_dictionaries({"service": st.sampled_from(SERVICES)}),
            st.just({"severity_number": [21, 24]}),
        )
    )


@st.composite
def record_rule(draw: st.DrawFn, rule_id: str) -> Rule:
    source = draw(st.sampled_from(["security", "log"]))
    atoms = SECURITY_ATOMS if source == "security" else LOG_ATOMS
    rule: Rule = {"id": rule_id, "source": source, "match": draw(expression(atoms))}
    if draw(st.booleans()):
        rule["condition"] = draw(expression(atoms))
    if draw(st.booleans()):
        rule["exceptions"] = draw(st.lists(exception(source), min_size=1, max_size=2))
    group_by = ["source.ip"] if source == "security" else ["service"]
    rule["group_by"] = draw(st.sampled_from([group_by, []]))
    keep = draw(st.sampled_from([None, "0s", "10s", "1m"]))
    if keep is not None:
        rule["keep_firing_for"] = keep
    actions: list[dict[str, Any]] = [{"type": "alert"}]
    cooldown = draw(st.sampled_from([None, None, "5s", "30s", "2m"]))
    if cooldown is not None:
        actions[0]["cooldown"] = cooldown
    if draw(st.booleans()):
        actions.append({"type": "incident", "cooldown": draw(st.sampled_from(["10s", "1m"]))})
    if draw(st.booleans()):
        actions.append(draw(verified_heal()))
    rule["actions"] = actions
    return rule


@st.composite
def record_rule_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    rules = [draw(record_rule(f"rule_{n}")) for n in range(draw(st.integers(1, 3)))]
    return [{"macros": MACROS, "lists": LISTS}, {"rules": rules}]


def _maybe(draw: st.DrawFn, record: dict[str, Any], key: str, value: Any) -> None:
    if draw(st.integers(0, 4)):  # a field is missing one time in five
        record[key] = value


@st.composite
def security_record(draw: st.DrawFn, ts_ms: int) -> dict[str, Any]:
    event: dict[str, Any] = {}
    category = draw(
        st.one_of(
            st.sampled_from(CATEGORIES),
            st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True),
        )
    )
    _maybe(draw, event, "category", category)
    _maybe(draw, event, "outcome", draw(st.sampled_from(["failure", "success"])))
    _maybe(draw, event, "severity", draw(st.integers(0, 8)))
    record: dict[str, Any] = {"ts": ts_ms, "event": event}
    record["source"] = {"ip": draw(st.sampled_from(IPS))}  # the key: always there
    _maybe(draw, record, "user", {"name": draw(st.sampled_from(USERS))})
    return record


@st.composite
def log_record(draw: st.DrawFn, ts_ms: int) -> dict[str, Any]:
    record: dict[str, Any] = {"ts": ts_ms, "service": draw(st.sampled_from(SERVICES))}
    # One of the two is required, and the other is derived from it (README "Topics").
    number, text = draw(st.sampled_from([(9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL")]))
    record |= {"severity_number": number, "severity_text": text}
    bodies = ["timeout calling db", "error: timeout", "health ok", "retry 3", "timeaut"]
    _maybe(draw, record, "body", draw(st.sampled_from(bodies)))
    attributes: dict[str, Any] = {}
    _maybe(draw, attributes, "code", draw(st.sampled_from([200, 404, 500, 503, "500"])))
    tags = st.lists(st.sampled_from(["retry", "retrying", "slow"]), max_size=2, unique=True)
    _maybe(draw, attributes, "tags", draw(tags))
    record["attributes"] = attributes
    return record


@st.composite
def record_stream(draw: st.DrawFn, max_records: int = 30) -> list[Record]:
    """Security and log records, mostly in time order; duplicates and a few out of
    order (a rule on single records fires on each in the order it arrives)."""
    records: list[Record] = []
    second = 0
    for _ in range(draw(st.integers(1, max_records))):
        second += draw(st.sampled_from([0, 1, 2, 5, 10, 30, 60, 90]))
        ts_ms = T0 + second * S
        if draw(st.booleans()):
            records.append(("security", draw(security_record(ts_ms))))
        else:
            records.append(("logs", draw(log_record(ts_ms))))
        if draw(st.integers(0, 9)) == 0:
            records.append(records[-1])  # sent twice
    return records
