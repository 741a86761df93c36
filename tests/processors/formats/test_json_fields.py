from __future__ import annotations

import math
from typing import Any

import pytest

from processors.formats import FormatError
from processors.formats.json_fields import (
    app_label,
    first_level,
    journald_severity,
    number_of,
    severity_of,
    text_of,
    ts_ms_of,
)
from processors.severity import SEVERITY_NUMBERS


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("trace", ("trace", 1)), ("DEBUG", ("DEBUG", 5)), ("Information", ("Information", 9)),
        ("notice", ("notice", 10)), ("warn", ("warn", 13)), ("Warning", ("Warning", 13)),
        ("err", ("err", 17)), ("SEVERE", ("SEVERE", 17)), ("crit", ("crit", 21)),
        ("fatal", ("fatal", 21)), ("emerg", ("emerg", 23)), (" info ", ("info", 9)),
        ("verbose", ("verbose", 9)), (30, ("30", 9)), (60, ("60", 21)), (7, ("7", 9)),
        ("", None), ("  ", None), (None, None), (True, None), ({"a": 1}, None), (2.5, None),
    ],
)  # fmt: skip
def test_a_level_maps_onto_the_opentelemetry_scale(
    level: object, severity: tuple[str, int] | None
) -> None:
    assert severity_of(level) == severity


@pytest.mark.parametrize(("word", "number"), SEVERITY_NUMBERS.items())
def test_the_scales_own_words_read_as_the_first_number_of_their_range(
    word: str, number: int
) -> None:
    assert severity_of(word) == (word, number)


@pytest.mark.parametrize(
    ("record", "found"),
    [
        ({"level": "error", "severity": "info"}, ("level", ("error", 17))),
        ({"level": "", "severity": "info"}, ("severity", ("info", 9))),
        ({"PRIORITY": "3"}, (None, ("err", 17))),
        ({"PRIORITY": "9"}, (None, ("INFO", 9))),
        ({}, (None, ("INFO", 9))),
    ],
)
def test_the_first_level_key_wins_then_journalds_priority_then_info(
    record: dict[str, Any], found: tuple[str | None, tuple[str, int]]
) -> None:
    assert first_level(record, ("level", "severity")) == found


@pytest.mark.parametrize("digit", list("01234567"))
def test_journalds_priorities_read_as_their_syslog_words(digit: str) -> None:
    found = journald_severity({"PRIORITY": digit})
    assert found is not None
    assert (
        found[0]
        == ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")[int(digit)]
    )


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"app.kubernetes.io/name": "a", "app": "b"}, "a"),
        ({"app_kubernetes_io/name": "a", "app": "b"}, "a"),
        ({"app": "b"}, "b"),
        ({"app": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_a_pods_labels_name_its_service(labels: object, service: str | None) -> None:
    assert app_label(labels) == service


def test_times_and_numbers_name_their_field_when_they_are_not_one() -> None:
    with pytest.raises(FormatError, match=r"field 'x\.ts': required"):
        ts_ms_of(None, "x.ts")
    with pytest.raises(FormatError, match=r"field 'x\.ts': 'noon' is neither"):
        ts_ms_of("noon", "x.ts")
    with pytest.raises(FormatError, match="field 'v': expected a number, got True"):
        number_of(True, "v")
    with pytest.raises(FormatError, match="field 'v': expected a number, got '1'"):
        number_of("1", "v")


def test_an_integer_past_a_doubles_range_is_infinite_for_ingest_to_refuse() -> None:
    assert number_of(10**400, "v") == math.inf
    assert number_of(-(10**400), "v") == -math.inf


@pytest.mark.parametrize(
    ("value", "text"), [("a", "a"), (None, ""), ({"a": [1, 2]}, '{"a":[1,2]}'), (3, "3")]
)
def test_a_body_is_text(value: object, text: str) -> None:
    assert text_of(value) == text
