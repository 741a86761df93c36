"""Loading backups (``backups:``): every error at its line and column under the ``backup
<id>:`` prefix, and the rules each backup compiles into; and a hand-written rule of the
type those use for a stuck backup, ``unfinished``."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.rules.loader import load_rules
from tests.processors.rules.rule_file import errors_of, load, rules_of

BACKUP = """\
backups:
  - id: orders_backup
    match: entity == "orders-db"
    every: 1h
"""
FULL = BACKUP + "    max_duration: 30m\n    min_size_bytes: 1048576\n"
IDS = ["orders_backup_failed", "orders_backup_missed"]
ALL_IDS = [*IDS, "orders_backup_stuck", "orders_backup_too_small"]

UNFINISHED = """\
rules:
  - id: deploy_stuck
    type: unfinished
    source: event
    match: type == "deploy"
    group_by: [entity]
    unfinished:
      start: status == "started"
      end: status in ["succeeded", "failed"]
      within: 15m
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # an unknown field of the backup itself
            BACKUP + "    evry: 2h\n",
            ["r.yaml:5:5: backup orders_backup: unknown field 'evry' (did you mean 'every'?)"],
        ),
        (  # inside the overrides of one alert
            BACKUP + "    missed:\n      severty: error\n",
            [
                "r.yaml:6:7: backup orders_backup: unknown field 'severty' (did you mean "
                "'severity'?)"
            ],
        ),
        (  # the same in a flow mapping: at the key
            BACKUP + "    missed: {severty: error}\n",
            [
                "r.yaml:5:14: backup orders_backup: unknown field 'severty' (did you mean "
                "'severity'?)"
            ],
        ),
        (
            BACKUP.replace("every: 1h", "every: 1hour"),
            [
                "r.yaml:4:5: backup orders_backup: every: '1hour' is not a duration; use a "
                "number and a unit: ms, s, m, h, d, w (e.g. '30s', '5m', '1h30m')"
            ],
        ),
        (
            BACKUP + "    grace: 0s\n",
            ["r.yaml:5:5: backup orders_backup: grace: must be longer than 0"],
        ),
        (
            BACKUP + "    min_size_bytes: 0\n",
            [
                "r.yaml:5:5: backup orders_backup: min_size_bytes: Input should be greater "
                "than or equal to 1"
            ],
        ),
        (
            BACKUP.replace("    every: 1h\n", ""),
            ["r.yaml:2:5: backup orders_backup: missing required field 'every'"],
        ),
        (  # ops.events records have no 'entty'
            BACKUP.replace('entity == "orders-db"', 'entty == "orders-db"'),
            [
                "r.yaml:3:12: backup orders_backup: match: unknown field 'entty' (did you mean "
                "'entity'?)"
            ],
        ),
        (  # a template of missed that reads a name its match lacks
            BACKUP + '    missed:\n      annotations:\n        summary: "{{ last_tss }}"\n',
            [
                "r.yaml:7:18: backup orders_backup: annotations.summary: template reads unknown "
                "field 'last_tss' (did you mean 'last_ts'?)"
            ],
        ),
        (  # stuck's templates see what an unfinished match carries
            FULL + '    stuck: {annotations: {summary: "{{ runing_s }}"}}\n',
            [
                "r.yaml:7:36: backup orders_backup: annotations.summary: template reads unknown "
                "field 'runing_s' (did you mean 'running_s'?)"
            ],
        ),
        (
            BACKUP + '    failed:\n      annotations: {runbook: "{{ entity | nosuch }}"}\n',
            [
                "r.yaml:6:30: backup orders_backup: annotations.runbook: template does not "
                "parse: No filter named 'nosuch'. (line 1)"
            ],
        ),
        (  # the rule is in the same file, after the backup; rules are read first
            BACKUP + "rules:\n  - id: orders_backup_failed\n    source: event\n",
            [
                "r.yaml:2:5: backup orders_backup: its rule orders_backup_failed has the id of "
                "a rule at r.yaml:6:5"
            ],
        ),
        (  # stuck is one of its rules only with max_duration
            FULL + "rules:\n  - id: orders_backup_stuck\n    source: event\n",
            [
                "r.yaml:2:5: backup orders_backup: its rule orders_backup_stuck has the id of "
                "a rule at r.yaml:8:5"
            ],
        ),
    ],
)
def test_a_broken_backup_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert errors_of(tmp_path, text) == expected


