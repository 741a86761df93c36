"""Read a rule test file: every error with file, line and column, as ``opsrules check``.

The file is parsed with positions (ruamel.yaml), validated against
:mod:`streams.ruletest.spec`, then checked against the rules it tests: expected rule
ids exist (with "did you mean"), expected groups use the rule's ``group_by`` fields,
``values`` parse, and every input record decodes as the worker would decode it. A
:class:`RuleTest` is returned only when there is no error at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from processors.firehose.routing import series_key
from processors.ids import stable_id
from processors.records import Signal
from processors.rules.loader import LoadResult
from processors.rules.model import Rule
from processors.rules.rule_errors import (
    RuleError,
    RuleSource,
    did_you_mean,
    key_pos,
    locate,
    node_pos,
)
from processors.rules.yaml_files import read_yaml
from streams.codec import Rejected
from streams.ingest import SOURCES, decode_input
from streams.offline import LIMITS, SIGNALS_ROLE
from streams.ruletest.notation import NotationError, expand
from streams.ruletest.spec import (
    KEYS_BY_PARENT,
    CaseSpec,
    ExpectedAction,
    InputSpec,
    RuleTestFile,
)

# Every case starts here: 2026-01-01T00:00:00Z, a whole week since the epoch, so windows
# of whole seconds, minutes, hours, days and weeks start at offsets like 0s, 1m, 1h.
START_MS = 1_767_225_600_000

# The rules a test file names → the loaded rules (cached by the caller).
RulesFor = Callable[[tuple[Path, ...]], LoadResult]


@dataclass(frozen=True, slots=True)
class Eval:
    eval_at_ms: int
    expect: tuple[ExpectedAction, ...]
    partial: bool
    line: int


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    line: int
    records: tuple[tuple[str, dict[str, Any]], ...]  # (topic role, record), in time order
    last_record_ms: int  # offset of the last record (0 without records)
    evals: tuple[Eval, ...]


@dataclass(frozen=True, slots=True)
class RuleTest:
    path: str
    rule_paths: tuple[Path, ...]
    cases: tuple[Case, ...]


def load_test_file(path: Path, rules_dir: Path, rules_for: RulesFor) -> RuleTest | list[RuleError]:
    """The test file at ``path``, or every error in it (or in the rules it tests)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [RuleError(name, 1, 1, None, f"cannot read: {exc}")]
    data = read_yaml(name, text)
    if isinstance(data, RuleError):
        return [data]
    source = RuleSource(name, text, data)
    if not isinstance(data, CommentedMap):
        return [source.error((1, 1), None, "a rule test file is a mapping with a 'tests:' list")]
    errors: list[RuleError] = []
    try:
        spec = RuleTestFile.model_validate(plain(data))
    except ValidationError as exc:
        return _validation_errors(source, exc)
    cases: list[tuple[int, CaseSpec]] = []
    for index, node in enumerate(data["tests"]):
        try:
            cases.append((index, CaseSpec.model_validate(plain(node))))
        except ValidationError as exc:
            errors.extend(_validation_errors(source, exc, ("tests", index)))
    rule_paths = _rule_paths(source, spec, rules_dir, errors)
    checked = []
    if rule_paths is not None:
        loaded = rules_for(rule_paths)
        if not loaded.ok:
            return loaded.errors  # the rules under test are broken: `opsrules check` says so
        checker = _Checker(source, loaded, errors)
        checked = [checker.case(case, data["tests"][index], index) for index, case in cases]
    errors.sort(key=lambda e: (e.line, e.col))
    if errors or rule_paths is None:
        return errors
    return RuleTest(name, rule_paths, tuple(checked))


