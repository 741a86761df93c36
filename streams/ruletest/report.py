"""What ``opsrules test`` prints, and its JUnit XML.

PASS good/all.yaml:2: cpu_hot fires after two hot minutes, heals, resolves
FAIL failing/wrong.yaml:3: expects the alert a minute early
  eval_at 1m (line 9), actions decided from 0s to 1m: 1 missing
    - missing     alert firing cpu_hot {host=web-1}
  eval_at 2m (line 12), actions decided after 1m to 2m: 1 unexpected
    + unexpected  alert firing cpu_hot {host=web-1} at 2m: 'CPU 0.95 on web-1'
      as expected heal firing cpu_hot {host=web-1} at 2m params {host: 'web-1'}: 'CPU …'
1 passed, 1 failed
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from processors.records import Action
from processors.rules.durations import format_duration
from streams.ruletest.run import CaseResult, EvalResult, FileResult, offset_ms
from streams.ruletest.spec import ExpectedAction


def counts(results: Sequence[FileResult]) -> tuple[int, int, int]:
    """(passed, failed, errors) over every file."""
    cases = [case for result in results for case in result.cases]
    passed = sum(1 for case in cases if case.ok)
    return passed, len(cases) - passed, sum(len(result.errors) for result in results)


def text_lines(results: Sequence[FileResult]) -> Iterator[str]:
    """Errors of broken files, then one line per case (with a diff when it failed), then
    ``N passed, M failed``."""
    for result in results:
        for error in result.errors:
            yield str(error)
        for case in result.cases:
            verdict = "PASS" if case.ok else "FAIL"
            yield f"{verdict} {result.path}:{case.case.line}: {case.case.name}"
            if not case.ok:
                yield from (f"  {line}" for line in failure_lines(case))
    passed, failed, _ = counts(results)
    yield f"{passed} passed, {failed} failed"


def failure_lines(case: CaseResult) -> Iterator[str]:
    yield from case.problems
    for result in case.evals:
        if result.ok:
            continue
        parts = [f"{len(result.missing)} missing"] if result.missing else []
        if result.unexpected:
            kind = "other (partial: allowed)" if result.eval.partial else "unexpected"
            parts.append(f"{len(result.unexpected)} {kind}")
        yield f"{span(result)}: {', '.join(parts)}"
        for expected in result.missing:
            yield f"  - missing     {describe_expected(expected)}"
        for action in result.unexpected:
            mark = "    other      " if result.eval.partial else "  + unexpected "
            yield f"{mark} {describe_action(action)}"
        for _, action in result.matched:
            yield f"    as expected {describe_action(action)}"


def span(result: EvalResult) -> str:
    since = "from 0s" if result.since_ms is None else f"after {format_duration(result.since_ms)}"
    until = format_duration(result.eval.eval_at_ms)
    return f"eval_at {until} (line {result.eval.line}), actions decided {since} to {until}"


def _group(group: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in group.items()) + "}"


def _params(params: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in params.items()) + "}"


def describe_expected(expected: ExpectedAction) -> str:
    out = [expected.type, expected.status, expected.rule]
    if expected.group is not None:
        out.append(_group(expected.group))
    if expected.at_ms is not None:
        out.append(f"at {format_duration(expected.at_ms)}")
    if expected.params is not None:
        out.append(f"params {_params(expected.params)}")
    if expected.summary is not None:
        out.append(f"summary containing {expected.summary!r}")
    return " ".join(out)


def describe_action(action: Action) -> str:
    out = [action.type, action.status, action.rule_id, _group(action.group)]
    out.append(f"at {format_duration(offset_ms(action))}")
    if action.params:
        out.append(f"params {_params(action.params)}")
    return f"{' '.join(out)}: {action.summary!r}"


def junit_xml(results: Sequence[FileResult]) -> bytes:
    """JUnit XML: a ``testsuite`` per test file, a ``testcase`` per case; a broken file
    is one ``error`` testcase."""
    passed, failed, errors = counts(results)
    root = ET.Element(
        "testsuites",
        name="opsrules test",
        tests=str(passed + failed + errors),
        failures=str(failed),
        errors=str(errors),
    )
    for result in results:
        suite_time = sum(case.duration_s for case in result.cases)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=result.path,
            tests=str(len(result.cases) + len(result.errors)),
            failures=str(sum(1 for case in result.cases if not case.ok)),
            errors=str(len(result.errors)),
            time=f"{suite_time:.3f}",
        )
        classname = Path(result.path).with_suffix("").as_posix().replace("/", ".")
        for error in result.errors:
            element = ET.SubElement(suite, "testcase", classname=classname, name=str(error))
            ET.SubElement(element, "error", message=error.message).text = str(error)
        for case in result.cases:
            element = ET.SubElement(
                suite,
                "testcase",
                classname=classname,
                name=case.case.name,
                file=result.path,
                line=str(case.case.line),
                time=f"{case.duration_s:.3f}",
            )
            if not case.ok:
                lines = list(failure_lines(case))
                failure = ET.SubElement(element, "failure", message=lines[0] if lines else "")
                failure.text = "\n".join(lines)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"
