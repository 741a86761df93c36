"""What every target of the fuzz suite must hold for every input, as assertions."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace
from typing import Any, get_args

import orjson
import pytest

from processors.records import DeadLetter, DeadLetterReason
from processors.rules.rule_errors import RuleError
from streams.codec import Rejected, dead_letter, encode
from streams.settings import OpsrulesSettings, load_settings

from .strategies import NOW_MS

REASONS = set(get_args(DeadLetterReason)) - {"processing_error"}  # that one is our bug


def default_settings(**overrides: Any) -> OpsrulesSettings:
    """The default settings, whatever OPSRULES_* the shell has."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("OPSRULES_"):
                patch.delenv(name)
        return load_settings(**overrides)


def assert_rejected_well(rejected: Rejected, raw: bytes | None) -> None:
    """A reason of bad input (not ``processing_error``), a message, and a dead letter
    that carries the original bytes back."""
    assert rejected.reason in REASONS, rejected
    assert isinstance(rejected.message, str) and rejected.message.strip(), rejected
    source = SimpleNamespace(topic="ops.metrics", partition=3, offset=7, key=b"k\xff")
    assert_dead_letter_round_trips(encode(dead_letter(rejected, source, raw, NOW_MS)), raw)


def assert_dead_letter_round_trips(value: bytes, raw: bytes | None) -> None:
    """The encoded dead letter ``value`` validates and holds ``raw`` exactly: as text
    (``raw``) when it is UTF-8, else as base64 (``raw_base64``)."""
    letter = DeadLetter.model_validate(orjson.loads(value))
    assert letter.reason in REASONS, letter
    assert letter.message.strip()
    if raw is None:
        assert (letter.raw, letter.raw_base64) == (None, None)
        return
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        assert letter.raw_base64 is None
        assert letter.raw is not None and letter.raw.encode("utf-8") == raw
    else:
        assert letter.raw is None
        assert base64.b64decode(letter.raw_base64 or "", validate=True) == raw


def assert_errors_placed(errors: list[RuleError], path: str, text: str) -> None:
    """Every error names the file and a line and column inside it, and says something."""
    lines = len(text.splitlines()) + 2  # YAML breaks lines at \r and \x85 too; +1: the end
    for error in errors:
        assert error.path == path, error
        assert 1 <= error.line <= lines, error
        assert error.col >= 1, error
        assert error.message.strip(), error
