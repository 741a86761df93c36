"""Rules of the types beyond thresholds (rules/README.md "Rule types"), and security event
streams for them.

Every rule reads ``source: security`` and keys by ``source.ip`` (the field the topic is
keyed by) or by nothing; streams are one partition of security events on a grid of whole
seconds, with few distinct addresses, users and ports, so that keys, terms and values
repeat. A record may lack ``user.name`` or ``destination.port`` (missing fields).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.differential.runs import T0

S = 1000
KINDS = ["frequency", "flatline", "change", "new_term", "cardinality", "spike"]
ADDRESSES = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
USERS = ["root", "ana", "svc"]
PORTS = [22, 80, 443, 8080]
CATEGORIES = ["network", "authentication"]
TIMEFRAMES = ["5s", "10s", "20s", "30s", "1m"]
GRACES = [None, None, "0s", "5s", "10s", "30s"]

Rule = dict[str, Any]
Record = tuple[str, dict[str, Any]]

MATCHES = st.sampled_from(
    [
        "true",
        "true",
        'event.category == "network"',
        'event.category in ["network", "authentication"]',
        "destination.port != 8080",
        'not (user.name == "svc")',
    ]
)
EXCEPTIONS: st.SearchStrategy[list[Any] | None] = st.sampled_from(
    [None, None, None, [{"user.name": "svc"}], ['source.ip == "192.0.2.3"'], [{"user.name": []}]]
)


def frequency(draw: st.DrawFn) -> dict[str, Any]:
    return {"at_least": draw(st.integers(1, 5)), "timeframe": draw(st.sampled_from(TIMEFRAMES))}


def flatline(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {"timeframe": draw(st.sampled_from(TIMEFRAMES))}
    if draw(st.booleans()):
        block["fewer_than"] = draw(st.integers(1, 3))
    return block


def change(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {"field": draw(st.sampled_from(["user.name", "destination.port"]))}
    if draw(st.booleans()):
        block["timeframe"] = draw(st.sampled_from(TIMEFRAMES))
    return block


def new_term(draw: st.DrawFn) -> dict[str, Any]:
    fields = draw(
        st.sampled_from([["user.name"], ["destination.port"], ["user.name", "event.category"]])
    )
    block: dict[str, Any] = {
        "fields": fields,
        "learning": draw(st.sampled_from(["5s", "20s", "1m"])),
    }
    if draw(st.booleans()):
        block["max_terms"] = draw(st.integers(1, 3))
    return block


def cardinality(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {
        "field": draw(st.sampled_from(["destination.port", "user.name"])),
        "timeframe": draw(st.sampled_from(TIMEFRAMES)),
    }
    if draw(st.booleans()):
        block["above"] = draw(st.integers(0, 3))
    else:
        block["below"] = draw(st.integers(1, 3))
    return block


def spike(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {
        "timeframe": draw(st.sampled_from(["10s", "20s", "30s"])),
        "ratio": draw(st.sampled_from([1.5, 2, 3])),
        "direction": draw(st.sampled_from(["up", "down", "both"])),
    }
    for name, values in (("min_previous", [0, 1, 2, 3]), ("min_current", [0, 1, 2])):
        if draw(st.booleans()):
            block[name] = draw(st.sampled_from(values))
    return block


BLOCKS = {
    "frequency": frequency,
    "flatline": flatline,
    "change": change,
    "new_term": new_term,
    "cardinality": cardinality,
    "spike": spike,
}
TAKES_GRACE = {"flatline", "cardinality", "spike", "frequency"}


@st.composite
def typed_rule(draw: st.DrawFn, kind: str, rule_id: str) -> Rule:
    rule: Rule = {"id": rule_id, "type": kind, "source": "security", "match": draw(MATCHES)}
    block = BLOCKS[kind](draw)
    grace = draw(st.sampled_from(GRACES))
    if kind in TAKES_GRACE and grace is not None:
        block["grace"] = grace
    rule[kind] = block
    rule["group_by"] = draw(st.sampled_from([["source.ip"], ["source.ip"], []]))
    exceptions = draw(EXCEPTIONS)
    if exceptions is not None:
        rule["exceptions"] = exceptions
    keep = draw(st.sampled_from([None, None, "0s", "10s", "1m"]))
    if keep is not None:
        rule["keep_firing_for"] = keep
    if draw(st.integers(0, 4)) == 0:
        cooldown = draw(st.sampled_from(["5s", "30s"]))
        rule["actions"] = [{"type": "alert", "cooldown": cooldown}]
    return rule


@st.composite
def typed_files(draw: st.DrawFn, kind: str) -> list[dict[str, Any]]:
    """A rule file of one or two rules of ``kind``."""
    count = draw(st.integers(1, 2))
    return [{"rules": [draw(typed_rule(kind, f"rule_{n}")) for n in range(count)]}]


@st.composite
def security_stream(draw: st.DrawFn, max_records: int = 30) -> list[Record]:
    """Security events in time order: bursts (several in one second), steps of a few
    seconds, and gaps longer than most timeframes (silences, empty windows)."""
    steps = st.sampled_from([0, 0, 1, 1, 2, 3, 5, 5, 10, 15, 20, 30, 60, 90])
    addresses = draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3, unique=True))
    users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=3, unique=True))
    ports = draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=4, unique=True))
    records: list[Record] = []
    second = draw(st.integers(0, 59))
    for _ in range(draw(st.integers(1, max_records))):
        second += draw(steps)
        record: dict[str, Any] = {
            "ts": T0 + second * S,
            "event": {"category": draw(st.sampled_from(CATEGORIES))},
            "source": {"ip": draw(st.sampled_from(addresses))},
        }
        if draw(st.integers(0, 5)) > 0:
            record["user"] = {"name": draw(st.sampled_from(users))}
        if draw(st.integers(0, 5)) > 0:
            record["destination"] = {"port": draw(st.sampled_from(ports))}
        records.append(("security", record))
    return records
