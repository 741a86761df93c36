"""Macros, lists, exceptions, tags and disabled rules: loaded, checked, compiled."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.compiler import compile_rulebook
from processors.rules.loader import LoadResult, load_rules
from tests.processors.rulebook_factory import rulebook_from_yaml

DEFINITIONS = """\
macros:
  is_prod: host endswith ".prod"
  cpu: name == "system.cpu.utilization"
  prod_cpu: cpu and is_prod and not (host in batch_hosts)
lists:
  batch_hosts: [batch-1.prod, batch-2.prod]
  fatal_levels: [21, 22, 23, 24]
"""

CPU_RULE = """\
rules:
  - id: prod_cpu_hot
    source: metric
    match: prod_cpu
    window: {size: 1m, stat: mean}
    condition: value > 0.9
    group_by: [host]
"""


def load(tmp_path: Path, **files: str) -> LoadResult:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return load_rules([tmp_path])


def messages(result: LoadResult, tmp_path: Path) -> list[str]:
    return [str(e).replace(f"{tmp_path}/", "") for e in result.errors]


def metric(**overrides: object) -> dict[str, object]:
    return {"name": "system.cpu.utilization", "value": 0.95, "host": "web-1.prod", **overrides}


# --- macros and lists ------------------------------------------------------------------


def test_macros_and_lists_of_one_file_expand_in_the_rules_of_another(tmp_path: Path) -> None:
    result = load(tmp_path, a_definitions=DEFINITIONS, b_rules=CPU_RULE)
    assert result.ok, messages(result, tmp_path)
    [loaded] = result.rules
    assert loaded.rule.match == (
        'name == "system.cpu.utilization" and host endswith ".prod" '
        'and not (host in ["batch-1.prod", "batch-2.prod"])'
    )
    feed = next(iter(compile_rulebook(result.rules, matcher="compiled").feeds.values()))
    assert feed.match(metric()) is True
    assert feed.match(metric(host="batch-1.prod")) is False
    assert feed.match(metric(host="web-1.dev")) is False


def test_a_rule_without_macros_keeps_its_text(tmp_path: Path) -> None:
    text = CPU_RULE.replace("match: prod_cpu", "match: name=='x'")
    [loaded] = load(tmp_path, rules=DEFINITIONS + text).rules
    assert loaded.rule.match == "name=='x'"


def test_a_rule_version_follows_the_macros_it_uses(tmp_path: Path) -> None:
    first = load(tmp_path, a=DEFINITIONS, b=CPU_RULE).rules[0].version
    changed = DEFINITIONS.replace('endswith ".prod"', 'endswith ".production"')
    assert load(tmp_path, a=changed, b=CPU_RULE).rules[0].version != first
    unrelated = DEFINITIONS + "  other: [1]\n"
    assert load(tmp_path, a=unrelated, b=CPU_RULE).rules[0].version == first


def test_a_list_after_in_and_not_in(tmp_path: Path) -> None:
    rule = """\
rules:
  - id: fatal_logs
    source: log
    match: severity_number in fatal_levels and not (host not in batch_hosts)
"""
    result = load(tmp_path, rules=DEFINITIONS + rule)
    assert result.ok, messages(result, tmp_path)
    [compiled] = compile_rulebook(result.rules, matcher="compiled").rules.values()
    assert compiled.match({"severity_number": 21, "host": "batch-2.prod"}) is True
    assert compiled.match({"severity_number": 17, "host": "batch-2.prod"}) is False
    assert compiled.match({"severity_number": 21, "host": "web-1"}) is False


def test_macros_in_condition_window_value_and_exceptions(tmp_path: Path) -> None:
    text = """\
macros:
  failing: status == "fail"
  all_failed: value == 1
  canary: instance startswith "canary-"
rules:
  - id: service_down
    source: health
    window: {size: 1m, stat: min, value: failing}
    condition: all_failed
    group_by: [service]
    exceptions: [canary]