def test_a_rule_with_the_id_of_a_rule_a_backup_does_not_make_is_no_collision(
    tmp_path: Path,
) -> None:
    text = BACKUP + "rules:\n  - id: orders_backup_stuck\n    source: event\n"
    assert sorted(rules_of(tmp_path, text)) == [*IDS, "orders_backup_stuck"]


def test_a_backup_in_one_file_collides_with_a_rule_in_another(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BACKUP)
    (tmp_path / "b.yaml").write_text("rules:\n  - id: orders_backup_missed\n    source: event\n")
    assert [str(e).replace(str(tmp_path) + "/", "") for e in load_rules([tmp_path]).errors] == [
        "b.yaml:2:5: rule orders_backup_missed: duplicate rule id (first defined at a.yaml:2:5)"
    ]


def test_every_error_of_every_backup_is_collected_in_file_order(tmp_path: Path) -> None:
    text = (
        BACKUP.replace('entity == "orders-db"', 'entty == "orders-db"')
        + "    missed: {severty: error}\n"
        + "  - id: users_backup\n"
        + "    every: 1d\n"
        + "    min_size_bytes: 0\n"
        + "rules:\n"
        + "  - id: users_backup_failed\n"
        + "    source: event\n"
    )
    assert errors_of(tmp_path, text) == [
        "r.yaml:3:12: backup orders_backup: match: unknown field 'entty' (did you mean 'entity'?)",
        "r.yaml:5:14: backup orders_backup: unknown field 'severty' (did you mean 'severity'?)",
        "r.yaml:6:5: backup users_backup: its rule users_backup_failed has the id of a rule at "
        "r.yaml:10:5",
        "r.yaml:8:5: backup users_backup: min_size_bytes: Input should be greater than or "
        "equal to 1",
    ]
    # nothing of a backup its model or expressions refuse is loaded
    assert [item.rule.id for item in load(tmp_path, text).rules] == ["users_backup_failed"]


def test_a_backup_compiles_into_a_failed_and_a_missed_rule(tmp_path: Path) -> None:
    result = load(tmp_path, BACKUP)
    assert result.ok, [str(e) for e in result.errors]
    assert [(item.rule.id, item.line) for item in result.rules] == [(i, 2) for i in IDS]
    failed, missed = (item.rule for item in result.rules)
    assert (failed.type, failed.source, failed.match) == (
        "threshold",  # a rule on single records
        "event",
        'type in ["backup", "restore_test"] and (entity == "orders-db") and status == "failed"',
    )
    assert failed.window is None and failed.flatline is None
    assert (missed.type, missed.source, missed.match) == (
        "flatline",
        "event",
        'type == "backup" and (entity == "orders-db") and status == "succeeded"',
    )
    assert missed.flatline is not None
    assert missed.flatline.model_dump() == {
        "fewer_than": 1,
        "timeframe_ms": 70 * 60_000,  # every (1h) + the default grace (10m)
        "grace_ms": 10_000,
    }
    assert failed.description == "orders_backup: a backup or a restore test failed"
    assert missed.description == (
        "orders_backup: no successful backup within every + grace of the last"
    )
    assert failed.annotations == {
        "summary": "{{ type | replace('_', ' ') }} of {{ entity }} failed"
        "{% if message %}: {{ message }}{% endif %}"
    }
    assert missed.annotations == {
        "summary": "no successful backup of {{ entity }} since {{ last_ts }}"
    }
    for rule in (failed, missed):
        assert (rule.group_by, rule.tags, rule.severity, rule.labels, rule.enabled) == (
            ["entity"],
            ["backup"],
            "warning",
            {},
            True,
        )
        assert [(a.type, a.params) for a in rule.actions] == [("alert", {})]
    assert len({item.version for item in result.rules}) == 2


