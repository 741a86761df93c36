"""Hostile inputs for the fuzz suite, shared by every target.

JSON is written by hand (:func:`to_json`) rather than by an encoder, so that what no
encoder writes can be sent: NaN and Infinity literals, 1e400, lone surrogates (escaped,
and as raw UTF-8 bytes), NUL bytes, nesting thousands deep. Most cases start from a
valid record of the target's source and mutate it (a field set to a hostile value or
removed, the record wrapped in an array, its bytes cut or flipped), so the fuzzer gets
past the parser into validation, routing and the rules; the rest are hostile documents
that are not records at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from processors.rules.loader import load_rules

NOW_MS = 1_795_899_240_000  # 2026-11-28T20:54:00Z, "now" of every target
REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"
RULE_IDS = sorted(item.rule.id for item in load_rules([RULES_DIR]).rules)

# Deep nesting around the limits that matter: ours, orjson's writer (254) and reader
# (1,024), Python's recursion limit (1,000).
NESTING_DEPTHS = [31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 253, 254, 255, 999, 1024, 5000]


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written as is: ``NaN``, ``1e400``, ``"\\ud800"``, ``[[[…]]]``."""

    text: bytes


def to_json(value: Any) -> bytes:
    """``value`` as JSON text; :class:`Raw` tokens (also as keys) are written verbatim,
    strings as UTF-8 with lone surrogates kept (as the raw bytes ``\\xed\\xa0\\x80``)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (
            to_json(k if isinstance(k, Raw) else str(k)) + b":" + to_json(v)
            for k, v in value.items()
        )
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list | tuple):
        return b"[" + b",".join(to_json(v) for v in value) + b"]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()  # None, bool, int, float (NaN and Infinity too)


# --- values ------------------------------------------------------------------------------

HOSTILE_TOKENS = [
    Raw(b"NaN"),
    Raw(b"Infinity"),
    Raw(b"-Infinity"),
    Raw(b"1e400"),
    Raw(b"-1e400"),
    Raw(b"1e-400"),
    Raw(b"-0"),
    Raw(b"1" + b"0" * 30),  # past 64 bits
    Raw(b"-" + b"9" * 400),
    Raw(b"9" * 5000),  # past Python's 4,300-digit limit for int()
    Raw(b"0." + b"0" * 400 + b"1"),
    Raw(b'"\\ud800"'),  # a lone surrogate, escaped
    Raw(b'"x\\udfffy"'),
    Raw(b'"\\ud83d\\ude00"'),  # a valid pair
    Raw(b'"\xed\xa0\x80"'),  # a lone surrogate as raw bytes (not UTF-8)
    Raw(b'"\\u0000"'),
    Raw(b'"a\x00b"'),  # a raw NUL inside a string (a control character)
    Raw(b"\x00"),
    Raw(b'"\xff\xfe"'),
    Raw(b'"\xc3"'),  # a truncated UTF-8 sequence
    Raw(b"tru"),
    Raw(b"[1,]"),
    Raw(b'{"a":1,}'),
    Raw(b"{}"),
    Raw(b"[]"),
    Raw(b"[{}]"),
]

NUMBERS_AS_STRINGS = ["0.95", "17", " 17 ", "1e400", "NaN", "nan", "Infinity", "-inf", "0x10"]
NUMBERS_AS_STRINGS += ["1795899240", "1795899240000", "١٧", "1_000", "", "-0", "true"]

KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["ts", "ts_ms", "name", "value", "host", "labels", "samples", "a.b", ""]),
    st.sampled_from(["event.category", "source.ip", "host.name", "rules", "record", ".", ".."]),
    st.sampled_from([Raw(b'"\\ud800"'), Raw(b'"\xed\xa0\x80"'), Raw(b'"k\\u0000"')]),
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and ±Infinity included: written as literals
    st.text(max_size=24),
    st.sampled_from(NUMBERS_AS_STRINGS),
)


def deep_nesting(depth: int, kind: str) -> Raw:
    """``depth`` arrays or objects inside each other (built flat: no recursion here)."""
    if kind == "array":
        return Raw(b"[" * depth + b"]" * depth)
    if kind == "object":
        return Raw(b'{"a":' * depth + b"1" + b"}" * depth)
    return Raw(b'[{"a":' * (depth // 2) + b"1" + b"}]" * (depth // 2))  # mixed


DEEP = st.builds(
    deep_nesting,
    st.one_of(st.sampled_from(NESTING_DEPTHS), st.integers(1, 6000)),
    st.sampled_from(["array", "object", "mixed"]),
)

HUGE_MAPS = st.builds(
    lambda n, value: {f"k{i}": value for i in range(n)},
    st.sampled_from([1_000, 5_000, 20_000]),
    st.sampled_from(["v", 1, "x" * 200]),
)

LONG_STRINGS = st.builds(lambda n, c: c * n, st.sampled_from([256, 1_000, 65_536]), st.just("x"))

NESTED = st.recursive(
    st.one_of(SCALARS, st.sampled_from(HOSTILE_TOKENS)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)

HOSTILE_VALUES = st.one_of(
    SCALARS,
    SCALARS,
    st.sampled_from(HOSTILE_TOKENS),
    st.sampled_from(HOSTILE_TOKENS),
    NESTED,
    DEEP,
    HUGE_MAPS,
    LONG_STRINGS,
)


# --- timestamps ----------------------------------------------------------------------------


def _rfc3339(ms: int, offset_minutes: int, zulu: bool) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone)
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if zulu and offset_minutes == 0 else text


OFFSETS_MINUTES = st.one_of(
    st.sampled_from([0, 60, -300, 330, 345, 1439, -1439]), st.integers(-1439, 1439)
)


def _near_now(delta_ms: int, unit: str, offset: int) -> Any:
    """``NOW_MS + delta_ms`` in ``unit``: how a producer might write it."""
    ms = NOW_MS + delta_ms
    return {
        "s": ms // 1000,
        "s_float": ms / 1000,
        "ms": ms,
        "ms_float": float(ms),
        "us": ms * 1000,  # not an accepted unit: read as nanoseconds, far in the past
        "ns": ms * 1_000_000 + 123_456,
        "ns_float": ms * 1e6,
        "rfc3339": _rfc3339(ms, offset, zulu=True),
        "rfc3339_offset": _rfc3339(ms, offset, zulu=False),
        "string_number": str(ms // 1000),
    }[unit]


NEAR_NOW = st.builds(
    _near_now,
    st.one_of(st.integers(-900_000, 400_000), st.integers(-(10**10), 10**10)),
    st.sampled_from(
        [
            "s",
            "s_float",
            "ms",
            "ms_float",
            "us",
            "ns",
            "ns_float",
            "rfc3339",
            "rfc3339_offset",
            "string_number",
        ]
    ),
    OFFSETS_MINUTES,
)

ODD_TIME_STRINGS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+23:59",
    "2026-11-28T20:54:00+24:00",
    "2026-11-28T20:54:00+99:99",
    "2026-11-28T20:54:00",  # no zone
    "2026-11-28T20:54:00.123456789Z",
    "2026-11-28t20:54:00z",
    "2026-11-28 20:54:00+00:00",
    "2026-02-30T00:00:00Z",
    "20261128T205400Z",
    "2026-W48-6T20:54:00Z",
    "1969-12-31T23:59:59.999Z",
    "+002026-11-28T20:54:00Z",
    "\ud800",
    "2026-11-28T20:54:00\x00Z",
    "",
    " ",
]

HOSTILE_TIMESTAMPS = st.one_of(
    st.floats(min_value=0, max_value=1e30),
    st.integers(min_value=0, max_value=10**30),
    st.sampled_from([0, 1, 1e11, 1e14, 1e30, 10**30, -1, -1e30, 2**63, 2**64, 0.5, 5e-324]),
    st.floats(),
    st.integers(),
    st.builds(
        _rfc3339,
        st.integers(-62_135_596_800_000 + 86_400_000, 253_402_300_799_000 - 86_400_000),
        OFFSETS_MINUTES,
        st.booleans(),
    ),
    st.sampled_from(ODD_TIME_STRINGS),
    st.sampled_from(HOSTILE_TOKENS),
    st.sampled_from(NUMBERS_AS_STRINGS),
    st.sampled_from([True, False, None, [], {}, [NOW_MS], {"ts": NOW_MS}]),
)

TIMESTAMPS = st.one_of(NEAR_NOW, NEAR_NOW, HOSTILE_TIMESTAMPS)


# --- valid records of every source ------------------------------------------------------

HOSTS = st.sampled_from(["web-1", "web-2", "db-1", "h"])
SERVICES = st.sampled_from(["checkout", "search", "s"])
METRIC_NAMES = st.sampled_from(
    [
        "system.cpu.utilization",
        "system.memory.utilization",
        "system.filesystem.utilization",
        "host.ping.loss",
        "app.queue.depth",
        "app.worker.restarts",
        "x",
    ]
)
METRIC_VALUES = st.one_of(
    st.sampled_from([0.0, 0.5, 0.91, 0.97, 1.0, 12_873.0, 100.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
LABELS = st.dictionaries(
    st.sampled_from(["cpu", "state", "device", "team"]), st.text(max_size=8), max_size=3
)
SMALL_TS = st.integers(-600_000, 200_000).map(lambda d: (NOW_MS + d) // 1000)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_ABSENT), strategy)


_ABSENT = object()


def _record(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict strategy; fields drawn as :data:`_ABSENT` are left out."""
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not _ABSENT}
    )


