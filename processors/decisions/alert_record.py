"""An alert's saved state, typed: what the decision core remembers per fingerprint.

One :class:`AlertRecord` per alert (rule id + ``group_by`` values), kept by a
:class:`StateStore` (a signals partition's store in the decision tier, a dict in tests
and the offline runner) and written, as :meth:`AlertRecord.to_json`, to the compacted
``<app_id>.alerts.changelog`` (docs/architecture.md, "Delivery and failure"). This
module is the only one that knows the JSON keys; the changelog format is unchanged
from the untyped dicts of earlier versions, which :meth:`AlertRecord.from_json` reads.

The record is mutable, its parts are not: :meth:`AlertRecord.copy` copies the
containers, so one evaluation can change its copy while the saved one stays what the
store holds (a change is written only when the copy differs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from processors.decisions.alert_state import INACTIVE, AlertState, Phase
from processors.decisions.realert import RealertState
from processors.errors import OpsrulesError
from processors.records import AlertStatus


class AlertRecordError(OpsrulesError, ValueError):
    """A saved alert state that cannot be read (a corrupt or foreign changelog record)."""


@dataclass(frozen=True, slots=True)
class Verification:
    """A sent heal or scale whose effect is checked ``verify.after`` later."""

    index: int  # the action's index in the rule's actions
    sent_ms: int | None  # None: saved by a version that did not keep it
    due_ms: int
    group: Mapping[str, str]
    values: Mapping[str, Any]  # what the condition read when the action went


@dataclass(frozen=True, slots=True)
class Mute:
    """The alert-wide mute (maintenance, silence, inhibition) that holds firing actions
    back, with what the decision trail says about it."""

    reason: str
    by: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Flap:
    """Flapping detection (processors/decisions/flapping.py): recent firing/resolved
    changes, and whether the alert is held firing (since ``held_since_ms``)."""

    changes: tuple[int, ...] = ()
    flapping: bool = False
    held: bool = False
    held_since_ms: int | None = None

    @property
    def quiet(self) -> bool:
        return not self.changes and not self.flapping and not self.held


@dataclass(slots=True)
class AlertRecord:
    rule_id: str | None  # None: saved by a version that did not keep it
    group: dict[str, str]
    alert: AlertState = INACTIVE
    announced: AlertStatus | None = None  # what receivers last heard
    sent: frozenset[int] = frozenset()  # action indexes that went this firing
    muted: frozenset[int] = frozenset()  # firing actions held back by ``mute``
    mute: Mute | None = None
    incident_id: str | None = None
    cooldowns: dict[int, int] = field(default_factory=dict)  # action index → last sent ms
    realert: dict[int, RealertState] = field(default_factory=dict)  # action index →
    verify: dict[str, Verification] = field(default_factory=dict)  # action id →
    flap: Flap | None = None

    @property
    def fires(self) -> bool:
        """Firing, or held firing while it flaps."""
        flap = self.flap
        return self.alert.phase is Phase.FIRING or (
            flap is not None and flap.flapping and flap.held
        )

    def copy(self) -> AlertRecord:
        # not dataclasses.replace: measured 5% of the decision core's time
        return AlertRecord(
            self.rule_id,
            dict(self.group),
            self.alert,
            self.announced,
            self.sent,
            self.muted,
            self.mute,
            self.incident_id,
            dict(self.cooldowns),
            dict(self.realert),
            dict(self.verify),
            self.flap,
        )

    def to_json(self) -> dict[str, Any]:
        """The changelog value: empty parts are left out, ``alert`` never."""
        out: dict[str, Any] = {"alert": self.alert.to_json()}
        if self.announced is not None:
            out["announced"] = self.announced
        if self.sent:
            out["sent"] = sorted(self.sent)
        if self.muted:
            out["muted"] = sorted(self.muted)
        if self.mute is not None:
            out["mute"] = {"reason": self.mute.reason, **self.mute.by}
        if self.incident_id is not None:
            out["incident_id"] = self.incident_id
        if self.cooldowns:
            out["cooldowns"] = {str(i): ms for i, ms in self.cooldowns.items()}
        if self.realert:
            out["realert"] = {
                str(i): {"until": r.until_ms, "exp": r.exp} for i, r in self.realert.items()
            }
        if self.verify:
            out["verify"] = {
                action_id: _verification_json(v) for action_id, v in self.verify.items()
            }
        if self.flap is not None and not self.flap.quiet:
            flap: dict[str, Any] = {
                "changes": list(self.flap.changes),
                "flapping": self.flap.flapping,
                "held": self.flap.held,
            }
            if self.flap.held_since_ms is not None:
                flap["held_since"] = self.flap.held_since_ms
            out["flap"] = flap
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
        out["group"] = dict(self.group)
        return out

    @classmethod
    def from_json(cls, data: Any) -> AlertRecord:
        """Read a changelog value; :class:`AlertRecordError` if it is not an alert state."""
        try:
            return _from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AlertRecordError(f"not an alert state: {type(exc).__name__}: {exc}") from exc


def _from_json(data: Mapping[str, Any]) -> AlertRecord:
    rule_id = data.get("rule_id")
    if rule_id is not None and not isinstance(rule_id, str):
        raise TypeError(f"rule_id is {type(rule_id).__name__}")
    announced = data.get("announced")
    if announced not in (None, "firing", "resolved"):
        raise ValueError(f"announced is {announced!r}")
    mute = data.get("mute")
    flap = data.get("flap")
    return AlertRecord(
        rule_id=rule_id,
        group={str(k): str(v) for k, v in (data.get("group") or {}).items()},
        alert=AlertState.from_json(data["alert"]) if "alert" in data else INACTIVE,
        announced=announced,
        sent=frozenset(int(i) for i in data.get("sent") or ()),
        muted=frozenset(int(i) for i in data.get("muted") or ()),
        mute=(
            Mute(str(mute["reason"]), {k: v for k, v in mute.items() if k != "reason"})
            if mute
            else None
        ),
        incident_id=_optional_str(data.get("incident_id")),
        cooldowns={int(i): int(ms) for i, ms in (data.get("cooldowns") or {}).items()},
        realert={
            int(i): RealertState(int(r["until"]), int(r["exp"]))
            for i, r in (data.get("realert") or {}).items()
        },
        verify={
            str(action_id): Verification(
                index=int(v["index"]),
                sent_ms=_optional_int(v.get("sent_ms")),
                due_ms=int(v["due_ms"]),
                group={str(k): str(x) for k, x in (v.get("group") or {}).items()},
                values=dict(v.get("values") or {}),
            )
            for action_id, v in (data.get("verify") or {}).items()
        },
        flap=_flap(flap) if flap else None,
    )


def _flap(data: Mapping[str, Any]) -> Flap | None:
    flap = Flap(
        changes=tuple(int(t) for t in data.get("changes") or ()),
        flapping=bool(data.get("flapping")),
        held=bool(data.get("held")),
        held_since_ms=_optional_int(data.get("held_since")),
    )
    return None if flap.quiet else flap


def _verification_json(v: Verification) -> dict[str, Any]:
    out: dict[str, Any] = {"index": v.index, "due_ms": v.due_ms}
    if v.sent_ms is not None:
        out["sent_ms"] = v.sent_ms
    out["group"], out["values"] = dict(v.group), dict(v.values)
    return out


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class StateStore(Protocol):
    """Alert records by fingerprint. ``verifying`` maps each verified action's id to the
    fingerprint of the alert that waits for it."""

    verifying: dict[str, str]

    def get(self, key: str) -> AlertRecord | None: ...
    def set(self, key: str, record: AlertRecord) -> None: ...


class DictStore:
    """A :class:`StateStore` in memory, for tests and `opsrules test`. ``verifying``
    indexes the alerts waiting for a verified action's result: action id → fingerprint
    (see ``decide_result``)."""

    def __init__(self) -> None:
        self.data: dict[str, AlertRecord] = {}
        self.verifying: dict[str, str] = {}

    def get(self, key: str) -> AlertRecord | None:
        return self.data.get(key)

    def set(self, key: str, record: AlertRecord) -> None:
        old = self.data.get(key)
        if old is not None:
            for action_id in old.verify:
                self.verifying.pop(action_id, None)
        self.data[key] = record
        for action_id in record.verify:
            self.verifying[action_id] = key

    def load(self, records: Mapping[str, AlertRecord]) -> None:
        """Restore saved records (a changelog read back)."""
        for key, record in records.items():
            self.set(key, record)