def test_max_duration_adds_a_stuck_rule_and_min_size_bytes_a_too_small_one(
    tmp_path: Path,
) -> None:
    rules = rules_of(tmp_path, FULL + "    grace: 20m\n")
    assert list(rules) == ALL_IDS
    stuck, small = rules["orders_backup_stuck"], rules["orders_backup_too_small"]
    assert (stuck.type, stuck.match) == (
        "unfinished",
        'type == "backup" and (entity == "orders-db")',
    )
    assert stuck.unfinished is not None
    assert stuck.unfinished.model_dump() == {
        "start": 'status == "started"',
        "end": 'status in ["succeeded", "failed"]',
        "within_ms": 30 * 60_000,  # max_duration; grace is the backup's lateness, not its
        "grace_ms": 10_000,
        "max_keys": 100_000,
    }
    assert stuck.annotations == {
        "summary": "backup of {{ entity }} started {{ started }} and not finished after "
        "{{ running_s | duration }}"
    }
    assert (small.type, small.match) == (
        "threshold",
        'type == "backup" and (entity == "orders-db") and status == "succeeded" '
        "and size_bytes < 1048576",
    )
    assert small.annotations == {
        "summary": "backup of {{ entity }} is only {{ size_bytes | bytes }}"
    }
    assert small.description == "orders_backup: a successful backup under 1048576 bytes"
    missed = rules["orders_backup_missed"]
    assert missed.flatline is not None and missed.flatline.timeframe_ms == 80 * 60_000
    assert all(rule.group_by == ["entity"] for rule in rules.values())


@pytest.mark.parametrize(
    ("extra", "ids"),
    [
        ("    max_duration: 30m\n", [*IDS, "orders_backup_stuck"]),
        ("    min_size_bytes: 1\n", [*IDS, "orders_backup_too_small"]),
        ("", IDS),
    ],
)
def test_the_optional_rules_exist_only_with_their_setting(
    tmp_path: Path, extra: str, ids: list[str]
) -> None:
    assert list(rules_of(tmp_path, BACKUP + extra)) == ids


def test_the_backups_settings_and_the_overrides_of_each_alert(tmp_path: Path) -> None:
    text = FULL + (
        "    description: orders every hour\n"
        "    severity: error\n"
        "    labels: {team: data, tier: '1'}\n"
        "    actions:\n"
        "      - type: incident\n"
        "        params: {title: 'backup of {{ entity }}'}\n"
        "    missed:\n"
        "      severity: critical\n"
        "      labels: {tier: '0', pager: 'yes'}\n"
        "      annotations:\n"
        '        runbook: "https://runbooks.example/{{ entity }}"\n'
        "      actions:\n"
        "        - type: alert\n"
        "        - type: heal\n"
        "          params: {command: run_backup, target: '{{ entity }}'}\n"
        "          verify: {after: 1h, escalate: {type: incident}}\n"
        "    too_small:\n"
        '      annotations: {summary: "{{ entity }}: {{ size_bytes }} bytes"}\n'
    )
    rules = rules_of(tmp_path, text)
    missed = rules.pop("orders_backup_missed")
    assert missed.severity == "critical"
    assert missed.labels == {"team": "data", "tier": "0", "pager": "yes"}  # missed's win
    assert missed.annotations == {  # the default summary stays beside the runbook
        "summary": "no successful backup of {{ entity }} since {{ last_ts }}",
        "runbook": "https://runbooks.example/{{ entity }}",
    }
    assert [(a.type, a.params) for a in missed.actions] == [
        ("alert", {}),
        ("heal", {"command": "run_backup", "target": "{{ entity }}"}),
    ]
    heal = missed.actions[1]
    assert heal.verify is not None and heal.verify.after_ms == 3_600_000
    assert missed.description == (
        "orders every hour: no successful backup within every + grace of the last"
    )
    assert rules["orders_backup_too_small"].annotations == {
        "summary": "{{ entity }}: {{ size_bytes }} bytes"
    }
    for rule in rules.values():  # the backup's settings
        assert (rule.severity, rule.labels) == ("error", {"team": "data", "tier": "1"})
        assert [(a.type, a.params) for a in rule.actions] == [
            ("incident", {"title": "backup of {{ entity }}"})
        ]
        assert rule.description.startswith("orders every hour: ")


@pytest.mark.parametrize(
    ("extra", "enabled"),
    [
        ("    enabled: false\n", (False, False, False, False)),
        ("    stuck: {enabled: false}\n", (True, True, False, True)),
        ("    failed: {enabled: false}\n", (False, True, True, True)),
        ("    enabled: false\n    missed: {enabled: true}\n", (False, False, False, False)),
    ],
)
def test_a_disabled_backup_or_alert_is_loaded_but_not_enabled(
    tmp_path: Path, extra: str, enabled: tuple[bool, ...]
) -> None:
    rules = rules_of(tmp_path, FULL + extra)
    assert tuple(rules[rule_id].enabled for rule_id in ALL_IDS) == enabled


