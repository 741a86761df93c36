"""The backup RPO clock against hand-computed tables, through the production cores offline:
successful backups at given minutes, ``every`` and ``grace``, and the minutes at which
``<id>_missed`` fires (a success is due ``every + grace`` after the last one; one alert
per silence; an entity never backed up successfully is not watched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.timestamps import parse_ts_ms
from streams.offline import run_offline
from tests.processors.rulebook_factory import rulebook_from_yaml

M = 60_000
T0 = 1_795_899_240_000  # a whole minute


def backups(every: str, grace: str) -> str:
    return f"""
backups:
  - id: db_backup
    match: entity == "db"
    every: {every}
    grace: {grace}
"""


def success(minute: int) -> tuple[str, dict[str, Any]]:
    event = {"type": "backup", "entity": "db", "status": "succeeded", "size_bytes": 10**7}
    return ("events", {"ts": T0 + minute * M, **event})


def tick(minute: int) -> tuple[str, dict[str, Any]]:
    """Another entity's event: it moves the partition's event clock."""
    return ("events", {"ts": T0 + minute * M, "type": "change", "entity": "dns"})


@pytest.mark.parametrize(
    ("every", "grace", "successes", "missed"),
    [
        # due 70 after each: 0 -> 70 (none came) -> missed at 70, once
        ("1h", "10m", [0], [70]),
        # 0, 60, 120 all on time; the last is due at 190: missed at 190
        ("1h", "10m", [0, 60, 120], [190]),
        # 0, 70 (exactly at its deadline: on time), then due 140: missed at 140
        ("1h", "10m", [0, 70], [140]),
        # 0, 71 (a minute late): missed at 70; then watched from 71, due 141: missed again
        ("1h", "10m", [0, 71], [70, 141]),
        # a tight cadence: every 15m, grace 5m: 0, 20, 40 on time, due 60: missed at 60
        ("15m", "5m", [0, 20, 40], [60]),
        # a day's cadence with an hour of grace: 0 and 1440 + 60 = 1500 exactly: on time
        ("1d", "1h", [0, 1500], [3000]),
        # never a success: nothing watched, nothing missed
        ("1h", "10m", [], []),
    ],
)
def test_missed_fires_every_plus_grace_after_the_last_success(
    tmp_path: Path, every: str, grace: str, successes: list[int], missed: list[int]
) -> None:
    rulebook = rulebook_from_yaml(tmp_path, backups(every, grace))
    end = max([*successes, *missed, 0]) + 120
    records = sorted(
        [success(m) for m in successes] + [tick(m) for m in range(0, end, 5)],
        key=lambda item: item[1]["ts"],
    )
    run = run_offline(rulebook, records)
    fired = [
        (parse_ts_ms(a.ts) - T0) // M
        for a in run.actions
        if a.rule_id == "db_backup_missed" and a.type == "alert"
    ]
    assert fired == missed