"""
    result = load(tmp_path, rules=text)
    assert result.ok, messages(result, tmp_path)
    [loaded] = result.rules
    assert loaded.rule.window is not None and loaded.rule.window.value == 'status == "fail"'
    assert loaded.rule.condition == "value == 1"
    assert loaded.rule.match == 'not (instance startswith "canary-")'


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            "macros:\n  a: b or value > 1\n  b: c\n  c: a\n",
            [
                "r.yaml:2:6: macro a: macro uses itself: a -> b -> c -> a (a macro may use "
                "other macros, but not itself, directly or through others)"
            ],
        ),
        (
            "macros:\n  a: value > 1 and a\n",
            [
                "r.yaml:2:20: macro a: macro uses itself: a -> a (a macro may use other "
                "macros, but not itself, directly or through others)"
            ],
        ),
        (
            "macros:\n  service: host == 'x'\nlists:\n  labels: [a]\n",
            [
                "r.yaml:2:3: macro service: 'service' is a field name; a macro may not shadow "
                "it, choose another name",
                "r.yaml:4:3: list labels: 'labels' is a field name; a list may not shadow it, "
                "choose another name",
            ],
        ),
        (
            "macros:\n  m: hots == 1\n",
            ["r.yaml:2:6: macro m: unknown field 'hots' (did you mean 'host'?)"],
        ),
        (
            "macros:\n  m: host in hosts\nlists:\n  host_list: [a]\n",
            ["r.yaml:2:14: macro m: unknown list 'hosts' (did you mean 'host_list'?)"],
        ),
        (
            "lists:\n  l: [a]\nrules:\n  - id: x\n    source: log\n    match: l\n",
            [
                "r.yaml:6:12: rule x: match: list 'l' can only follow 'in' or 'not in' (write "
                "e.g. 'host in l')"
            ],
        ),
        (
            # Reported where the macro is defined; its uses are not checked again.
            "macros:\n  m: host ==\nrules:\n  - id: x\n    source: log\n    match: m\n",
            ["r.yaml:2:13: macro m: expected an operand after '=='"],
        ),
        (
            "macros:\n  errors: body contains 'x'\nrules:\n"
            "  - id: x\n    source: metric\n    match: value > 1 and errors\n",
            ["r.yaml:6:26: rule x: match: macro errors: unknown field 'body' for source metric"],
        ),
        (
            "macros:\n  prod: host endswith 'p'\nrules:\n"
            "  - id: x\n    source: metric\n    match: prd\n",
            ["r.yaml:6:12: rule x: match: unknown macro 'prd' (did you mean 'prod'?)"],
        ),
    ],
)
def test_macro_and_list_errors(tmp_path: Path, rules: str, expected: list[str]) -> None:
    assert messages(load(tmp_path, r=rules), tmp_path) == expected


def test_a_macro_cannot_grow_exponentially(tmp_path: Path) -> None:
    lines = ["macros:", "  m0: value > 1"]
    lines += [f"  m{i}: m{i - 1} or m{i - 1}" for i in range(1, 40)]
    lines += ["rules:", "  - id: x", "    source: metric", "    match: m39"]
    assert messages(load(tmp_path, r="\n".join(lines) + "\n"), tmp_path) == [
        "r.yaml:14:8: macro m12: macro expands to more than 10000 operators and operands (a "
        "macro that uses another twice doubles it; use a list or split the rule)"
    ]


def test_a_name_defined_twice_across_files_names_both_places(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        a="macros:\n  prod: host == 'a'\nlists:\n  hosts: [a]\n",
        b="lists:\n  prod: [b]\nmacros:\n  hosts: host == 'b'\n  prod: host == 'b'\n",
    )
    assert messages(result, tmp_path) == [
        "b.yaml:2:3: list prod: 'prod' is already defined as a macro at a.yaml:2:3",
        "b.yaml:4:3: macro hosts: 'hosts' is already defined as a list at a.yaml:4:3",
        "b.yaml:5:3: macro prod: 'prod' is already defined at a.yaml:2:3",
    ]


# --- exceptions ------------------------------------------------------------------------

EXCEPTIONS = """\
lists:
  scanners: [10.0.0.5, 10.0.0.6]
rules:
  - id: failed_logins
    source: security
    match: event.category == "authentication" and event.outcome == "failure"
    exceptions:
      - source.ip in scanners
      - {user.name: [svc-backup, svc-ci], host.name: build-1}
      - {event.code: 4625}
"""


def login(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event": {"category": "authentication", "outcome": "failure", "code": 4624},
        "source": {"ip": "192.0.2.1"},
        "user": {"name": "alice"},
        "host": {"name": "web-1"},
    }
    return {**record, **overrides}


@pytest.mark.parametrize(
    ("record", "fires"),
    [
        (login(), True),
        (login(source={"ip": "10.0.0.6"}), False),  # expression
        (login(user={"name": "svc-ci"}, host={"name": "build-1"}), False),  # every field
        (login(user={"name": "svc-ci"}), True),  # only one of two fields
        (login(event={"category": "authentication", "outcome": "failure", "code": 4625}), False),
        (login(event={"category": "authentication", "outcome": "success"}), False),  # no match
    ],
)
def test_a_record_matching_any_exception_does_not_match(
    tmp_path: Path, record: dict[str, object], fires: bool
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, EXCEPTIONS)
    compiled = rulebook.rules["failed_logins"]
    assert (compiled.match(record) and compiled.condition(record)) is fires
    assert compiled.rule.exceptions == []  # folded into match


def test_exceptions_leave_records_out_of_windows(tmp_path: Path) -> None:
    text = CPU_RULE.replace("match: prod_cpu", "match: cpu") + "    exceptions: [is_prod]\n"
    result = load(tmp_path, rules=DEFINITIONS + text)
    assert result.ok, messages(result, tmp_path)
    [feed] = compile_rulebook(result.rules, matcher="compiled").feeds.values()
    assert feed.match(metric(host="web-1.dev")) is True
    assert feed.match(metric(host="web-1.prod")) is False


def test_exception_errors(tmp_path: Path) -> None:
    text = """\
