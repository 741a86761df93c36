"""``opsrules test``: rule unit tests, like ``promtool test rules``.

A test file (``rules/tests/*.yaml``, format in :mod:`streams.ruletest.spec` and
``rules/README.md``) gives input records at time offsets and the actions expected — or
expected silence — at evaluation times. Cases run through the production cores on a
virtual clock (:mod:`streams.offline`), no Kafka.

- :mod:`~streams.ruletest.notation`: promtool's expanding notation for metric values
- :mod:`~streams.ruletest.spec`: the file format (pydantic models)
- :mod:`~streams.ruletest.load`: reading a file, every error at path:line:col
- :mod:`~streams.ruletest.run`: running cases, matching actions
- :mod:`~streams.ruletest.report`: the text report and JUnit XML
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from processors.rules.compiler import MatcherKind
from processors.rules.loader import rule_files
from streams.ruletest.report import counts, junit_xml, text_lines
from streams.ruletest.run import run_test_files

__all__ = ["run_tests"]


def run_tests(
    paths: Sequence[Path | str],
    rules_dir: Path,
    *,
    matcher: MatcherKind = "durable_rules",
    junit: Path | None = None,
) -> int:
    """Run the test files under ``paths`` (files or folders; default
    ``<rules_dir>/tests``) and print the report; the exit status: 1 when a test failed
    or a file is broken, else 0."""
    wanted = [Path(p) for p in paths] or [rules_dir / "tests"]
    missing = [str(p) for p in wanted if not p.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 1
    files = rule_files(wanted)
    if not files:
        print(f"no rule test files (*.yaml) in {', '.join(map(str, wanted))}", file=sys.stderr)
        return 1
    results = run_test_files(files, rules_dir, matcher)
    for line in text_lines(results):
        print(line)
    if junit is not None:
        junit.write_bytes(junit_xml(results))
    _, failed, errors = counts(results)
    if errors:
        broken = sum(1 for result in results if result.errors)
        print(f"{errors} error(s) in {broken} test file(s)", file=sys.stderr)
    return 1 if failed or errors else 0
