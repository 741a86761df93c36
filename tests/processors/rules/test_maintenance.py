"""Maintenance windows: cron on a zone's wall clock (DST included), open/closed at a
time, muting the alerts of a rule or of matching labels, and `opsrules check`'s errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from processors.rules import maintenance
from processors.rules.loader import load_rules
from processors.rules.maintenance import CronError, check_cron, open_window
from processors.timestamps import format_ts
from tests.processors.decisions.decision_runs import Run, minute_ms
from tests.processors.rulebook_factory import rulebook_from_yaml

BERLIN = ZoneInfo("Europe/Berlin")


def berlin_ms(*parts: int, fold: int = 0) -> int:
    return round(datetime(*parts, tzinfo=BERLIN, fold=fold).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("61 * * * *", "minute: 61 is out of range 0-59", 1),
        ("0 25 * * *", "hour: 25 is out of range 0-23", 3),
        ("0 2 * * mon-frx", "day of week: 'frx' is not a number", 13),
        ("0,61 * * * *", "minute: 61 is out of range 0-59", 3),
        ("*/0 * * * *", "minute: a step of 0", 3),
        ("5-1 * * * *", "minute: range 5-1 runs backwards", 1),
        ("0 2 * *", "has 5 fields", 8),
        ("0 2 * * * 2026", "has 5 fields", 11),
        ("0 2 30 feb *", "never matches a date", 1),
    ],
)
def test_bad_cron_expressions_name_the_field_and_column(
    text: str, message: str, column: int
) -> None:
    with pytest.raises(CronError) as caught:
        check_cron(text)
    assert message in str(caught.value)
    assert caught.value.column == column


@pytest.mark.parametrize("text", ["0 2 * * *", "*/15 8-18 * * mon-fri", "30 1 1,15 jan,jul *"])
def test_good_cron_expressions(text: str) -> None:
    check_cron(text)


# "30 2 * * *" in Berlin, 1 hour: (wall-clock time of t, open?, start of the window)
@pytest.mark.parametrize(
    ("t_ms", "start_ms"),
    [
        (berlin_ms(2026, 7, 1, 2, 29), None),
        (berlin_ms(2026, 7, 1, 2, 30), berlin_ms(2026, 7, 1, 2, 30)),  # summer: +02:00
        (berlin_ms(2026, 7, 1, 3, 29), berlin_ms(2026, 7, 1, 2, 30)),
        (berlin_ms(2026, 7, 1, 3, 30), None),  # closes after the duration
        (berlin_ms(2026, 12, 1, 2, 45), berlin_ms(2026, 12, 1, 2, 30)),  # winter: +01:00
        # 29 March: 02:00 → 03:00, 02:30 does not exist: the window opens at 03:30
        (berlin_ms(2026, 3, 29, 3, 20), None),
        (berlin_ms(2026, 3, 29, 3, 45), berlin_ms(2026, 3, 29, 3, 30)),
        # 25 October: 03:00 → 02:00, 02:30 happens twice: the first one opens it
        (berlin_ms(2026, 10, 25, 2, 40), berlin_ms(2026, 10, 25, 2, 30)),
        (berlin_ms(2026, 10, 25, 2, 10, fold=1), berlin_ms(2026, 10, 25, 2, 30)),
    ],
)
def test_open_windows_follow_the_wall_clock(t_ms: int, start_ms: int | None) -> None:
    opened = open_window("nightly", "30 2 * * *", "Europe/Berlin", 3_600_000, t_ms)
    assert (opened.start_ms if opened else None) == start_ms


RULES = """
maintenance_windows:
  - name: db_patching
    cron: "{db_cron}"
    duration: 10m
    matchers: ['host=~"db-.*"']
rules:
  - id: hot
    source: metric
    match: name == "t"
    window: {{size: 1m, stat: max}}
    condition: value > 1
    group_by: [host]
    maintenance:
      - name: web_deploys
        cron: "{web_cron}"
        duration: 3m
"""


@pytest.mark.parametrize(
    ("cron", "time_zone", "first_ms"),
    [
        ("*/5 * * * *", "Europe/Berlin", 1_774_744_200_000),  # across the March 2026 DST change
        ("0 2 * * *", "America/New_York", 1_793_500_000_000),
        # an offset of -0:44:30: starts fall 30 s into a UTC minute
        ("*/2 * * * *", "Africa/Monrovia", -100_000_000_000),
    ],
)
def test_the_latest_start_read_once_a_minute_is_the_exact_one(
    cron: str, time_zone: str, first_ms: int
) -> None:
    for step in range(400):
        t_ms = first_ms + step * 7_919  # 7.919 s: every second of a minute comes round
        exact = maintenance._latest_start_ms(cron, time_zone, t_ms)
        assert maintenance.latest_start_ms(cron, time_zone, t_ms) == exact, t_ms


def test_a_rule_window_and_a_label_window_mute_their_alerts(tmp_path: Path) -> None:
    # T0 is 20:54 UTC: the web window is open 20:54-20:57, the db one 20:54-21:04
    rulebook = rulebook_from_yaml(
        tmp_path, RULES.format(db_cron="54 20 * * *", web_cron="54 20 * * *")
    )
    run = Run(rulebook)
    # windows end at minute + 1: minutes 0 and 1 end inside the web window
    assert run.windows("hot", {"host": "web-1"}, [2, 2, 2, 2, 0]) == [
        (2, "alert", "firing"),  # the window closed at 20:57 while it still fires
        (4, "alert", "resolved"),
    ]
    first = run.outcomes[0].decisions[0]
    assert first.reason == "maintenance"
    assert first.suppressed_by == {
        "maintenance_window": "web_deploys",
        "from": format_ts(minute_ms(0)),
        "until": format_ts(minute_ms(3)),
    }
    db = Run(rulebook)
    assert db.windows("hot", {"host": "db-1"}, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]) == [
        (9, "alert", "firing")  # the label window (10m) outlasts the rule's (3m)
    ]
    windows = [d.suppressed_by.get("maintenance_window") for o in db.outcomes for d in o.decisions]
    # muted by the rule's window, then (recorded once more) by the label window
    assert windows == ["web_deploys", "db_patching", None]
    # a host outside both (at another time) is not muted
    later = Run(rulebook)
    assert later.windows("hot", {"host": "web-1"}, [2], first=30) == [(30, "alert", "firing")]


def test_check_reports_bad_cron_and_time_zones_at_their_place(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.yaml"
    path.write_text(
        """\
maintenance_windows:
  - name: nightly
    cron: "0 25 * * *"
    duration: 1h
    time_zone: Europe/Berln
    matchers: [team=infra]
rules:
  - id: hot
    source: metric
    maintenance:
      - name: deploys
        cron: '*/5 * * * mon-frx'
        duration: 10m
"""
    )
    assert [str(e).replace(str(path), "f.yaml") for e in load_rules([path]).errors] == [
        "f.yaml:3:14: maintenance_windows.cron: hour: 25 is out of range 0-23",
        "f.yaml:5:5: maintenance_windows.time_zone: unknown time zone 'Europe/Berln' "
        "(did you mean 'Europe/Berlin'?)",
        "f.yaml:12:30: rule hot: maintenance.cron: day of week: 'frx' is not a number "
        "(names: sun, mon, tue, wed, thu, fri, sat)",
    ]
