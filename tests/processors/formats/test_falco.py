from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError, Payload
from processors.formats.falco import FALCO, PRIORITIES, decode
from processors.records import SecurityEvent
from processors.rules.expressions.evaluation import compile_predicate
from processors.rules.macros import record_scope
from streams.ingest import as_mapping

from .shipper_fixtures import ingested, message, payload_of


def security_record(case: str) -> dict[str, Any]:
    [record] = decode(message("falco", case), "security")
    return as_mapping(SecurityEvent.model_validate(record))


@pytest.mark.parametrize(
    "match",
    [
        'event.category == "intrusion_detection" and event.kind == "alert"',
        'rule.name == "Read sensitive file untrusted" and event.severity == 13',
        'process.name == "cat" and process.parent.name == "sudo" and user.name == "root"',
        'file.path == "/etc/shadow" and host.name == "x86"',
        '"T1555" in threat.technique.id and "mitre_credential_access" in tags',
        'falco.output_fields.proc_aname_2 == "sudo" and falco.output_fields.proc_tty == 34820',
    ],
)
def test_rules_read_an_alert_by_ecs_names_and_every_raw_output_field(match: str) -> None:
    for path in re.findall(r"\b[a-z_]+(?:\.[a-z_0-9]+)+", match):
        assert record_scope("security").knows(path), path
    assert compile_predicate(match)(security_record("read_sensitive_file_0_40"))


def test_falcos_not_available_and_null_fields_are_left_out_of_ecs() -> None:
    record = security_record("ssh_tunnel_na_fields")
    assert "user" not in record and "file" not in record
    assert record["falco"]["output_fields"]["user_name"] == "<NA>"


def alert(**fields: Any) -> Payload:
    base: dict[str, Any] = {
        "output": "12:00:00.000000000: Warning something",
        "priority": "Warning",
        "rule": "Something",
        "source": "syscall",
        "time": "2026-02-13T12:00:00.000000000Z",
        "output_fields": {"proc.name": "nmap"},
    }
    base.update(fields)
    return payload_of(orjson.dumps({k: v for k, v in base.items() if v is not None}))


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("Emergency", 23), ("Alert", 22), ("Critical", 21), ("Error", 17), ("Warning", 13),
        ("Notice", 10), ("Informational", 9), ("Info", 9), ("Debug", 5), ("WARNING", 13),
    ],
)  # fmt: skip
def test_each_priority_has_its_syslog_severity_on_the_one_scale(
    priority: str, severity: int
) -> None:
    [security] = decode(alert(priority=priority), "security")
    [log] = decode(alert(priority=priority), "log")
    assert security["event"]["severity"] == severity
    assert (log["severity_text"], log["severity_number"]) == (priority, severity)


def test_without_time_the_event_time_of_the_output_fields_is_used() -> None:
    payload = alert(time=None, output_fields={"evt.time": 1651448201237634398})
    # epoch ns truncate to the millisecond (processors/timestamps.py), where the same
    # instant as RFC 3339 in ``time`` rounds: ...238
    assert decode(payload, "security")[0]["ts_ms"] == 1651448201237


@pytest.mark.parametrize(
    ("payload", "source", "message_part"),
    [
        (alert(priority="Severe"), "security", "field 'priority': expected one of Falco's"),
        (alert(priority=3), "security", "field 'priority'"),
        (alert(rule=""), "security", "field 'rule'"),
        (alert(time="13:37"), "security", "field 'time': '13:37' is neither"),
        (alert(time=None, output_fields={}), "security", "field 'time': required"),
        (alert(output_fields=[1]), "security", "field 'output_fields': expected an object"),
        (alert(tags="k8s"), "log", "field 'tags': expected a list of strings"),
        (alert(), "metric", "a Falco alert feeds the security or logs topic, not metric"),
        (payload_of(b"[]"), "security", "a Falco alert is a JSON object"),
    ],
)
def test_a_bad_payload_is_refused_with_the_field_named(
    payload: Payload, source: str, message_part: str
) -> None:
    with pytest.raises(FormatError) as raised:
        decode(payload, source)
    assert message_part in str(raised.value)


PATH_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Falco's field names: dotted, some with an argument in brackets (proc.aname[2],
# ka.uri.param[command], k8s.pod.label[app.kubernetes.io/name]).
field_names = st.builds(
    lambda parts, arg: ".".join(parts) + (f"[{arg}]" if arg is not None else ""),
    st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=4),
    st.one_of(st.none(), st.text(min_size=1, max_size=12).filter(lambda s: "]" not in s)),
)
field_values = st.one_of(
    st.none(),
    st.just("<NA>"),
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
)


@given(fields=st.dictionaries(field_names, field_values, max_size=12))
def test_any_output_fields_decode_to_an_alert_whose_raw_fields_rules_can_name(
    fields: dict[str, Any],
) -> None:
    for source in ("security", "log"):
        [record] = decode(alert(output_fields=fields), source)
        [validated] = ingested(source, [record])
        raw = (
            validated["falco"]["output_fields"]
            if source == "security"
            else validated["attributes"]["output_fields"]
        )
        assert all(PATH_SEGMENT.fullmatch(key) for key in raw)
        # every value is kept, unless two names meet on one addressable key
        assert len(raw) <= len(fields)
        assert set(map(_value_key, raw.values())) <= set(map(_value_key, fields.values()))


def _value_key(value: Any) -> str:
    return orjson.dumps(value).decode()


@given(
    name=st.text(max_size=30),
    command_line=st.text(max_size=30),
)
def test_ecs_process_fields_come_from_the_output_fields_as_sent(
    name: str, command_line: str
) -> None:
    [record] = decode(
        alert(output_fields={"proc.name": name, "proc.cmdline": command_line}), "security"
    )
    process = record.get("process", {})
    known = [v if v not in ("", "<NA>") else None for v in (name, command_line)]
    assert process.get("command_line") == known[1]
    if known[0] is not None:
        assert process["name"] == name


def test_every_priority_in_the_table_is_one_of_falcos_words() -> None:
    assert set(PRIORITIES) == {
        "emergency", "alert", "critical", "error", "warning", "notice", "informational",
        "info", "debug",
    }  # fmt: skip


def test_the_format_is_named_falco_for_security_and_logs() -> None:
    assert (FALCO.name, FALCO.sources) == ("falco", {"security", "log"})
