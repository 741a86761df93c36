"""One severity scale for every producer: words → OpenTelemetry numbers, syslog's order."""

from __future__ import annotations

import pytest

from processors.records import LogRecord
from processors.severity import LEVEL_NUMBERS, SYSLOG_NUMBERS, level_number, severity_text_for

SYSLOG_WORDS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


def test_syslogs_eight_severities_keep_their_order_on_the_scale() -> None:
    numbers = [level_number(word) for word in SYSLOG_WORDS]
    assert numbers == list(SYSLOG_NUMBERS) == sorted(numbers, reverse=True)  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("word", "text"), [(w, severity_text_for(n)) for w, n in LEVEL_NUMBERS.items()]
)
def test_each_word_lands_in_the_range_its_name_says(word: str, text: str) -> None:
    expected = {
        "trace": "TRACE", "finest": "TRACE", "finer": "TRACE", "fine": "DEBUG", "debug": "DEBUG",
        "dbg": "DEBUG", "info": "INFO", "information": "INFO", "informational": "INFO",
        "notice": "INFO", "warn": "WARN", "warning": "WARN", "error": "ERROR", "err": "ERROR",
        "severe": "ERROR",
    }  # fmt: skip
    assert text == expected.get(word, "FATAL")


@pytest.mark.parametrize(("text", "number"), [("Notice", 10), ("ALERT", 22), (" emerg ", 23)])
def test_a_native_log_reads_its_severity_text_on_the_same_scale(text: str, number: int) -> None:
    record = LogRecord.model_validate({"ts": 1795899240, "severity_text": text, "body": ""})
    assert record.severity_number == number


def test_an_unknown_word_is_none_and_a_native_log_then_asks_for_the_number() -> None:
    assert level_number("verbose") is None
    with pytest.raises(ValueError, match="unknown severity_text 'verbose'; give severity_number"):
        LogRecord.model_validate({"ts": 1795899240, "severity_text": "verbose", "body": ""})
