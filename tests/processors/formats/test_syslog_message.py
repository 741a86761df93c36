"""A syslog message's priority and the records it becomes
(processors/formats/syslog_message.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.formats import FormatError
from processors.formats.syslog_message import (
    SEVERITY_NAMES,
    SEVERITY_NUMBERS,
    SyslogMessage,
    records,
    severity_code,
    split_pri,
)
from processors.records import LogRecord


@given(st.integers(0, 23), st.integers(0, 7))
def test_pri_splits_into_the_facility_and_severity_it_was_made_of(
    facility: int, severity: int
) -> None:
    assert split_pri(facility * 8 + severity) == (facility, severity)


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=192)))
def test_pri_outside_0_to_191_is_refused(pri: int) -> None:
    with pytest.raises(FormatError, match="is not between 0 and 191"):
        split_pri(pri)


def test_severities_map_onto_opentelemetrys_scale_in_order() -> None:
    assert dict(zip(SEVERITY_NAMES, SEVERITY_NUMBERS, strict=True)) == {
        "emerg": 23,
        "alert": 22,
        "crit": 21,
        "err": 17,
        "warning": 13,
        "notice": 10,
        "info": 9,
        "debug": 5,
    }
    assert list(SEVERITY_NUMBERS) == sorted(SEVERITY_NUMBERS, reverse=True)


@pytest.mark.parametrize(
    ("word", "code"),
    [("err", 3), ("ERROR", 3), ("Warning", 4), ("warn", 4), ("critical", 2), ("panic", 0)],
)
def test_severity_words_of_other_spellings_are_read(word: str, code: int) -> None:
    assert severity_code(word) == code


def test_an_unknown_severity_word_is_named() -> None:
    with pytest.raises(FormatError, match="severity 'loud' is none of emerg, alert, crit"):
        severity_code("loud")


@given(st.integers(0, 7))
def test_every_log_record_validates_as_a_native_one(severity: int) -> None:
    message = SyslogMessage(ts_ms=1, severity=severity, body="b", facility="user", host="h")
    (record,) = records(message, "log")
    assert LogRecord.model_validate(record).severity_number == SEVERITY_NUMBERS[severity]
