"""Hypothesis profiles of the fuzz suite (tests/fuzz) and the differential suite
(tests/differential); tests/conftest.py registers the hooks below once for both.

- ``ci`` (the default, and what ``make test`` runs): a bounded number of cases per
  target, derandomized so that every run tries the same cases (a red CI is reproducible
  and never flaky). Sized so that all of ``tests/fuzz`` takes about a minute on 2 cores.
- ``fuzz``: ``OPSRULES_FUZZ_EXAMPLES=N`` cases per target from a random seed, printed
  at the start and the end of the run; ``OPSRULES_FUZZ_SEED=S`` replays a run.
  ``make fuzz`` is 3,300 cases per target (over 100,000 in all; ``FUZZ_EXAMPLES``).

No example database: a failure is reproduced from the seed (or the ``@reproduce_failure``
blob Hypothesis prints), not from files left in the work tree.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, seed, settings

T = TypeVar("T")
_EXAMPLES = os.environ.get("OPSRULES_FUZZ_EXAMPLES")
FUZZING = bool(_EXAMPLES)
SEED = int(os.environ.get("OPSRULES_FUZZ_SEED") or random.SystemRandom().randrange(2**32))

# Large and slow inputs (1 MiB records, nesting 5,000 deep) are the point here.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
_QUIET += [HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    max_examples=150,  # per target; targets that cost more say fewer (ci_examples)
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_QUIET,
)
settings.register_profile(
    "fuzz",
    max_examples=int(_EXAMPLES or 0) or 1,
    # A hang shows as a failure of its case (Hypothesis tries it again to tell a slow
    # machine from a real hang) instead of as a stopped run.
    deadline=timedelta(seconds=20),
    database=None,
    print_blob=True,
    suppress_health_check=_QUIET,
)
settings.load_profile("fuzz" if FUZZING else "ci")


def ci_examples(count: int) -> Callable[[T], T]:
    """``@ci_examples(n)``: ``n`` cases under the ci profile for a target that costs more
    (or less) than most per case; a fuzz run gives every target the same number."""
    if FUZZING:
        return lambda test: test
    return settings(max_examples=count)


SUITES = ("tests/fuzz/", "tests/differential/")


def pytest_report_header() -> str | None:
    if FUZZING:
        return f"fuzz: {_EXAMPLES} cases per target, seed {SEED} (OPSRULES_FUZZ_SEED={SEED})"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a fuzz run, every target draws from the one printed seed, and runs as long as
    it needs (the ini's per-test timeout is for the bounded ci cases)."""
    if not FUZZING:
        return
    for item in items:
        test = getattr(item, "obj", None)
        if item.nodeid.startswith(SUITES) and hasattr(test, "hypothesis"):
            seed(SEED)(test)
            item.add_marker(pytest.mark.timeout(0))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZING:
        terminalreporter.write_line(
            f"fuzz: {_EXAMPLES} cases per target, seed {SEED}; replay with "
            f"OPSRULES_FUZZ_EXAMPLES={_EXAMPLES} OPSRULES_FUZZ_SEED={SEED}"
        )