METRIC = _record(
    ts=SMALL_TS,
    name=METRIC_NAMES,
    value=METRIC_VALUES,
    host=HOSTS,
    service=_maybe(SERVICES),
    unit=_maybe(st.sampled_from(["1", "By"])),
    labels=_maybe(LABELS),
)
BATCH = _record(
    ts=SMALL_TS,
    host=HOSTS,
    service=_maybe(SERVICES),
    labels=_maybe(LABELS),
    samples=st.lists(
        _record(
            name=METRIC_NAMES,
            value=METRIC_VALUES,
            labels=_maybe(LABELS),
            ts=_maybe(SMALL_TS),
        ),
        min_size=1,
        max_size=6,
    ),
)
LOG = _record(
    ts=SMALL_TS,
    host=_maybe(HOSTS),
    service=SERVICES,
    severity_text=_maybe(st.sampled_from(["ERROR", "warning", "FATAL", "info", "crit"])),
    severity_number=st.integers(1, 24),
    body=st.sampled_from(["boom", "timeout after 30 ms", ""]),
    attributes=_maybe(
        st.dictionaries(st.sampled_from(["http.status_code", "a"]), SCALARS, max_size=2)
    ),
)
SECURITY = _record(
    ts=SMALL_TS,
    **{
        "event.category": st.sampled_from(
            ["authentication", "process", "network", "intrusion_detection"]
        ),
        "event.outcome": _maybe(st.sampled_from(["failure", "success"])),
        "event.type": _maybe(st.sampled_from([["start"], ["end"], "start"])),
        "source.ip": _maybe(st.sampled_from(["192.0.2.10", "198.51.100.7", "::1"])),
        "destination.port": _maybe(st.integers(0, 65_535)),
        "host.name": _maybe(HOSTS),
        "user.name": _maybe(st.sampled_from(["ana", "root"])),
        "process.name": _maybe(st.sampled_from(["sshd", "nc"])),
    },
)
HEALTH = _record(
    ts=SMALL_TS,
    service=SERVICES,
    instance=HOSTS,
    check=_maybe(st.sampled_from(["heartbeat", "http"])),
    status=st.sampled_from(["pass", "warn", "fail"]),
    latency_ms=_maybe(st.floats(min_value=0, max_value=1e6)),
    host=_maybe(HOSTS),
)
EVENT = _record(
    ts=SMALL_TS,
    type=st.sampled_from(["deploy", "leader_elected", "backup"]),
    entity=st.sampled_from(["checkout", "pg-main"]),
    status=_maybe(st.sampled_from(["succeeded", "failed"])),
    attributes=_maybe(st.fixed_dictionaries({"leader": HOSTS})),
)
SIGNAL_VALUES = st.dictionaries(
    st.sampled_from(
        [
            "count",
            "mean",
            "max",
            "min",
            "sum",
            "value",
            "score",
            "expected",
            "low",
            "high",
            "direction",
            "p99",
            "rate",
        ]
    ),
    st.one_of(st.none(), METRIC_VALUES),
    max_size=6,
)
SIGNAL = _record(
    id=st.text(min_size=1, max_size=16),
    kind=st.sampled_from(["window", "record", "anomaly", "match", "step"]),
    key=HOSTS,
    source=_maybe(st.sampled_from(["metric", "signal", "security", "health", "log", "event"])),
    rules=st.lists(st.sampled_from([*RULE_IDS, "no_such_rule"]), max_size=3, unique=True),
    group=st.one_of(
        st.fixed_dictionaries({"host": HOSTS}),
        st.fixed_dictionaries({"service": SERVICES}),
        st.fixed_dictionaries(
            {"metric": st.just("system.cpu.utilization"), "host": HOSTS, "service": SERVICES}
        ),
        st.dictionaries(st.sampled_from(["host", "entity", "source.ip"]), HOSTS, max_size=2),
    ),
    ts_ms=st.integers(-900_000, 200_000).map(lambda d: NOW_MS + d // 60_000 * 60_000),
    window_start_ms=_maybe(st.integers(-900_000, 0).map(lambda d: NOW_MS + d)),
    values=SIGNAL_VALUES,
    record=_maybe(st.one_of(METRIC, SECURITY, LOG)),
    sequence=_maybe(st.just("cpu_anomaly_then_intrusion")),
)
ACTION_RESULT = _record(
    ts=SMALL_TS,
    action_id=st.text(min_size=1, max_size=16),
    status=st.sampled_from(["succeeded", "failed", "skipped"]),
    executor=_maybe(st.text(max_size=8)),
    message=_maybe(st.text(max_size=16)),
)
MATCHERS = st.one_of(
    st.sampled_from(["host=web-1", 'env!="prod"', 'job=~"api|web"', 'host!~"db-.*"', "=x"]),
    st.sampled_from(['a=~"(a+)+$"', 'a=~"(?P<x>a)(?P=x)"', 'a=~"a{1000}{1000}"', 'a=~"\\\\"']),
    st.text(max_size=20),
)
RFC3339 = st.builds(
    _rfc3339, st.integers(0, 253_402_300_799_000 - 86_400_000), OFFSETS_MINUTES, st.booleans()
)
SILENCE = _record(
    id=st.text(min_size=1, max_size=16),
    matchers=st.lists(MATCHERS, min_size=1, max_size=3),
    starts_at=RFC3339,
    ends_at=RFC3339,
    created_by=st.text(max_size=8),
    comment=st.text(min_size=1, max_size=16),
    created_at=RFC3339,
)
DECISION = _record(
    action_id=st.text(min_size=1, max_size=16),
    action_type=st.sampled_from(["alert", "heal", "scale", "incident"]),
    action_index=st.integers(0, 5),
    status=st.sampled_from(["firing", "resolved"]),
    outcome=st.sampled_from(["sent", "suppressed", "dry_run"]),
    reason=_maybe(st.sampled_from(["silenced", "budget", "cooldown", None])),
    because=st.sampled_from(["firing", "resolved", "unmuted", "escalation"]),
    rule_id=st.sampled_from(RULE_IDS),
    rule_version=st.text(max_size=12),
    fingerprint=st.text(max_size=12),
    target=_maybe(HOSTS),
    group=st.fixed_dictionaries({"host": HOSTS}),
    values=_maybe(SIGNAL_VALUES),
    suppressed_by=_maybe(st.dictionaries(st.text(max_size=6), SCALARS, max_size=2)),
    detail=_maybe(st.dictionaries(st.text(max_size=6), SCALARS, max_size=2)),
    ts=RFC3339,
)

# source of the ingest layer (streams.ingest.SOURCES values, and "batch" for a metric
# batch, which is decoded as source "metric") → valid records
VALID_INPUTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "metric": METRIC,
    "batch": BATCH,
    "log": LOG,
    "security": SECURITY,
    "health": HEALTH,
    "event": EVENT,
    "signal": SIGNAL,
}