rules:
  - id: x
    source: log
    exceptions:
      - servce == "a"
      - {service: [a, null], "bad path": 1}
      - [a]
      - {}
"""
    assert messages(load(tmp_path, r=text), tmp_path) == [
        "r.yaml:5:9: rule x: exceptions: unknown field 'servce' (did you mean 'service'?)",
        "r.yaml:6:10: rule x: exceptions.service: a value is a string, a number, true or false",
        "r.yaml:6:30: rule x: exceptions: 'bad path' is not a field path (write e.g. host or "
        "labels.state)",
        "r.yaml:7:9: rule x: exceptions: an exception is an expression (a string) or a mapping "
        "of field to value or list of values",
        "r.yaml:8:9: rule x: exceptions: an empty mapping would leave out every record",
    ]


# --- tags and enabled ------------------------------------------------------------------


def test_tags_are_kept(tmp_path: Path) -> None:
    text = CPU_RULE.replace("match: prod_cpu", "match: cpu") + "    tags: [capacity, team:infra]\n"
    [loaded] = load(tmp_path, rules=DEFINITIONS + text).rules
    assert loaded.rule.tags == ["capacity", "team:infra"]


def test_a_disabled_rule_is_checked_and_loaded_but_not_compiled(tmp_path: Path) -> None:
    disabled = CPU_RULE + "    enabled: false\n"
    broken = disabled.replace("value > 0.9", "valeu > 0.9")
    assert messages(load(tmp_path, a=DEFINITIONS, b=broken), tmp_path) == [
        "b.yaml:6:16: rule prod_cpu_hot: condition: unknown field 'valeu' (did you mean 'value'?)"
    ]
    result = load(tmp_path, a=DEFINITIONS, b=disabled)
    assert result.ok and [r.rule.enabled for r in result.rules] == [False]
    rulebook = compile_rulebook(result.rules, matcher="compiled")
    assert rulebook.rules == {} and rulebook.feeds == {} and rulebook.sources == {}


# --- positions inside YAML strings -------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "position"),
    [
        ("match: body == 1 and hots == 'x'", "5:26"),
        ('match: "body == \\"a\\" and hots == \'x\'"', "5:31"),
        ("match: 'body == ''a'' and hots == \"x\"'", "5:31"),
        ("match: |\n      body == 1\n        and hots == 'x'", "7:13"),
        ("match: >-\n      body == 1\n      and hots == 'x'", "7:11"),
        ("match: body == 1\n      and hots == 'x'", "6:11"),
    ],
)
def test_errors_inside_quoted_and_multi_line_strings(
    tmp_path: Path, match: str, position: str
) -> None:
    text = f"rules:\n  - id: x\n    source: log\n\n    {match}\n"
    [error] = messages(load(tmp_path, r=text), tmp_path)
    assert error.startswith(f"r.yaml:{position}: rule x: match: unknown field 'hots'"), error


# --- robustness ------------------------------------------------------------------------

RICH = (
    DEFINITIONS
    + CPU_RULE
    + """\
    exceptions:
      - host in batch_hosts
      - {service: [a, b], labels.state: used}
    tags: [capacity]
  - id: fatal_logs
    source: log
    match: severity_number in fatal_levels and body matches "OOM|panic"
    exceptions: ['service == "test"']
"""
)


@pytest.mark.parametrize("seed", range(300))
def test_a_mangled_file_never_crashes_and_never_drops_a_rule_silently(
    tmp_path: Path, seed: int
) -> None:
    """Delete, double or swap one character anywhere: either an error is reported, or
    every rule loads."""
    text = list(RICH)
    at = (seed * 7919) % len(text)
    if seed % 3 == 0:
        del text[at]
    elif seed % 3 == 1:
        text.insert(at, text[at])
    else:
        text[at], text[at - 1] = text[at - 1], text[at]
    result = load(tmp_path, r="".join(text))
    if result.ok:
        assert len(result.rules) == 2
