"""Hypothesis profiles of the differential suite: the fuzz suite's (tests/fuzz/conftest.py).

- by default its ``ci`` profile, derandomized, with a bounded number of cases per target
  (``ci_examples``), sized so that the whole directory runs in well under 2 minutes on 2
  cores;
- ``OPSRULES_FUZZ_EXAMPLES=N``: N cases per target from a random seed, printed at the
  start and the end; ``OPSRULES_FUZZ_SEED=S`` replays a run.
"""

from __future__ import annotations

import pytest
from hypothesis import seed

from tests.fuzz.conftest import FUZZING, SEED

_EXAMPLES_HINT = "OPSRULES_FUZZ_EXAMPLES"


def pytest_report_header() -> str | None:
    if FUZZING:
        return f"differential: random cases, seed {SEED} (OPSRULES_FUZZ_SEED={SEED})"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a fuzz run, every differential target draws from the one printed seed and runs
    as long as it needs."""
    if not FUZZING:
        return
    for item in items:
        test = getattr(item, "obj", None)
        if "tests/differential/" in item.nodeid and hasattr(test, "hypothesis"):
            seed(SEED)(test)
            item.add_marker(pytest.mark.timeout(0))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZING:
        terminalreporter.write_line(
            f"differential: seed {SEED}; replay with {_EXAMPLES_HINT}=<N> OPSRULES_FUZZ_SEED={SEED}"
        )