# --- mutations ---------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A valid record with up to three hostile changes."""
    record: Any = draw(valid)
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(record, dict):
            break
        record = dict(record)
        known = sorted(record, key=repr)  # keys may be Raw tokens
        key = draw(st.one_of(st.sampled_from(known), KEYS)) if known else draw(KEYS)
        change = draw(
            st.sampled_from(["set", "set", "ts", "delete", "wrap", "flip_shape", "sample"])
        )
        if change == "set":
            record[key] = draw(HOSTILE_VALUES)
        elif change == "ts":
            record[draw(st.sampled_from(["ts", "ts", "ts_ms"]))] = draw(TIMESTAMPS)
        elif change == "delete":
            record.pop(key, None)
        elif change == "wrap":
            record = [record]  # an array where an object belongs
        elif change == "flip_shape" and isinstance(record.get(key), dict):
            record[key] = list(record[key].items())  # an array where an object belongs
        elif change == "flip_shape" and isinstance(record.get(key), list):
            record[key] = dict(enumerate(record[key]))  # an object where an array belongs
        elif change == "sample" and isinstance(record.get("samples"), list) and record["samples"]:
            samples = list(record["samples"])
            index = draw(st.integers(0, len(samples) - 1))
            if isinstance(samples[index], dict):
                sample = dict(samples[index])
                sample[draw(st.sampled_from(["name", "value", "ts", "ts_ms", "labels"]))] = draw(
                    st.one_of(HOSTILE_VALUES, TIMESTAMPS)
                )
                samples[index] = sample
            record["samples"] = samples
    return record


