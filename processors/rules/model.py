"""The rule file format, as pydantic models (``extra="forbid"``: a typo is an error).

```yaml
rules:
  - id: host_cpu_saturated        # stable snake_case, unique across files
    description: Mean CPU above 90% for 5 minutes
    source: metric                # metric | log | security | health | event | signal
    match: name == "system.cpu.utilization"
    window: {size: 1m, stat: mean}
    condition: value > 0.9
    for: 5m
    keep_firing_for: 1m
    group_by: [host]
    severity: critical            # info | warning | error | critical
    labels: {team: infra}
    annotations:
      summary: "CPU {{ value }} on {{ host }}"
    actions:
      - type: alert
      - type: scale
        params: {delta: 1}
        cooldown: 10m
    exceptions:                   # records that never match: expressions or
      - host in batch_hosts       #   field -> value(s) mappings (every field matches)
      - {service: checkout, host: [web-1, web-2]}
    tags: [capacity]
macros:                           # named expressions, usable in any expression of any file
  cpu_metric: name == "system.cpu.utilization"
lists:                            # named value lists, for 'x in batch_hosts'
  batch_hosts: [batch-1, batch-2]
```

Durations (``processors.rules.durations``) are strings like ``500ms``, ``30s``, ``5m``,
``1h30m``, ``1d`` (or a number of seconds), held in milliseconds (fields ending in
``_ms``).

This module holds the rule (``Rule``) and the file (``RuleFile``); their sections are
modelled by concept: rule types' settings and the threshold's window in
:mod:`processors.rules.rule_types`, actions in :mod:`processors.rules.actions`, flap
detection, maintenance windows and inhibit rules in
:mod:`processors.rules.noise_control`, the strict base they share in
:mod:`processors.rules.model_base`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from processors.records import Severity, Source
from processors.rules.actions import ActionConfig
from processors.rules.autoscalers import Autoscaler
from processors.rules.backups import Backup
from processors.rules.canaries import Canary
from processors.rules.durations import DurationMs
from processors.rules.fields import default_window_value
from processors.rules.model_base import RULE_ID, Name, StrictModel
from processors.rules.noise_control import (
    FlappingConfig,
    InhibitRule,
    LabelMaintenanceWindow,
    MaintenanceWindow,
)
from processors.rules.rule_types import (
    TYPE_BLOCKS,
    AutoscaleRuleConfig,
    CanaryRuleConfig,
    CardinalityConfig,
    ChangeConfig,
    FlatlineConfig,
    FrequencyConfig,
    NewTermConfig,
    RuleType,
    SequenceConfig,
    SloRuleConfig,
    SpikeConfig,
    UnfinishedConfig,
    WindowConfig,
)
from processors.rules.slos import Slo

TAG = r"^[^\s,]+$"

Value = str | int | float | bool  # a literal in a list or an exception (null is not one)


def _value(value: object) -> Value:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("a value is a string, a number, true or false")


def _values(value: object) -> Value | list[Value]:
    if isinstance(value, list):
        return [_value(item) for item in value]
    return _value(value)


_VALUE_SCHEMA: dict[str, Any] = {"type": ["string", "number", "boolean"]}
ListValue = Annotated[Value, PlainValidator(_value), WithJsonSchema(_VALUE_SCHEMA)]
FieldValues = Annotated[
    Value | list[Value],
    PlainValidator(_values),
    WithJsonSchema({"anyOf": [_VALUE_SCHEMA, {"type": "array", "items": _VALUE_SCHEMA}]}),
]


def _exception_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "expression"
    return "fields" if isinstance(value, dict) else None


ExceptionItem = Annotated[
    Annotated[
        str,
        Tag("expression"),
        Field(description="An expression over the record: a record it is true for is left out."),
    ]
    | Annotated[
        dict[str, FieldValues],
        Tag("fields"),
        Field(
            description="Field path -> a value (==) or a list of values (in); a record "
            "matching every field is left out."
        ),
    ],
    Discriminator(
        _exception_kind,
        custom_error_type="exception_kind",
        custom_error_message="an exception is an expression (a string) or a mapping of "
        "field to value or list of values",
    ),
]


_EXPRESSION = (
    "An expression: fields, literals, == != < <= > >=, in, not in, startswith, "
    "endswith, contains, matches (RE2), and, or, not, + - * / %, macros and lists."
)


# A hand-written rule of type slo, or with an slo: block (made from slos:, never written).
# Rules of these types are made from a section of their own, never written by hand (nor
# their blocks): the message that says so, by type.
MADE_FROM = {
    "slo": "type slo: an SLO's rules are made from its entry under 'slos:' "
    '(rules/README.md, "SLOs and error budgets")',
    "autoscale": "type autoscale: an autoscaler's rule is made from its entry under "
    "'autoscalers:' (rules/README.md, \"Autoscaling\")",
    "canary": "type canary: a canary analysis's rules are made from its entry under "
    "'canaries:' (rules/README.md, \"Canary analysis\")",
}


class Rule(StrictModel):
    """A rule: which records, what condition, when it fires, which actions."""

    id: str = Field(
        pattern=RULE_ID,
        max_length=128,
        description="Stable snake_case id, unique across files; never rename it.",
        json_schema_extra={"patternErrorMessage": "snake_case: a-z, 0-9 and _"},
    )
    description: str = ""
    source: Source = Field(description="Which records the rule reads.")
    # -- rule type (the blocks below) ----------------------------------------------------
    type: RuleType = Field(
        "threshold",
        description="threshold (default: window and condition, or single records), "
        "frequency, flatline, change, new_term, cardinality, spike, sequence or unfinished; "
        "the type's settings go in the block of the same name.",
    )
    match: str = Field("true", description=f"Which records (default: all). {_EXPRESSION}")
    window: WindowConfig | None = None
    # -- rule types' settings: the one named by type -------------------------------------
    frequency: FrequencyConfig | None = None
    flatline: FlatlineConfig | None = None
    change: ChangeConfig | None = None
    new_term: NewTermConfig | None = None
    cardinality: CardinalityConfig | None = None
    spike: SpikeConfig | None = None
    sequence: SequenceConfig | None = None
    unfinished: UnfinishedConfig | None = None
    # made from an entry of 'slos:', never written by hand: not in the schema
    slo: SkipJsonSchema[SloRuleConfig | None] = None
    autoscale: SkipJsonSchema[AutoscaleRuleConfig | None] = None  # from autoscalers:
    canary: SkipJsonSchema[CanaryRuleConfig | None] = None  # from canaries:
    # -- end of rule types' settings -----------------------------------------------------
    condition: str = Field(
        "true",
        description="When the alert is active (default: true). With a window it sees "
        f"'value', every stat by name and the group_by fields. {_EXPRESSION}",
    )
    for_ms: DurationMs = Field(
        0, alias="for", description="Active this long before firing (needs a window)."
    )
    keep_firing_for_ms: DurationMs | None = Field(
        None,
        alias="keep_firing_for",
        description="Keep firing this long after the condition stops (default 0; 5m for "
        "rules on single records).",
    )
    group_by: list[str] = Field(
        default_factory=list, description="Fields whose values identify one alert."
    )
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict, description="Copied onto every action.")
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Templates ('{{ host }}'); 'summary' is the headline.",
    )
    actions: list[ActionConfig] = Field(
        default_factory=lambda: [ActionConfig(type="alert")],
        min_length=1,
        description="Default: one alert.",
    )
    exceptions: list[ExceptionItem] = Field(
        default_factory=list,
        description="Records the rule never matches (an allow-list): a record matching any "
        "exception is left out.",
    )
    tags: list[
        Annotated[str, Field(pattern=TAG, json_schema_extra={"patternErrorMessage": "one word"})]
    ] = Field(default_factory=list, description="Free-form words to find and group rules by.")
    enabled: bool = Field(True, description="false: the rule is checked but not run.")
    # -- decision side -------------------------------------------------------------------
    flapping: FlappingConfig | None = Field(None, description="Flap detection.")
    maintenance: list[MaintenanceWindow] = Field(
        default_factory=list, description="Recurring windows in which the rule sends nothing."
    )
    dry_run: bool = Field(
        False, description="true: decide and record actions (ops.decisions) but send none."
    )

    @field_validator("for_ms")
    @classmethod
    def _for_needs_window(cls, for_ms: int, info: ValidationInfo) -> int:
        # A field validator, not a model one, so that it runs when other fields are wrong
        # too; "window" is missing from info.data when it was wrong itself.
        if for_ms and "window" in info.data and info.data["window"] is None:
            rule_type = info.data.get("type", "threshold")
            if rule_type != "threshold":
                raise ValueError(f"a {rule_type} rule fires on each match; 'for' needs a window")
            raise ValueError("needs a window: a rule on single records fires on the record")
        return for_ms

    # -- rule types ----------------------------------------------------------------------
    @field_validator(*TYPE_BLOCKS)
    @classmethod
    def _settings_of_the_type(cls, block: object, info: ValidationInfo) -> object:
        rule_type, name = info.data.get("type"), info.field_name
        if name in MADE_FROM and block is not None and rule_type != name:
            raise ValueError(MADE_FROM[name])
        if block is not None and rule_type is not None and rule_type != name:
            raise ValueError(
                f"settings of type {name}, but the rule is of type {rule_type} "
                f"(write 'type: {name}', or remove them)"
            )
        return block

    @field_validator("match", "window", "condition", "exceptions")
    @classmethod
    def _fits_the_type(cls, value: Any, info: ValidationInfo) -> Any:
        rule_type, name = info.data.get("type", "threshold"), info.field_name
        if rule_type == "threshold":
            return value
        if name == "window" and value is not None:
            raise ValueError(
                f"a {rule_type} rule has its own timeframe ({rule_type}.timeframe); "
                "window is for threshold rules"
            )
        if name == "condition" and value.strip() != "true" and rule_type != "slo":
            raise ValueError(
                f"a {rule_type} rule has no condition: its {rule_type} settings are the test "
                "(choose records with match)"
            )
        if rule_type == "sequence" and name == "match" and value.strip() != "true":
            raise ValueError("a sequence rule matches records in its steps (sequence.steps)")
        if rule_type == "sequence" and name == "exceptions" and value:
            raise ValueError("a sequence rule has no exceptions: leave records out in its steps")
        return value

    @model_validator(mode="after")
    def _type_has_its_settings(self) -> Rule:
        if self.type in MADE_FROM and getattr(self, self.type) is None:
            raise ValueError(MADE_FROM[self.type])
        if self.type != "threshold" and getattr(self, self.type) is None:
            raise ValueError(
                f"type {self.type} needs its settings under '{self.type}:' (rules/README.md)"
            )
        if self.type == "sequence" and self.source != "signal":
            raise ValueError(
                "a sequence rule joins the step signals of its steps: write 'source: signal' "
                "(each step has its own source)"
            )
        return self

    @property
    def window_value(self) -> str:
        """The window's per-record value expression, defaults applied."""
        assert self.window is not None
        if self.window.value is not None:
            return self.window.value
        return default_window_value(self.source)

    @property
    def windowed(self) -> bool:
        return self.window is not None

    @property
    def evaluated(self) -> bool:
        """Its condition is decided on each evaluation and the alert resolves when it is
        false: a windowed rule (each closed window) and an SLO's (each closed minute)."""
        return self.window is not None or self.slo is not None

    @property
    def stat(self) -> str:
        """What the condition and templates of an evaluated rule see as ``value``: the
        window's stat; for an SLO's page the 1h burn rate, for its ticket the 1d one."""
        if self.window is not None:
            return self.window.stat
        assert self.slo is not None
        return "burn_1h" if self.slo.alert == "page" else "burn_1d"

    @property
    def keep_firing_ms(self) -> int:
        """Rules on single records default to 5m: matches within it are one firing."""
        if self.keep_firing_for_ms is not None:
            return self.keep_firing_for_ms
        return 0 if self.evaluated else 300_000


