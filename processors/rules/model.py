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
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.fields import default_window_value
from processors.rules.label_matchers import MatcherError, parse_matcher
from processors.rules.maintenance import CronError, check_cron, check_time_zone

Source = Literal["metric", "log", "security", "health", "event", "signal"]
Severity = Literal["info", "warning", "error", "critical"]
ActionType = Literal["alert", "heal", "scale", "incident"]

Stat = Literal["count", "sum", "min", "max", "mean", "last", "rate", "p50", "p90", "p99"]

RULE_ID = r"^[a-z][a-z0-9_]*$"
NAME = RULE_ID  # macros and lists: snake_case, no dots (dots make field paths)
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
Name = Annotated[str, Field(pattern=NAME, max_length=128)]


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


# What expressions may name, per source: (fields, prefixes of free-form maps).
def _title(name: str, info: Any) -> str:
    """Schema titles from the names rule authors write (``keep_firing_for``, not
    ``keep_firing_for_ms``)."""
    alias = getattr(info, "alias", None) or name
    return str(alias).replace("_", " ").capitalize()


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, field_title_generator=_title
    )


class WindowConfig(_Strict):
    """A window per ``group_by`` series over the records that ``match``; each closed
    window is evaluated once."""

    size_ms: PositiveDurationMs = Field(alias="size", description="Length of a window.")
    hop_ms: PositiveDurationMs | None = Field(
        None,
        alias="hop",
        description="Start a window every hop (hopping windows); default: size (tumbling).",
    )
    grace_ms: DurationMs = Field(
        10_000,
        alias="grace",
        description="How long a window waits for late records after its end (default 10s).",
    )
    stat: Stat = Field(description="The statistic the condition sees as 'value'.")
    value: str | None = Field(
        None,
        description="Expression giving each record's number; booleans count as 1/0 "
        "(e.g. 'status == \"fail\"'). Default: the field 'value' for metrics, else 1.",
    )

    @model_validator(mode="after")
    def _hop_fits(self) -> WindowConfig:
        if self.hop_ms is not None and self.hop_ms > self.size_ms:
            raise ValueError("hop must not be longer than size")
        return self


# --- Rule types beyond thresholds (processors/firehose/typed_rules.py runs them) ------------------
# Each type's settings are a block named after it; rules/README.md documents them.

RuleType = Literal[
    "threshold", "frequency", "flatline", "change", "new_term", "cardinality", "spike", "sequence"
]
TYPE_BLOCKS: tuple[str, ...] = (
    "frequency",
    "flatline",
    "change",
    "new_term",
    "cardinality",
    "spike",
    "sequence",
)  # the types with settings, each in the block of its name (TYPE_SETTINGS)
_TIMEFRAME = "A sliding timeframe (per group_by key)."
_GRACE = "How long to wait for late records before judging a time (default 10s)."
_FIELD_PATH = "A field of the source's records (e.g. host.name, attributes.version)."


def _timeframe(description: str = _TIMEFRAME) -> Any:
    return Field(alias="timeframe", description=description)


def _grace(default_ms: int = 10_000, description: str = _GRACE) -> Any:
    return Field(default_ms, alias="grace", description=description)


class FrequencyConfig(_Strict):
    """``type: frequency``: at least ``at_least`` matching records within ``timeframe``
    per group_by key (sliding). A match starts the count over."""

    at_least: int = Field(ge=1, le=100_000, description="Records needed within the timeframe.")
    timeframe_ms: PositiveDurationMs = _timeframe()
    grace_ms: DurationMs = _grace()


class FlatlineConfig(_Strict):
    """``type: flatline``: fewer than ``fewer_than`` records within ``timeframe`` for a
    group_by key seen before (``fewer_than: 1``: no record at all). One match per
    silence."""

    fewer_than: int = Field(1, ge=1, le=100_000, description="Default 1: silence.")
    timeframe_ms: PositiveDurationMs = _timeframe()
    grace_ms: DurationMs = _grace()


class ChangeConfig(_Strict):
    """``type: change``: ``field`` differs from the previous record of the group_by key."""

    field: str = Field(description=_FIELD_PATH)
    timeframe_ms: PositiveDurationMs | None = Field(
        None,
        alias="timeframe",
        description="Only a change within this time of the previous record counts.",
    )
    max_keys: int = Field(
        100_000, ge=1, le=10_000_000, description="Keys remembered (least recently seen go)."
    )


class NewTermConfig(_Strict):
    """``type: new_term``: a value of ``fields`` the group_by key never had, once the key
    has been learning for ``learning``."""

    fields: list[str] = Field(
        min_length=1, max_length=8, description="Fields whose values together are a term."
    )
    learning_ms: DurationMs = Field(
        86_400_000, alias="learning", description="Per key, terms are only learnt (default 1d)."
    )
    max_terms: int = Field(
        1000, ge=1, le=1_000_000, description="Terms per key (least recently seen go)."
    )
    max_keys: int = Field(
        10_000, ge=1, le=10_000_000, description="Keys per partition (least recently seen go)."
    )