def test_macros_and_lists_in_a_backups_match_are_expanded_in_its_rules(tmp_path: Path) -> None:
    text = (
        'macros:\n  orders: entity == "orders-db"\nlists:\n  replicas: [orders-db-2, orders-db-3]\n'
        + FULL.replace('entity == "orders-db"', "orders or entity in replicas")
    )
    expanded = 'entity == "orders-db" or entity in ["orders-db-2", "orders-db-3"]'
    rules = rules_of(tmp_path, text)
    assert rules["orders_backup_failed"].match == (
        f'type in ["backup", "restore_test"] and ({expanded}) and status == "failed"'
    )
    assert rules["orders_backup_stuck"].match == f'type == "backup" and ({expanded})'
    assert rules["orders_backup_too_small"].match.startswith(f'type == "backup" and ({expanded})')


def test_a_backup_without_match_watches_every_entity(tmp_path: Path) -> None:
    rules = rules_of(tmp_path, "backups:\n  - id: all_backups\n    every: 1d\n")
    assert rules["all_backups_missed"].match == (
        'type == "backup" and (true) and status == "succeeded"'
    )


def test_the_shipped_backups_load_into_their_rules() -> None:
    shipped = Path(__file__).resolve().parents[3] / "rules" / "backups.yaml"
    result = load_rules([shipped])
    assert result.ok, [str(e) for e in result.errors]
    by_id = {item.rule.id: item.rule for item in result.rules}
    assert list(by_id) == ALL_IDS
    missed = by_id["orders_backup_missed"]
    assert missed.flatline is not None and missed.flatline.timeframe_ms == 70 * 60_000
    assert (missed.severity, missed.labels) == ("error", {"team": "data"})
    assert [a.type for a in missed.actions] == ["alert", "heal"]
    assert missed.actions[1].params == {"command": "run_backup", "target": "{{ entity }}"}


# --- a hand-written rule of type unfinished ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            UNFINISHED.replace('start: status == "started"', 'start: statu == "started"'),
            [
                "r.yaml:8:14: rule deploy_stuck: unfinished.start: unknown field 'statu' (did "
                "you mean 'status'?)"
            ],
        ),
        (  # in a flow mapping: at the name's own column
            UNFINISHED.split("    unfinished:")[0]
            + "    unfinished: {start: 'status == \"started\"', end: stats == 1, within: 15m}\n",
            [
                "r.yaml:7:53: rule deploy_stuck: unfinished.end: unknown field 'stats' (did you "
                "mean 'status'?)"
            ],
        ),
        (
            UNFINISHED.replace("      within: 15m\n", "      withn: 15m\n"),
            [
                "r.yaml:7:5: rule deploy_stuck: missing required field 'within'",
                "r.yaml:10:7: rule deploy_stuck: unknown field 'withn' (did you mean 'within'?)",
            ],
        ),
        (
            UNFINISHED + '    annotations: {summary: "{{ started_at }}"}\n',
            [
                "r.yaml:11:28: rule deploy_stuck: annotations.summary: template reads unknown "
                "field 'started_at' (did you mean 'started'?)"
            ],
        ),
    ],
)
def test_a_broken_unfinished_rule_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert errors_of(tmp_path, text) == expected


def test_an_unfinished_rules_start_and_end_are_run_with_their_macros_expanded(
    tmp_path: Path,
) -> None:
    text = 'macros:\n  started: status == "started"\nlists:\n  over: [succeeded, failed]\n' + (
        UNFINISHED.replace('start: status == "started"', "start: started").replace(
            'end: status in ["succeeded", "failed"]', "end: status in over"
        )
    )
    rule = rules_of(tmp_path, text)["deploy_stuck"]
    assert rule.unfinished is not None
    assert (rule.unfinished.start, rule.unfinished.end, rule.unfinished.within_ms) == (
        'status == "started"',
        'status in ["succeeded", "failed"]',
        15 * 60_000,
    )
