"""Circuit breakers: opened by K failed results in a row per rule and target, half-open
after the cool-off (one trial), closed by its success, reopened by its failure."""

from __future__ import annotations

from pathlib import Path

from tests.processors.decisions.decision_runs import Run
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: stuck
    source: metric
    match: name == "queue"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: heal
        params: {command: restart}
        circuit_breaker: {failures: 2, cool_off: 10m}
"""


def fire(run: Run, minute: int, host: str = "a") -> tuple[list[str | None], str | None]:
    """Fire at ``minute``, resolve a minute later; the decision's reason and action id."""
    fired = run.window("stuck", {"host": host}, minute, 2)
    run.window("stuck", {"host": host}, minute + 1, 0)
    action_id = fired.actions[0].id if fired.actions else None
    return [d.reason for d in fired.decisions], action_id


def test_the_breaker_opens_half_opens_and_closes(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    sent = []
    for minute in (0, 2):
        reasons, _ = fire(run, minute)
        assert reasons == [None]
        sent.append(run.actions[-1])
    run.result(sent[0], "failed", 1.5)
    assert fire(run, 4)[0] == [None]  # one failure: still closed
    run.result(sent[1], "failed", 3.5)  # two in a row: open from 3.5 to 13.5
    open_at_6 = run.window("stuck", {"host": "a"}, 6, 2).decisions[0]
    run.window("stuck", {"host": "a"}, 7, 0)
    assert open_at_6.reason == "circuit_open"
    assert open_at_6.suppressed_by["breaker"] == "open"
    assert open_at_6.suppressed_by["failures"] == 2
    assert fire(run, 8, host="b")[0] == [None]  # per target: host b has its own
    # half-open after the cool-off: one trial goes, the next waits for its result
    reasons, trial = fire(run, 14)
    assert reasons == [None] and trial is not None
    held = fire(run, 16)[0]
    assert held == ["circuit_open"]
    assert run.outcomes[-2].decisions[0].suppressed_by["breaker"] == "half_open"
    # the trial fails: open again for the cool-off
    run.result(run.actions[-1], "failed", 17)
    assert fire(run, 20)[0] == ["circuit_open"]
    reasons, trial = fire(run, 28)
    assert reasons == [None]
    run.result(run.actions[-1], "succeeded", 29.5)  # closes it
    assert fire(run, 30)[0] == [None]
    assert fire(run, 32)[0] == [None]
