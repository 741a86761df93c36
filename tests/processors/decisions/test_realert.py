"""Exponential realert: ElastAlert's next_alert_time, and on a rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.decisions.realert import RealertState, next_realert, realert_wait
from processors.rules.actions import RealertConfig
from tests.processors.decisions.decision_runs import M, Run
from tests.processors.rulebook_factory import rulebook_from_yaml

CONFIG = RealertConfig(initial="5m", max="30m")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("state", "t_minute", "expected"),
    [
        (None, 0, {"until": 5, "exp": 0}),  # first: the initial wait
        ({"until": 5, "exp": 0}, 6, {"until": 16, "exp": 1}),  # came again soon: doubles
        ({"until": 16, "exp": 1}, 17, {"until": 37, "exp": 2}),
        ({"until": 37, "exp": 2}, 38, {"until": 68, "exp": 2}),  # 40m > max: capped at 30m
        ({"until": 16, "exp": 1}, 60, {"until": 65, "exp": 0}),  # quiet for long: back down
        ({"until": 16, "exp": 2}, 41, {"until": 51, "exp": 1}),  # a while: one step down
    ],
)
def test_next_realert(
    state: dict[str, int] | None, t_minute: int, expected: dict[str, int]
) -> None:
    in_ms = None if state is None else RealertState(state["until"] * M, state["exp"])
    got = next_realert(CONFIG, in_ms, t_minute * M)
    assert {"until": got.until_ms // M, "exp": got.exp} == expected


def test_realert_wait() -> None:
    assert realert_wait(None, 0) is None
    assert realert_wait(RealertState(5 * M, 0), 4 * M) == 5 * M
    assert realert_wait(RealertState(5 * M, 0), 5 * M) is None


def test_a_flapping_record_rule_realerts_less_and_less_often(tmp_path: Path) -> None:
    rulebook = rulebook_from_yaml(
        tmp_path,
        """
rules:
  - id: oom
    source: metric
    match: name == "oom"
    window: {size: 1m, stat: max}
    condition: value > 1
    group_by: [host]
    actions:
      - type: alert
        realert: {initial: 2m, max: 8m}
""",
    )
    run = Run(rulebook)
    # fires and resolves every other minute for 30 minutes
    sent = run.windows("oom", {"host": "a"}, [2, 0] * 15)
    firing = [minute for minute, _, status in sent if status == "firing"]
    # decided at the window ends (minute + 1): waits of 2, 4 (it came again at once),
    # then 8 (capped at max)
    assert firing == [0, 2, 6, 14, 22]
    assert "cooldown" in run.reasons()
