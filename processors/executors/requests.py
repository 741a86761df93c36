"""What a delivery does, as data: an HTTP request or a program to run, and how its
answer reads. The receiver kinds build these (one module each); the shell
(streams/act.py) performs them, so every kind's request is tested without a network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from processors.records import Action
from processors.rules.templates import render_template

ERROR_CHARS = 2000  # the tail of a program's stderr or a server's answer kept in a result


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class Program:
    """``argv`` run without a shell; ``env`` added to act's own environment."""

    argv: tuple[str, ...]
    timeout_ms: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: an HTTP status and body, a program's exit code and output, or
    (``failure``) why nothing did: a timeout, a refused connection, no such program."""

    code: int = 0
    body: bytes = b""
    stderr: bytes = b""
    failure: str = ""


@dataclass(frozen=True, slots=True)
class Wait:
    """A pause before the next attempt."""

    ms: int


Step = HttpRequest | Program | Wait  # what a plan asks the shell to do


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a delivery ended. ``error`` says why it failed (or, when it succeeded, a note
    such as "already at 3 replicas"); ``steps`` are a runbook's, by receiver."""

    ok: bool
    error: str = ""
    retry: bool = True  # worth another attempt (a 5xx, a timeout), not a 4xx
    attempts: int = 1
    steps: tuple[tuple[str, Verdict], ...] = ()


class MissingSecretError(ValueError):
    """An environment variable a receiver names is not set."""


def secret(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise MissingSecretError(
            f"environment variable {name} is not set (named in the receivers file)"
        )
    return value


def json_body(value: Any) -> bytes:
    return orjson.dumps(value)


def http_verdict(answer: Answer) -> Verdict:
    """2xx is done; no answer, 408, 429 and 5xx are worth retrying; other statuses not."""
    if answer.failure:
        return Verdict(False, answer.failure)
    if 200 <= answer.code < 300:
        return Verdict(True)
    text = answer.body[-ERROR_CHARS:].decode("utf-8", "replace").strip()
    retry = answer.code in (408, 429) or answer.code >= 500
    return Verdict(False, f"HTTP {answer.code}" + (f": {text}" if text else ""), retry)


def program_verdict(answer: Answer) -> Verdict:
    """Exit 0 is done; any other code failed, with the tail of stderr (not retried: a
    program that failed is reported, and the engine escalates)."""
    if answer.failure:
        return Verdict(False, answer.failure, retry=False)
    if answer.code == 0:
        return Verdict(True)
    text = answer.stderr[-ERROR_CHARS:].decode("utf-8", "replace").strip()
    return Verdict(False, f"exit code {answer.code}" + (f": {text}" if text else ""), False)


def template_context(action: Action) -> dict[str, Any]:
    """What a receiver's templates see: the action's fields (``params.target``,
    ``group.host``, ``labels.team``, ``summary``…), its group values at the top level too
    (``{{ host }}``), as in the rule's own templates."""
    fields = action.model_dump(mode="json")
    return {**action.group, **fields}


def render(text: str, context: Mapping[str, Any]) -> str:
    return render_template(text, context) if "{{" in text or "{%" in text else text
