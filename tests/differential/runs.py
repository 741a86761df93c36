"""One case, two interpreters: the production cores (``streams.offline.run_offline``, the
firehose pipeline and decision tier of the worker without Kafka) and the reference
(tests/reference, from rules/README.md); both reduced to the same comparable actions."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import assume, event

from processors.rules.compiler import MatcherKind, compile_rulebook
from processors.rules.loader import load_rules
from processors.timestamps import parse_ts_ms
from streams.offline import run_offline
from tests.reference import Unsettled, interpret

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole week since the epoch
FLUSH_MS = 10 * 60_000  # virtual time run_offline lets pass after the last record
# Actions are compared up to this long before the end of the flush: by then production
# has closed every window (grace, idle steps of 30s and the longest window fit in it).
UNSURE_TAIL_MS = 3 * 60_000
MATCHERS: list[MatcherKind] = ["durable_rules", "compiled"]

Files = Sequence[Mapping[str, Any]]
Records = Sequence[tuple[str, Mapping[str, Any]]]
# (rule id, sorted group items, action type, status, event time in ms)
Compared = tuple[str, tuple[tuple[str, str], ...], str, str, int]


def until_ms(records: Records) -> int:
    """The last event time whose actions both sides are sure to have decided."""
    return max(int(record["ts"]) for _, record in records) + FLUSH_MS - UNSURE_TAIL_MS


def production(files: Files, records: Records, matcher: MatcherKind) -> list[Compared]:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, content in enumerate(files):
            path = Path(folder) / f"rules_{index}.yaml"
            path.write_text(yaml.safe_dump(content, sort_keys=False))
            paths.append(path)
        loaded = load_rules(paths)
    assert loaded.ok, [str(error) for error in loaded.errors]
    rulebook = compile_rulebook(loaded.rules, matcher=matcher, policies=loaded.policies)
    run = run_offline(
        rulebook, [(role, dict(record)) for role, record in records], flush_ms=FLUSH_MS
    )
    assert run.rejected == [], run.rejected
    limit = until_ms(records)
    got = [
        (a.rule_id, tuple(sorted(a.group.items())), a.type, a.status, parse_ts_ms(a.ts))
        for a in run.actions
    ]
    return sorted(item for item in got if item[4] <= limit)


def reference(files: Files, records: Records) -> list[Compared]:
    """The reference's actions; a case the README does not settle is set aside (Hypothesis
    ``assume``), with the open question as an event in the statistics."""
    try:
        actions = interpret(list(files), records, until_ms=until_ms(records))
    except Unsettled as exc:
        event(f"unsettled: {exc.reason.split(':')[0]}")
        assume(False)
        raise
    return sorted((a.rule_id, tuple(sorted(a.group)), a.type, a.status, a.ts_ms) for a in actions)


def assert_same(files: Files, records: Records, matcher: MatcherKind) -> None:
    expected = reference(files, records)
    got = production(files, records, matcher)
    event(f"{len(expected)} actions" if len(expected) < 4 else "4+ actions")
    assert got == expected, describe(got, expected)


def describe(got: list[Compared], expected: list[Compared]) -> str:
    def show(item: Compared) -> str:
        rule_id, group, action, status, ts_ms = item
        labels = ",".join(f"{k}={v}" for k, v in group)
        return f"{action} {status} {rule_id} {{{labels}}} at {(ts_ms - T0) / 1000:g}s"

    lines = ["production and the reference disagree:"]
    lines += [f"  + production only: {show(item)}" for item in got if item not in expected]
    lines += [f"  - reference only:  {show(item)}" for item in expected if item not in got]
    if len(lines) == 1:
        lines.append("  (the same actions, in different numbers)")
    return "\n".join(lines)
