"""Flap detection: too many changes within the window → held firing, notifications
suppressed with reason flapping; one catch-up notification when it calms down."""

from __future__ import annotations

from pathlib import Path

from tests.processors.decisions.decision_runs import Run, key_of
from tests.processors.rulebook_factory import rulebook_from_yaml

RULES = """
rules:
  - id: flappy
    source: metric
    match: name == "t"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    flapping: {changes: 3, within: 10m}
    actions:
      - type: alert
"""


def test_a_flapping_alert_is_held_firing_and_quiet_until_it_calms_down(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    host = {"host": "a"}
    values = [2, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    sent = run.windows("flappy", host, values)
    # changes at 0 (firing), 1 (resolved), 2 (firing): 3 is not more than 3; the 4th
    # (resolved at 3) is: held firing; the changes leave the 10-minute window at 10-13
    assert sent == [
        (0, "alert", "firing"),
        (1, "alert", "resolved"),
        (2, "alert", "firing"),
        (12, "alert", "resolved"),
    ]
    assert [r for r in run.reasons() if r] == ["flapping", "flapping", "flapping"]
    catch_up = run.outcomes[12].actions[0]
    assert catch_up.decision is not None and catch_up.decision.because == "flapping_ended"
    # the receivers heard of the firing that began at minute 2: the catch-up resolves it
    assert catch_up.starts_at == run.outcomes[2].actions[0].starts_at
    # while held it stays firing for inhibition, marked flapping
    held = run.outcomes[3].firing_changes[key_of("flappy", **host)]
    assert held is not None and held.flapping


def test_calming_down_while_firing_sends_nothing_more(tmp_path: Path) -> None:
    run = Run(rulebook_from_yaml(tmp_path, RULES))
    sent = run.windows("flappy", {"host": "a"}, [2, 0, 2, 0, 2] + [2] * 12 + [0])
    assert sent == [
        (0, "alert", "firing"),
        (1, "alert", "resolved"),
        (2, "alert", "firing"),
        (17, "alert", "resolved"),
    ]


def test_without_flapping_config_nothing_is_held(tmp_path: Path) -> None:
    run = Run(
        rulebook_from_yaml(tmp_path, RULES.replace("    flapping: {changes: 3, within: 10m}\n", ""))
    )
    sent = run.windows("flappy", {"host": "a"}, [2, 0] * 4)
    assert len(sent) == 8 and all(r is None for r in run.reasons())
