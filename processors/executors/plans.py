"""A delivery as a plan: a generator that yields what to do (an HTTP request, a program,
a pause) and is sent each answer, and returns the :class:`Verdict`. The shell
(streams/act.py) only performs the steps, so retries, runbooks and every receiver kind's
sequence run here, without a network or a clock.

**Retries** (:func:`with_retries`): a failed attempt that is worth retrying (no answer,
HTTP 408, 429 or 5xx) is tried again after a pause drawn uniformly from 0 to
``min(max_backoff, backoff * 2**(n-1))`` after the n-th failure ("full jitter", the
AWS Architecture Blog's recommendation: retries of many actions spread out instead of
arriving together), up to ``attempts`` attempts in all. A program's failure and an HTTP
4xx are final: the next attempt would fail alike.

**Runbooks**: steps run in order, each a receiver's plan with its own retries; a step
runs when its ``when`` holds for the step that ran before it (``succeeded``, the
default, ``failed``, or ``always``) and is skipped otherwise, as GitLab CI's
``on_success`` / ``on_failure`` jobs are. The runbook succeeds when every step that ran
succeeded: a heal whose restart failed has failed, even when its "page someone" step
(``when: failed``) was delivered, so the engine's verify and breakers see the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass

from processors.executors import (
    alertmanager,
    command,
    kubernetes,
    pagerduty,
    slack,
    webhook,
)
from processors.executors.receivers import Receiver, RetryConfig, RunbookConfig
from processors.executors.requests import (
    Answer,
    MissingSecretError,
    Step,
    Verdict,
    Wait,
    http_verdict,
    program_verdict,
)
from processors.records import Action

Plan = Generator[Step, Answer, Verdict]


@dataclass(frozen=True, slots=True)
class Delivering:
    """One action as every plan for it sees it: the record's ``value`` and Kafka
    ``headers`` as read, the environment (secrets), every receiver (runbook steps name
    them) and ``random()`` in [0, 1) to draw the jitter."""

    action: Action
    value: bytes
    headers: Sequence[tuple[str, bytes]]
    env: Mapping[str, str]
    receivers: Mapping[str, Receiver]
    random: Callable[[], float]


def plan(receiver: Receiver, it: Delivering) -> Plan:
    """Deliver ``it.action`` to ``receiver``, with its retries."""
    if receiver.runbook is not None:
        return (yield from _runbook(receiver.runbook, it))
    return (yield from with_retries(lambda: _once(receiver, it), receiver.retry, it.random))


def with_retries(
    attempt: Callable[[], Plan], retry: RetryConfig, random: Callable[[], float]
) -> Plan:
    for number in range(1, retry.attempts + 1):
        verdict = yield from attempt()
        if verdict.ok or not verdict.retry or number == retry.attempts:
            return _attempts(verdict, number)
        cap_ms = min(retry.max_backoff_ms, retry.backoff_ms * 2 ** (number - 1))
        yield Wait(int(random() * cap_ms))
    raise AssertionError("unreachable: the last attempt returns")


def _once(receiver: Receiver, it: Delivering) -> Plan:
    action, env = it.action, it.env
    if action.status == "resolved" and not receiver.send_resolved:
        return Verdict(True, "resolved: send_resolved is false")
    try:
        if receiver.webhook is not None:
            answer = yield webhook.request(action, it.value, it.headers, receiver.webhook, env)
        elif receiver.alertmanager is not None:
            answer = yield alertmanager.request(action, receiver.alertmanager)
        elif receiver.pagerduty is not None:
            answer = yield pagerduty.request(action, receiver.pagerduty, env)
        elif receiver.slack is not None:
            answer = yield slack.request(action, receiver.slack, env)
        elif receiver.command is not None:
            answer = yield command.request(action, receiver.command)
            return program_verdict(answer)
        elif receiver.kubernetes is not None:
            return (yield from kubernetes.plan(action, receiver.kubernetes))
        else:
            raise AssertionError(f"receiver {receiver.name}: no kind")
    except MissingSecretError as exc:
        return Verdict(False, str(exc), retry=False)
    return http_verdict(answer)


def _runbook(runbook: RunbookConfig, it: Delivering) -> Plan:
    steps: list[tuple[str, Verdict]] = []
    last: Verdict | None = None
    for step in runbook.steps:
        if last is not None and step.when != "always" and last.ok != (step.when == "succeeded"):
            continue
        last = yield from plan(it.receivers[step.receiver], it)
        steps.append((step.receiver, last))
    failed = [f"{name}: {v.error}" for name, v in steps if not v.ok]
    return Verdict(
        not failed, "; ".join(failed), False, sum(v.attempts for _, v in steps), tuple(steps)
    )


def _attempts(verdict: Verdict, number: int) -> Verdict:
    return Verdict(verdict.ok, verdict.error, verdict.retry, number, verdict.steps)