def plain(value: Any) -> Any:
    """ruamel.yaml's nodes as plain Python (its ScalarFloat and HexInt are not JSON to
    orjson, and records are sent as JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _validation_errors(
    source: RuleSource, exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> list[RuleError]:
    out = []
    for error in exc.errors(include_url=False):
        loc = [*prefix, *(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))]
        pos, found = locate(source.data, loc)
        key = str(loc[-1]) if loc else ""
        if error["type"] == "extra_forbidden":
            parent = next((p for p in reversed(loc[:-1]) if isinstance(p, str)), None)
            allowed = KEYS_BY_PARENT.get(parent, [])
            hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
            message = f"unknown field '{key}'{hint}"
        elif error["type"] == "missing":
            message = f"missing required field '{key}'"
        else:
            where = ".".join(found[1:] if found[:1] == ["tests"] else found)
            text = error["msg"].removeprefix("Value error, ")
            message = f"{where}: {text}" if where else text
        out.append(source.error(pos, None, message))
    return out


def _rule_paths(
    source: RuleSource, spec: RuleTestFile, rules_dir: Path, errors: list[RuleError]
) -> tuple[Path, ...] | None:
    """The rule files to load: ``rule_files`` (globs, relative to ``rules_dir``) or the
    whole folder; None when one is missing (reported)."""
    if spec.rule_files is None:
        return (rules_dir,)
    paths: list[Path] = []
    missing = False
    items = source.data["rule_files"]
    for index, pattern in enumerate(spec.rule_files):
        found = sorted(rules_dir.glob(pattern)) if pattern else []
        if not found:
            message = f"rule_files: no file matches '{pattern}' in {rules_dir}"
            errors.append(source.error(key_pos(items, index), None, message))
            missing = True
        paths.extend(found)
    return None if missing else tuple(dict.fromkeys(paths))


def _action_types(rule: Rule) -> set[str]:
    """The types of action a rule can send: its actions', and any nested in them (an
    escalation's)."""
    types: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str):
                types.add(node["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for action in rule.actions:
        walk(action.model_dump(mode="json"))
    return types


class _Checker:
    """Checks one file's cases against the rules they test and expands their input."""

    def __init__(self, source: RuleSource, loaded: LoadResult, errors: list[RuleError]) -> None:
        self.source = source
        self.rules = {item.rule.id: item.rule for item in loaded.rules}
        self.errors = errors

    def error(self, node: Any, key: str | int | None, message: str) -> None:
        pos = key_pos(node, key) if key is not None else node_pos(node)
        self.errors.append(self.source.error(pos, None, message))

    def case(self, case: CaseSpec, node: CommentedMap, index: int) -> Case:
        records: list[tuple[int, int, str, dict[str, Any]]] = []  # (at, order, role, record)
        for item_index, item in enumerate(case.input):
            item_node = node["input"][item_index]
            for at_ms, record in self.records(case, item, item_node, (index, item_index)):
                records.append((at_ms, len(records), item.topic, record))
        records.sort(key=lambda r: (r[0], r[1]))
        evals = []
        previous = -1
        for eval_index, spec in enumerate(case.evals):
            eval_node = node["evals"][eval_index]
            if spec.eval_at_ms <= previous:
                self.error(eval_node, "eval_at", "eval_at: must be later than the previous eval")
            previous = spec.eval_at_ms
            for expected_index, expected in enumerate(spec.expect):
                self.expected(expected, eval_node["expect"][expected_index])
            evals.append(
                Eval(spec.eval_at_ms, tuple(spec.expect), spec.partial, eval_node.lc.line + 1)
            )
        return Case(
            name=case.name,
            line=node.lc.line + 1,
            records=tuple((role, record) for _, _, role, record in records),
            last_record_ms=records[-1][0] if records else 0,
            evals=tuple(evals),
        )

    def unknown_rule(self, rule_id: str) -> str | None:
        if rule_id in self.rules:
            return None
        hint = did_you_mean(rule_id, sorted(self.rules))
        return f"no rule '{rule_id}' in the rule files tested{hint}"

    def expected(self, expected: ExpectedAction, node: CommentedMap) -> None:
        unknown = self.unknown_rule(expected.rule)
        if unknown is not None:
            self.error(node, "rule", f"rule: {unknown}")
            return
        rule = self.rules[expected.rule]
        if not rule.enabled:
            self.error(node, "rule", f"rule: '{rule.id}' is disabled (enabled: false)")
        types = _action_types(rule)
        if expected.type not in types:
            message = (
                f"type: rule '{rule.id}' sends no {expected.type} ({', '.join(sorted(types))})"
            )
            self.error(node, "type", message)
        for key in expected.group or {}:
            if key not in rule.group_by:
                group_by = ", ".join(rule.group_by) or "nothing"
                hint = did_you_mean(key, rule.group_by)
                message = f"group: rule '{rule.id}' groups by {group_by}, not '{key}'{hint}"
                self.error(node["group"], key, message)

    def records(
        self, case: CaseSpec, item: InputSpec, node: CommentedMap, where: tuple[int, int]
    ) -> list[tuple[int, dict[str, Any]]]:
        """The input's records as ``(offset, record)``, ``ts`` set; none on an error."""
        for key in ("ts", "ts_ms"):
            if key in item.record:
                self.error(node["record"], key, f"record: '{key}' is set from 'at' and 'interval'")
                return []
        interval = item.interval_ms or case.interval_ms
        if item.values is not None:
            samples = self.samples(item, node)
            if samples is None:
                return []
            offsets = [
                (item.at_ms + i * interval, {"value": v})
                for i, v in enumerate(samples)
                if v is not None
            ]
        else:
            offsets = [(item.at_ms + i * interval, {}) for i in range(item.count or 1)]
        out = []
        for n, (at_ms, extra) in enumerate(offsets):
            record = {**item.record, **extra}
            if item.topic == SIGNALS_ROLE:
                record = self.signal(record, at_ms, where, n)
            else:
                record["ts"] = START_MS + at_ms
            problem = self.decode_problem(item.topic, record)
            if problem is not None:
                self.error(node, "record" if "record" in node else None, f"record: {problem}")
                return []
            out.append((at_ms, record))
        return out

    def samples(self, item: InputSpec, node: CommentedMap) -> list[float | None] | None:
        if item.topic != "metrics":
            self.error(node, "values", "values: only for metrics; repeat other records with count")
            return None
        if item.count is not None:
            self.error(node, "count", "count: give values or count, not both")
            return None
        for key in ("value", "samples"):
            if key in item.record:
                message = f"record: '{key}' comes from values (one sample per value)"
                self.error(node["record"], key, message)
                return None
        assert item.values is not None
        try:
            return expand(item.values)
        except NotationError as exc:
            pos = self.source.expression_pos(node, "values", exc.column)
            self.errors.append(self.source.error(pos, None, f"values: {exc.message}"))
            return None

    def signal(
        self, record: dict[str, Any], at_ms: int, where: tuple[int, int], n: int
    ) -> dict[str, Any]:
        """A signal record with defaults: ``ts_ms`` from ``at``, a stable ``id``, and
        ``key`` from its group."""
        group = record.get("group")
        key = series_key(list(group.values())) if isinstance(group, dict) else "*"
        return {
            "id": stable_id("ruletest", self.source.path, *where, n),
            "key": key,
            **record,
            "ts_ms": START_MS + at_ms,
        }

    def decode_problem(self, topic: str, record: dict[str, Any]) -> str | None:
        if topic == SIGNALS_ROLE:
            try:
                signal = Signal.model_validate(record)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                field = ".".join(str(p) for p in first["loc"]) or "(record)"
                return f"not a signal: field '{field}': {first['msg']}"
            unknown = [self.unknown_rule(rule_id) for rule_id in signal.rules]
            return next((f"rules: {u}" for u in unknown if u is not None), None)
        decoded = decode_input(SOURCES[topic], orjson.dumps(record), LIMITS, START_MS)
        if isinstance(decoded, Rejected):
            return f"the worker would dead-letter it ({decoded.reason}): {decoded.message}"
        return None