class CardinalityConfig(_Strict):
    """``type: cardinality``: distinct values of ``field`` within ``timeframe`` per
    group_by key above ``above`` and/or below ``below``."""

    field: str = Field(description=_FIELD_PATH)
    timeframe_ms: PositiveDurationMs = _timeframe()
    above: int | None = Field(None, ge=0, le=100_000, description="More than this many.")
    below: int | None = Field(
        None, ge=1, le=100_000, description="Fewer than this many (keys seen before)."
    )
    grace_ms: DurationMs = _grace()

    @model_validator(mode="after")
    def _a_bound(self) -> CardinalityConfig:
        if self.above is None and self.below is None:
            raise ValueError("give above, below or both")
        return self


class SpikeConfig(_Strict):
    """``type: spike``: a window's record count against the previous window's, per
    group_by key (tumbling windows of ``timeframe``)."""

    timeframe_ms: PositiveDurationMs = _timeframe("Length of each window.")
    ratio: float = Field(gt=1, le=1e9, description="Current at least ratio x previous (up).")
    direction: Literal["up", "down", "both"] = "up"
    min_previous: int = Field(1, ge=0, description="Records the previous window needs.")
    min_current: int = Field(0, ge=0, description="Records the current window needs.")
    grace_ms: DurationMs = _grace()


class SequenceStep(_Strict):
    """One step: which records, and where each group_by value is in them."""

    source: Source
    match: str = Field("true", description="Which records of the source are this step.")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="group_by name -> field path in this step's records (default: the "
        "field of the same name).",
    )


class SequenceConfig(_Strict):
    """``type: sequence``: one record of every step with the same group_by values (the
    join key), in order (``ordered: true``) or in any order, within ``timeframe``."""

    ordered: bool = Field(True, description="Steps in the order written (default true).")
    timeframe_ms: PositiveDurationMs = _timeframe("From the first step's record to the last.")
    grace_ms: DurationMs = _grace(
        60_000, "How late a step may arrive (default 1m; more when a step is a window signal)."
    )
    steps: list[SequenceStep] = Field(min_length=2, max_length=8)
    max_keys: int = Field(
        1_000_000,
        ge=1,
        le=100_000_000,
        description="Pending join keys per signals partition (the oldest go first).",
    )


TYPE_SETTINGS: dict[str, type[_Strict]] = {
    "frequency": FrequencyConfig,
    "flatline": FlatlineConfig,
    "change": ChangeConfig,
    "new_term": NewTermConfig,
    "cardinality": CardinalityConfig,
    "spike": SpikeConfig,
    "sequence": SequenceConfig,
}
# --- end of rule types -------------------------------------------------------------------


# --- The decision side: noise control, remediation safety, the closed loop -------------
# (processors/decisions/decide.py runs them; rules/README.md documents them.)


def _matcher_text(text: str) -> str:
    try:
        parse_matcher(text)
    except MatcherError as exc:
        raise PydanticCustomError("matcher", str(exc), {"column": exc.column}) from None
    return text


def _cron_text(text: str) -> str:
    try:
        check_cron(text)
    except CronError as exc:
        raise PydanticCustomError("cron", str(exc), {"column": exc.column}) from None
    return text


def _time_zone(name: str) -> str:
    check_time_zone(name)
    return name


LabelMatcherText = Annotated[
    str,
    AfterValidator(_matcher_text),
    Field(
        description='Alertmanager label matcher: name=value, name!=value, name=~"regex", '
        'name!~"regex" (RE2, anchored). Labels: alertname (the rule id), severity, the '
        "rule's labels and its group_by values."
    ),
]
CronText = Annotated[
    str,
    AfterValidator(_cron_text),
    Field(
        description="When the window opens: minute hour day-of-month month day-of-week, on "
        "the wall clock of time_zone (e.g. '0 2 * * sun': Sundays at 02:00)."
    ),
]


class FlappingConfig(_Strict):
    """Flap detection: an alert that fires and resolves more than ``changes`` times within
    ``within`` is flapping; it is held firing and notifies nothing until it calms down."""

    changes: int = Field(ge=1, description="More firing/resolved changes than this is flapping.")
    within_ms: PositiveDurationMs = Field(alias="within", description="Counted over this time.")


class RealertConfig(_Strict):
    """Exponential realert (ElastAlert's): after the action is sent, no repeat for
    ``initial``; each repeat that comes while alerts keep coming doubles it, up to ``max``;
    quiet time brings it back down."""

    initial_ms: PositiveDurationMs = Field(alias="initial")
    max_ms: PositiveDurationMs = Field(alias="max")

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RealertConfig:
        if self.max_ms < self.initial_ms:
            raise ValueError("max must not be shorter than initial")
        return self


