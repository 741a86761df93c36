"""AlertRecord: the typed alert state and its changelog JSON."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processors.decisions.alert_record import (
    AlertRecord,
    AlertRecordError,
    DictStore,
    Flap,
    Mute,
    Verification,
)
from processors.decisions.alert_state import AlertState, Phase
from processors.decisions.realert import RealertState

FIRING = AlertState(Phase.FIRING, active_since_ms=1_000, last_eval_ms=5_000, last_true_ms=5_000)


def full_record() -> AlertRecord:
    return AlertRecord(
        rule_id="disk_full",
        group={"host": "web-1"},
        alert=FIRING,
        announced="firing",
        sent=frozenset({0, 2}),
        muted=frozenset({1}),
        mute=Mute("silenced", {"silence_id": "s1", "comment": "deploy"}),
        incident_id="i1",
        cooldowns={0: 4_000},
        realert={2: RealertState(9_000, 1)},
        verify={"a1": Verification(2, 5_000, 65_000, {"host": "web-1"}, {"mean": 0.97})},
        flap=Flap((1_000, 3_000), flapping=True, held=True, held_since_ms=1_000),
    )


def test_a_record_survives_the_changelog_unchanged() -> None:
    record = full_record()
    wire = orjson.loads(orjson.dumps(record.to_json()))
    assert AlertRecord.from_json(wire) == record


def test_the_changelog_value_keeps_the_format_of_the_untyped_states() -> None:
    assert full_record().to_json() == {
        "alert": {
            "phase": "firing",
            "active_since_ms": 1_000,
            "last_eval_ms": 5_000,
            "last_true_ms": 5_000,
            "keep_firing_since_ms": None,
        },
        "announced": "firing",
        "sent": [0, 2],
        "muted": [1],
        "mute": {"reason": "silenced", "silence_id": "s1", "comment": "deploy"},
        "incident_id": "i1",
        "cooldowns": {"0": 4_000},
        "realert": {"2": {"until": 9_000, "exp": 1}},
        "verify": {
            "a1": {
                "index": 2,
                "due_ms": 65_000,
                "sent_ms": 5_000,
                "group": {"host": "web-1"},
                "values": {"mean": 0.97},
            }
        },
        "flap": {"changes": [1_000, 3_000], "flapping": True, "held": True, "held_since": 1_000},
        "rule_id": "disk_full",
        "group": {"host": "web-1"},
    }


def test_empty_parts_are_left_out_but_the_alert_state_never() -> None:
    record = AlertRecord("cpu_hot", {}, flap=Flap())
    assert record.to_json() == {"alert": AlertState().to_json(), "rule_id": "cpu_hot", "group": {}}


def test_a_quiet_flap_reads_back_as_none() -> None:
    wire = {"alert": AlertState().to_json(), "flap": {"changes": [], "flapping": False}}
    assert AlertRecord.from_json(wire).flap is None


def test_a_state_saved_before_rule_ids_and_send_times_were_kept_still_reads() -> None:
    legacy = {
        "alert": FIRING.to_json(),
        "verify": {"a1": {"index": 0, "due_ms": 60_000, "group": {"host": "a"}, "values": {}}},
    }
    record = AlertRecord.from_json(legacy)
    assert record.rule_id is None and record.group == {}
    assert record.verify["a1"].sent_ms is None
    assert "sent_ms" not in record.to_json()["verify"]["a1"]


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "firing",
        {"alert": {"phase": "on fire"}},
        {"alert": {"phase": "firing"}},  # the other fields are missing
        {"rule_id": 7},
        {"announced": "maybe"},
        {"sent": ["one"]},
        {"cooldowns": {"first": 1}},
        {"verify": {"a1": {"index": 0}}},
        {"realert": {"0": {"until": 1}}},
        {"mute": {"by": "nobody"}},
        {"flap": {"changes": "often"}},
    ],
)
def test_what_is_not_an_alert_state_is_an_alert_record_error(value: Any) -> None:
    with pytest.raises(AlertRecordError, match="not an alert state"):
        AlertRecord.from_json(value)


def test_a_copy_can_change_without_changing_the_saved_record() -> None:
    saved = full_record()
    new = saved.copy()
    new.cooldowns[0] = 8_000
    new.verify.pop("a1")
    new.group["host"] = "web-2"
    new.sent = new.sent | {5}
    assert saved == full_record() and new != saved


def test_the_store_indexes_the_alerts_waiting_for_a_verified_action() -> None:
    store = DictStore()
    record = full_record()
    store.set("k1", record)
    assert store.verifying == {"a1": "k1"}
    done = record.copy()
    done.verify = {"a2": Verification(0, 6_000, 66_000, {}, {})}
    store.set("k1", done)
    assert store.verifying == {"a2": "k1"}


def test_fires_when_firing_or_held_firing_while_it_flaps() -> None:
    assert full_record().fires
    assert not AlertRecord("r", {}).fires
    held = AlertRecord("r", {}, flap=Flap((1,), flapping=True, held=True))
    assert held.fires