class RuleFile(StrictModel):
    """A rule file: rules, and the macros and lists any rule of any file may use."""

    macros: dict[Name, str] = Field(
        default_factory=dict,
        description="Named expressions (name: expression), usable in any expression of "
        "any file; a macro may use other macros and lists.",
    )
    lists: dict[Name, list[ListValue]] = Field(
        default_factory=dict,
        description="Named lists of values (name: [values]), for 'field in name'.",
    )
    rules: list[Rule] = Field(default_factory=list)
    slos: list[Slo] = Field(
        default_factory=list,
        description="Service level objectives; each compiles into the rules <id>_page and "
        "<id>_ticket (multi-window burn-rate alerts).",
    )
    backups: list[Backup] = Field(
        default_factory=list,
        description="Backups' checks; each compiles into the rules <id>_failed, <id>_missed "
        "and, when configured, <id>_stuck and <id>_too_small.",
    )
    autoscalers: list[Autoscaler] = Field(
        default_factory=list,
        description="Target tracking, as Kubernetes' HPA; each compiles into the rule <id>, "
        "whose actions scale.",
    )
    canaries: list[Canary] = Field(
        default_factory=list,
        description="Canary analyses of deployments; each compiles into the rules "
        "<id>_rollback and <id>_promote.",
    )
    # -- decision side: for the alerts of every rule of every file ------------------------
    inhibit_rules: list[InhibitRule] = Field(
        default_factory=list, description="Firing alerts that mute others (Alertmanager's)."
    )
    maintenance_windows: list[LabelMaintenanceWindow] = Field(
        default_factory=list, description="Recurring windows for alerts matching labels."
    )