class BudgetConfig(_Strict):
    """At most ``max`` of this action type per ``per`` (a sliding window of event time),
    counted over every alert of the rule (``by: rule``) or over every rule's actions on the
    same target (``by: target``)."""

    max: int = Field(ge=1, description="Most actions sent per window.")
    per_ms: PositiveDurationMs = Field(alias="per", description="The sliding window.")
    by: Literal["rule", "target"] = Field("rule", description="What is counted together.")


class CircuitBreakerConfig(_Strict):
    """Opens after ``failures`` failed ActionResults in a row for this rule's action on one
    target; half-open after ``cool_off`` (one trial action); closes on a success."""

    failures: int = Field(ge=1)
    cool_off_ms: PositiveDurationMs = Field(alias="cool_off")


class EscalationConfig(_Strict):
    """The action sent when a verified action did not work."""

    type: ActionType = Field(description="Often a different type than the action verified.")
    severity: Severity | None = Field(None, description="Default: the rule's severity.")
    params: dict[str, Any] = Field(default_factory=dict, description="Templates, as actions'.")
    summary: str | None = Field(None, description="A template; default: 'Escalation: …'.")


class VerifyConfig(_Strict):
    """Closed loop: escalate if the condition still holds ``after`` the action, or if the
    executor reports the action failed."""

    after_ms: PositiveDurationMs = Field(alias="after")
    escalate: EscalationConfig


class MaintenanceWindow(_Strict):
    """A recurring window in which the rule's alerts send nothing."""

    name: Name = Field(description="Shown in the decision trail.")
    cron: CronText
    duration_ms: PositiveDurationMs = Field(alias="duration", description="How long it stays open.")
    time_zone: Annotated[str, AfterValidator(_time_zone)] = Field(
        "UTC", description="IANA time zone of the cron expression (e.g. Europe/Berlin)."
    )


class LabelMaintenanceWindow(MaintenanceWindow):
    """A recurring window for every alert whose labels match."""

    matchers: list[LabelMatcherText] = Field(min_length=1)


class InhibitRule(_Strict):
    """Alertmanager's inhibition: while an alert matching ``source_matchers`` fires, alerts
    matching ``target_matchers`` with the same values of the ``equal`` labels send
    nothing. An alert matching both sides is not muted by one that also does."""

    name: Name | None = Field(None, description="Shown in the decision trail.")
    source_matchers: list[LabelMatcherText] = Field(min_length=1)
    target_matchers: list[LabelMatcherText] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list, description="Labels that must be equal.")


class ActionConfig(_Strict):
    """One action emitted when the alert fires."""

    type: ActionType = Field(description="Sent to the topic ops.actions.<type>.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Passed to the executor; string values are templates ('{{ host }}').",
    )
    cooldown_ms: DurationMs = Field(
        0,
        alias="cooldown",
        description="No repeat of this action for the same alert within this time.",
    )
    # -- decision side -------------------------------------------------------------------
    realert: RealertConfig | None = Field(
        None, description="Exponential realert instead of a fixed cooldown."
    )
    budgets: list[BudgetConfig] = Field(
        default_factory=list, description="At most N of these actions per window."
    )
    circuit_breaker: CircuitBreakerConfig | None = None
    verify: VerifyConfig | None = Field(
        None, description="Escalate when the heal or scale did not work."
    )

    @model_validator(mode="after")
    def _decision_fields_fit(self) -> ActionConfig:
        if self.realert is not None and self.cooldown_ms:
            raise ValueError("use cooldown or realert, not both")
        if self.verify is not None and self.type not in ("heal", "scale"):
            raise ValueError("verify is for heal and scale actions")
        return self


_EXPRESSION = (
    "An expression: fields, literals, == != < <= > >=, in, not in, startswith, "
    "endswith, contains, matches (RE2), and, or, not, + - * / %, macros and lists."
)


class Rule(_Strict):
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
        "frequency, flatline, change, new_term, cardinality, spike or sequence; the type's "
        "settings go in the block of the same name.",
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
        if name == "condition" and value.strip() != "true":
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
    def keep_firing_ms(self) -> int:
        """Rules on single records default to 5m: matches within it are one firing."""
        if self.keep_firing_for_ms is not None:
            return self.keep_firing_for_ms
        return 0 if self.windowed else 300_000


class RuleFile(_Strict):
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
    # -- decision side: for the alerts of every rule of every file ------------------------
    inhibit_rules: list[InhibitRule] = Field(
        default_factory=list, description="Firing alerts that mute others (Alertmanager's)."
    )
    maintenance_windows: list[LabelMaintenanceWindow] = Field(
        default_factory=list, description="Recurring windows for alerts matching labels."
    )