@st.composite
def byte_damage(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` truncated, or with a few bytes overwritten."""
    if not raw:
        return raw
    if draw(st.booleans()):
        return raw[: draw(st.integers(0, len(raw) - 1))]
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(
            st.one_of(st.integers(0, 255), st.sampled_from(list(b'"{}[],:\\\x00\xff')))
        )
    return bytes(data)


HOSTILE_DOCUMENTS = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [b"", b"null", b"0", b'""', b"[]", b"{}", b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00"]
    ),
    DEEP.map(to_json),
    NESTED.map(to_json),
    st.sampled_from(HOSTILE_TOKENS).map(to_json),
)


def record_bytes(source: str) -> st.SearchStrategy[bytes]:
    """Kafka values for ``source`` (a key of :data:`VALID_INPUTS`): mostly mutated valid
    records, some valid, some damaged at the byte level, some not records at all."""
    valid = VALID_INPUTS[source]
    return st.one_of(
        mutated(valid).map(to_json),
        mutated(valid).map(to_json),
        mutated(valid).map(to_json),
        valid.map(to_json),
        valid.map(to_json).flatmap(byte_damage),
        HOSTILE_DOCUMENTS,
    )


def padded_to(record: dict[str, Any], field: str, size: int) -> bytes:
    """``record`` as JSON of exactly ``size`` bytes, ``field`` padded with ``x``."""
    base = to_json({**record, field: ""})
    return to_json({**record, field: "x" * (size - len(base))})


# --- rule files and rule-test files (YAML) ------------------------------------------------
# JSON is YAML's flow style, so :func:`to_json` writes YAML too, and a :class:`Raw` token
# can be anything YAML allows where a value goes: anchors and aliases, tags, nesting.


def _plain(node: Any) -> Any:
    """A shipped file's YAML as plain dicts and lists, to be mutated."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _load_shipped(paths: list[Path]) -> list[tuple[str, Any]]:
    from ruamel.yaml import YAML

    return [(p.read_text(), _plain(YAML(typ="safe").load(p.read_text()))) for p in paths]


SHIPPED_RULE_FILES = _load_shipped(sorted(RULES_DIR.glob("*.yaml")))
SHIPPED_TEST_FILES = _load_shipped(sorted((RULES_DIR / "tests").glob("*.yaml")))


def laughs(levels: int, width: int) -> Raw:
    """A "billion laughs": each anchor holds ``width`` aliases of the one before, so the
    value stands for ``width ** levels`` strings."""
    items = [b'"l0": &l0 ["lol"]']
    for level in range(1, levels + 1):
        aliases = b",".join([b"*l%d" % (level - 1)] * width)
        items.append(b'"l%d": &l%d [%s]' % (level, level, aliases))
    return Raw(b"{" + b",".join(items) + b"}")


PATHOLOGICAL_REGEXES = [
    "(a+)+$",
    "(a|aa)*c",
    "(.*a){20}",
    "(x+x+)+y",
    "((a{100}){100}){100}",
    "a{1001}",
    "(?i)" + "[a-z]" * 2000,
    "(?P<n>a)(?P=n)",  # a backreference: not RE2
    "(?=a)b",  # lookahead: not RE2
    "(" * 2000 + ")" * 2000,
    "[" + "a-" * 3000 + "]",
    "\\C+",
    "(?s).{0,1000}.{0,1000}.{0,1000}",
    "\\p{Greek}+\\x{10FFFF}",
    "x" * 100_000,
    "\\",
    "[",
    "\ud800",
    "a\x00b",
]

EXPRESSIONS = st.one_of(
    st.sampled_from(
        [
            'name == "system.cpu.utilization"',
            "value > 0.9",
            'body matches "timeout after [0-9]+ ms"',
            'labels.state in ["used", "cached"]',
            "severity_number >= 17",
            "true",
            "value > 1e400",
            "value / 0 > 1",
            "-" * 3000 + "value",
            "not " * 3000 + "true",
            "(" * 5000 + "true" + ")" * 5000,
            " and ".join(["true"] * 5000),
            "value == null",
            "a.b.c.d.e.f.g.h",
            "cpu_utilization and not cpu_utilization",
        ]
    ),
    st.sampled_from(PATHOLOGICAL_REGEXES).map(lambda p: "body matches " + json.dumps(p)),
    st.text(max_size=40),
)

# Jinja2 in annotations and params (processors/rules/templates.py): the loader renders
# each against a sample, the decision tier against every alert.
TEMPLATES = [
    "CPU {{ value | percent }} on {{ host }}",
    "{{ (value * 100) | round(1) }} {{ host | upper }} {{ labels.cpu | default('?') }}",
    "{{ x",
    "{% if %}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ 'x' * 1000000000 }}",
    "{{ [0] * 1000000000 }}",
    "{% for i in range(1000000000) %}{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ host.__class__.__init__.__globals__ }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ value / 0 }} {{ host - 1 }} {{ none.x.y }}",
    "{% set x = [] %}{{ x.append(1) }}",
    "{{ '%s' % host }} {{ '{0}'.format(host) }}",
    "{{ host | join(host) | join(host) }}",
    '{{ "\\ud800" }}',
]

YAML_RAWS = [
    Raw(b"!!binary aGVsbG8="),
    Raw(b"!!set {a, b}"),
    Raw(b"!!omap [a: 1, b: 2]"),
    Raw(b"!!timestamp 2001-12-14t21:59:43.10-05:00"),
    Raw(b"!!float .nan"),
    Raw(b".inf"),
    Raw(b"-.inf"),
    Raw(b"!!python/object/apply:os.system [echo]"),
    Raw(b"!custom x"),
    Raw(b"&self [*self]"),  # an alias inside its own anchor
    Raw(b"*undefined"),
    Raw(b"? [a, b] : c"),
    Raw(b"{? [a, b] : c}"),
    Raw(b'{"a": 1, "a": 2}'),  # a duplicate key
    Raw(b"{<<: {a: 1}}"),
    Raw(b"0x_1"),
    Raw(b"0o777"),
    Raw(b"1_000"),
    Raw(b"99999999999999999999999999999d"),
    Raw(b"1e400s"),
    Raw(b'"\\ud800"'),
    Raw(b'"\\x00"'),
    Raw(b"'\t'"),
    Raw(b"|\n  block"),
    Raw(b"\x07"),
    Raw(b"@"),
    Raw(b"%YAML 1.1"),
    Raw(b"--- {}"),
    Raw(b"..."),
]

# ruamel.yaml reads about 40 KiB/s of flow-style YAML, and takes 0.6 s to find that
# flow nesting 1,000 deep is too deep: rule files get the small hostile values and
# only a few of those (records get the big ones).
YAML_VALUES = st.one_of(
    st.sampled_from(TEMPLATES),
    st.sampled_from(TEMPLATES).map(lambda t: {"summary": t}),
    SCALARS,
    SCALARS,
    st.sampled_from(HOSTILE_TOKENS),
    NESTED,
    st.builds(deep_nesting, st.sampled_from([63, 64, 65, 100, 300]), st.just("mixed")),
    st.builds(lambda n: {f"k{i}": "v" for i in range(n)}, st.sampled_from([100, 1_000])),
    EXPRESSIONS,
    st.sampled_from(YAML_RAWS),
    st.sampled_from(YAML_RAWS),
    st.builds(laughs, st.integers(1, 12), st.integers(2, 12)),
    st.sampled_from(["0 3 * * sun", "* * * * *", "61 25 32 13 8", "0 3 * * frx", "@reboot"]),
    st.sampled_from(
        ["Europe/Berlin", "UTC", "../../etc/passwd", "Nowhere/City", "Europe/Berlin\x00"]
    ),
    st.sampled_from(["5m", "0s", "1h30m", "-5m", "1d", "1w", "5", "5mm", "P1D", ""]),
    st.sampled_from(PATHOLOGICAL_REGEXES).map(lambda p: [f"host=~{json.dumps(p)}"]),
)

RULE_KEYS = ["id", "description", "source", "type", "match", "window", "condition", "for"]
RULE_KEYS += ["keep_firing_for", "group_by", "severity", "labels", "annotations", "actions"]
RULE_KEYS += ["exceptions", "tags", "enabled", "flapping", "maintenance", "dry_run"]
RULE_KEYS += ["frequency", "flatline", "change", "new_term", "cardinality", "spike", "sequence"]
FILE_KEYS = ["rules", "macros", "lists", "inhibit_rules", "maintenance_windows", "tests"]
FILE_KEYS += ["rule_files"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``node`` a value sits (dict keys and list indexes)."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


@st.composite
def mutated_yaml(draw: st.DrawFn, files: list[tuple[str, Any]]) -> bytes:
    """A shipped file (as flow-style YAML) with up to four hostile changes anywhere in it:
    a value replaced, a key added or removed."""
    _, data = draw(st.sampled_from(files))
    data = json.loads(json.dumps(data))  # a copy
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if not path:
            data = draw(st.one_of(YAML_VALUES, st.just(data)))
            continue
        if not isinstance(parent, dict | list):
            continue
        change = draw(st.sampled_from(["set", "set", "add", "delete"]))
        if change == "set":
            parent[path[-1]] = draw(YAML_VALUES)
        elif change == "add" and isinstance(parent, dict):
            key = draw(st.one_of(st.sampled_from(RULE_KEYS + FILE_KEYS), KEYS))
            parent[key] = draw(YAML_VALUES)
        elif change == "delete":
            del parent[path[-1]]
    return to_json(data)


def yaml_documents(files: list[tuple[str, Any]]) -> st.SearchStrategy[bytes]:
    """Rule files (or rule-test files): mostly mutated shipped ones, some damaged at the
    byte level, some not YAML at all, some bombs."""
    texts = st.sampled_from([text.encode() for text, _ in files])
    return st.one_of(
        mutated_yaml(files),
        mutated_yaml(files),
        mutated_yaml(files),
        texts.flatmap(byte_damage),
        texts,
        st.binary(max_size=200),
        st.builds(
            lambda n, kind: (
                (b"rules: " if kind == "flow" else b"")
                + (
                    b"[" * n + b"]" * n
                    if kind == "flow"
                    else b"".join(b"  " * i + b"a:\n" for i in range(min(n, 300))) + b"  b: 1\n"
                )
            ),
            st.sampled_from([50, 63, 64, 65, 100, 200, 250, 300, 1000, 5000]),
            st.sampled_from(["flow", "block", "block"]),
        ),
        st.builds(
            lambda bomb, key: to_json({key: bomb}),
            st.builds(laughs, st.integers(5, 12), st.integers(5, 12)),
            st.sampled_from(FILE_KEYS),
        ),
    )
