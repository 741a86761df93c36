"""Backups in rule files (``backups:``): the checks a backup and recovery process needs,
compiled into rules on ``ops.events``.

```yaml
backups:
  - id: orders_backup
    match: entity == "orders-db"         # ops.events records with type "backup"
    every: 1h                            # expected cadence: the RPO
    grace: 10m
    max_duration: 30m                    # optional: started but not finished
    min_size_bytes: 1048576              # optional: suspiciously small backups
    missed:                              # optional overrides per alert: failed, missed,
      actions:                           #   stuck, too_small (severity, labels,
        - type: heal                     #   annotations, actions, enabled)
          params: {command: run_backup, target: orders-db}
          verify: {after: 1h}
```

Events: ``{"type": "backup", "entity": …, "status": "started" | "succeeded" |
"failed", "size_bytes": …, "backup_id": …}``, and ``{"type": "restore_test", "status":
"succeeded" | "failed", …}``.
One alert per ``entity``:

- ``<id>_failed``: a backup or a restore test failed (at once; a rule on single records);
- ``<id>_missed``: no successful backup within ``every + grace`` of the last one, on the
  event clock (``type: flatline``; an entity never backed up is not watched yet);
- ``<id>_stuck``: started and not finished (succeeded or failed) within
  ``max_duration`` (``type: unfinished``);
- ``<id>_too_small``: a successful backup under ``min_size_bytes``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from processors.records import Severity
from processors.rules.actions import ActionConfig
from processors.rules.durations import PositiveDurationMs
from processors.rules.generated import (
    AlertOverride,
    Expanded,
    Expression,
    GeneratedRule,
    Section,
    alert_fields,
    entry_id,
)
from processors.rules.model_base import StrictModel

_ANNOTATIONS = {
    "failed": "{{ type | replace('_', ' ') }} of {{ entity }} failed"
    "{% if message %}: {{ message }}{% endif %}",
    "missed": "no successful backup of {{ entity }} since {{ last_ts }}",
    "stuck": "backup of {{ entity }} started {{ started }} and not finished after "
    "{{ running_s | duration }}",
    "too_small": "backup of {{ entity }} is only {{ size_bytes | bytes }}",
}


class Backup(StrictModel):
    """What a good backup of one or more entities looks like, on ``ops.events``."""

    id: str = entry_id("its rules are <id>_failed, <id>_missed and the others", 110)
    description: str = ""
    match: str = Field(
        "true", description="Which backups, e.g. 'entity == \"orders-db\"' (default: all)."
    )
    every_ms: PositiveDurationMs = Field(
        alias="every", description="Expected cadence: a success at least this often (RPO)."
    )
    grace_ms: PositiveDurationMs = Field(
        600_000, alias="grace", description="How late a backup may be (default 10m)."
    )
    max_duration_ms: PositiveDurationMs | None = Field(
        None, alias="max_duration", description="Started and not finished within: stuck."
    )
    min_size_bytes: int | None = Field(
        None, ge=1, description="A successful backup smaller than this is suspicious."
    )
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict, description="On every alert's actions.")
    actions: list[ActionConfig] | None = Field(
        None, min_length=1, description="Every alert's actions (default: an alert)."
    )
    failed: AlertOverride = Field(default_factory=AlertOverride)
    missed: AlertOverride = Field(default_factory=AlertOverride)
    stuck: AlertOverride = Field(default_factory=AlertOverride)
    too_small: AlertOverride = Field(default_factory=AlertOverride)
    enabled: bool = Field(True, description="false: checked but not run.")


def backup_rules(backup: Backup, expanded: Expanded) -> list[GeneratedRule]:
    """The rules of one ``backups:`` entry, its ``match`` as ``expanded``."""
    match = expanded.get(("match",), backup.match)
    mine = f'type == "backup" and ({match})'
    rules = [
        _rule(
            backup,
            "failed",
            f'type in ["backup", "restore_test"] and ({match}) and status == "failed"',
            "a backup or a restore test failed",
        ),
        _rule(
            backup,
            "missed",
            f'{mine} and status == "succeeded"',
            "no successful backup within every + grace of the last",
            type="flatline",
            flatline={"timeframe": f"{backup.every_ms + backup.grace_ms}ms"},
        ),
    ]
    if backup.max_duration_ms is not None:
        rules.append(
            _rule(
                backup,
                "stuck",
                mine,
                "started and not finished within max_duration",
                type="unfinished",
                unfinished={
                    "start": 'status == "started"',
                    "end": 'status in ["succeeded", "failed"]',
                    "within": f"{backup.max_duration_ms}ms",
                },
            )
        )
    if backup.min_size_bytes is not None:
        small = backup.min_size_bytes
        rules.append(
            _rule(
                backup,
                "too_small",
                f'{mine} and status == "succeeded" and size_bytes < {small}',
                f"a successful backup under {small} bytes",
            )
        )
    return rules


def _rule(backup: Backup, alert: str, match: str, what: str, **typed: Any) -> GeneratedRule:
    summary = _ANNOTATIONS[alert]
    fields = {
        "id": f"{backup.id}_{alert}",
        "description": f"{backup.description or backup.id}: {what}",
        "source": "event",
        "match": match,
        "group_by": ["entity"],
        "tags": ["backup"],
        **typed,
        **alert_fields(
            getattr(backup, alert),
            severity=backup.severity,
            labels=backup.labels,
            annotations={"summary": summary},
            actions=backup.actions,
            enabled=backup.enabled,
        ),
    }
    return GeneratedRule(fields, alert)


SECTION = Section(
    "backups",
    "backup",
    Backup,
    lambda node: "event",
    lambda node: (Expression(("match",), "true", "match"),),
    backup_rules,
    lambda node: (
        ("failed", "missed")
        + (("stuck",) if "max_duration" in node else ())
        + (("too_small",) if "min_size_bytes" in node else ())
    ),
    group_by=(),
)
