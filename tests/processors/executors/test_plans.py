"""Deliveries as plans: each receiver kind's requests, retries with full jitter, and
runbooks, without a network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from processors.executors.plans import Delivering, plan
from processors.executors.receivers import Receiver
from processors.executors.requests import Answer, HttpRequest, Program, Step, Verdict, Wait
from tests.processors.executors.drive import drive
from tests.processors.executors.factories import make_action, value_of

ENV = {"PD_KEY": "R0UTINGKEY", "SLACK_URL": "http://127.0.0.1:9/slack", "TOKEN": "s3cret"}


def receiver(**fields: Any) -> Receiver:
    return Receiver.model_validate({"name": "r", **fields})


def delivering(action, headers, receivers, random: float) -> Delivering:  # type: ignore[no-untyped-def]
    return Delivering(action, value_of(action), headers, ENV, receivers, lambda: random)


def run(rcv: Receiver, answers: Iterator[Answer] | Answer, action=None, receivers=None):
    action = action or make_action()
    given = answers if isinstance(answers, Iterator) else iter(lambda: answers, None)
    return drive(
        plan(rcv, delivering(action, HEADERS, receivers or {rcv.name: rcv}, 0.5)),
        lambda step: next(given),
    )


HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"a1b2c3d4e5f60718"),
    ("ce_type", b"io.opsrules.action.alert"),
    ("content-type", b"application/json"),
]
OK = Answer(200, b"{}")


def test_a_webhook_posts_the_record_as_read_with_its_idempotency_key_and_cloudevents() -> None:
    rcv = receiver(
        webhook={"url": "http://127.0.0.1:8080/hook", "headers_env": {"Authorization": "TOKEN"}}
    )
    action = make_action()
    verdict, [request] = run(rcv, OK, action)
    assert verdict == Verdict(True)
    assert isinstance(request, HttpRequest)
    assert (request.method, request.url, request.body) == (
        "POST",
        "http://127.0.0.1:8080/hook",
        value_of(action),
    )
    assert request.headers == {
        "Content-Type": "application/json",
        "Idempotency-Key": "a1b2c3d4e5f60718",
        "ce-specversion": "1.0",
        "ce-id": "a1b2c3d4e5f60718",
        "ce-type": "io.opsrules.action.alert",
        "Authorization": "s3cret",
    }


@pytest.mark.parametrize(
    ("status", "ends_at"),
    [("firing", "2026-12-08T01:05:00.000Z"), ("resolved", "2026-12-08T00:05:00.000Z")],
)
def test_alertmanager_gets_a_postable_alert(status: str, ends_at: str) -> None:
    rcv = receiver(alertmanager={"url": "http://127.0.0.1:9093/"})
    _, [request] = run(rcv, OK, make_action(status=status))
    assert isinstance(request, HttpRequest)
    assert request.url == "http://127.0.0.1:9093/api/v2/alerts"
    assert orjson.loads(request.body) == [
        {
            "labels": {
                "alertname": "host_cpu_saturated",
                "severity": "critical",
                "team": "infra",
                "host": "web-1",
            },
            "annotations": {
                "summary": "CPU 97% on web-1",
                "runbook_url": "https://runbooks.example.org/cpu",
            },
            "startsAt": "2026-12-08T00:00:00Z",
            "endsAt": ends_at,
        }
    ]


def test_pagerduty_triggers_and_resolves_one_incident_per_alert() -> None:
    rcv = receiver(pagerduty={"routing_key_env": "PD_KEY"})
    _, [trigger] = run(
        rcv, Answer(202), make_action(type="incident", group={"host": "web-1", "service": "api"})
    )
    _, [resolve] = run(rcv, Answer(202), make_action(type="incident", status="resolved"))
    assert isinstance(trigger, HttpRequest) and isinstance(resolve, HttpRequest)
    assert trigger.url == "https://events.pagerduty.com/v2/enqueue"
    sent = orjson.loads(trigger.body)
    assert sent["payload"] == {
        "summary": "CPU 97% on web-1",
        "source": "host=web-1",
        "severity": "critical",
        "timestamp": "2026-12-08T00:00:00Z",
        "group": "host_cpu_saturated",
        "class": "incident",
        "component": "api",
        "custom_details": {
            "labels": {"team": "infra"},
            "group": {"host": "web-1", "service": "api"},
            "annotations": {"runbook_url": "https://runbooks.example.org/cpu"},
            "params": {},
            "action_id": "a1b2c3d4e5f60718",
        },
    }
    assert {k: sent[k] for k in ("routing_key", "event_action", "dedup_key")} == {
        "routing_key": "R0UTINGKEY",
        "event_action": "trigger",
        "dedup_key": "9f86d081884c7d65",
    }
    assert orjson.loads(resolve.body) == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": "9f86d081884c7d65",
    }


def test_slack_gets_an_incoming_webhook_message() -> None:
    rcv = receiver(slack={"webhook_url_env": "SLACK_URL"})
    _, [request] = run(rcv, OK, make_action(summary="disk <full> & more"))
    assert isinstance(request, HttpRequest)
    assert request.url == "http://127.0.0.1:9/slack"
    message = orjson.loads(request.body)
    assert (
        message["text"]
        == ":rotating_light: [CRITICAL] host_cpu_saturated (alert): disk <full> & more"
    )
    assert message["blocks"][0]["text"]["text"].endswith("disk &lt;full&gt; &amp; more")
    assert message["blocks"][1]["fields"] == [{"type": "mrkdwn", "text": "*host*\nweb-1"}]


def test_a_missing_secret_fails_the_delivery_without_retrying() -> None:
    rcv = receiver(slack={"webhook_url_env": "NOT_SET"})
    verdict, steps = run(rcv, OK)
    assert steps == []
    assert verdict == Verdict(
        False, "environment variable NOT_SET is not set (named in the receivers file)", False
    )


def test_a_hostile_template_value_is_one_argument_of_the_program() -> None:
    rcv = receiver(
        command={"argv": ["systemctl", "restart", "{{ params.target }}"], "timeout": "5s"}
    )
    action = make_action(type="heal", params={"target": '"; rm -rf / #'})
    verdict, [program] = run(rcv, Answer(0), action)
    assert verdict.ok
    assert program == Program(("systemctl", "restart", '"; rm -rf / #'), 5000, {}, None)


def test_a_program_that_fails_is_reported_with_the_tail_of_its_stderr_and_not_retried() -> None:
    rcv = receiver(command={"argv": ["false"]})
    verdict, steps = run(rcv, Answer(3, stderr=b"x" * 5000 + b"unit not found\n"))
    assert len(steps) == 1
    assert not verdict.ok and not verdict.retry
    assert verdict.error.startswith("exit code 3: xxx") and verdict.error.endswith("unit not found")
    assert len(verdict.error) < 2100


def http_answers(*codes: int) -> Iterator[Answer]:
    return iter([Answer(code) if code else Answer(failure="timed out after 10s") for code in codes])


@pytest.mark.parametrize(
    ("codes", "ok", "attempts"),
    [
        ((200,), True, 1),
        ((503, 0, 200), True, 3),  # a 5xx and a timeout are retried
        ((429, 500, 502, 503, 504), False, 5),  # up to the attempt limit
        ((400,), False, 1),  # a 4xx is final
    ],
)
def test_retries_with_backoff(codes: tuple[int, ...], ok: bool, attempts: int) -> None:
    rcv = receiver(
        webhook={"url": "http://127.0.0.1:8080/"},
        retry={"attempts": 5, "backoff": "1s", "max_backoff": "3s"},
    )
    verdict, steps = run(rcv, http_answers(*codes))
    assert (verdict.ok, verdict.attempts) == (ok, attempts)
    waits = [s.ms for s in steps if isinstance(s, Wait)]
    # full jitter at random() = 0.5: half of 1 s, 2 s, then the 3 s cap
    assert waits == [500, 1000, 1500, 1500][: attempts - 1]


def test_kubernetes_scales_by_delta_within_bounds_after_checking_no_hpa_owns_it() -> None:
    rcv = receiver(kubernetes={"namespace": "prod", "max_replicas": 4})
    answers = iter([Answer(0, b'{"items": []}'), Answer(0, b"3"), Answer(0, b"scaled")])
    action = make_action(type="scale", params={"target": "deployment/web", "delta": 2})
    verdict, steps = run(rcv, answers, action)
    assert [s.argv for s in steps if isinstance(s, Program)] == [
        ("kubectl", "--namespace", "prod", "get", "hpa", "-o", "json"),
        (
            "kubectl",
            "--namespace",
            "prod",
            "get",
            "deployment/web",
            "-o",
            "jsonpath={.spec.replicas}",
        ),
        (
            "kubectl",
            "--namespace",
            "prod",
            "scale",
            "deployment/web",
            "--replicas=4",
            "--current-replicas=3",
        ),
    ]
    assert verdict == Verdict(True, "deployment/web: 3 -> 4 replicas")


def test_kubernetes_refuses_a_workload_an_hpa_scales() -> None:
    hpa = {
        "items": [
            {
                "metadata": {"name": "web-hpa"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
            }
        ]
    }
    rcv = receiver(kubernetes={})
    verdict, steps = run(
        rcv, Answer(0, orjson.dumps(hpa)), make_action(type="scale", params={"target": "web"})
    )
    assert len(steps) == 1
    assert verdict == Verdict(
        False, "refused: HorizontalPodAutoscaler web-hpa scales deployment/web", False
    )


def test_kubernetes_restarts_a_workload_for_a_heal() -> None:
    rcv = receiver(kubernetes={"context": "prod-eu"})
    verdict, [step] = run(rcv, Answer(0), make_action(type="heal", params={"target": "sts/db"}))
    assert isinstance(step, Program)
    assert step.argv == (
        "kubectl",
        "--context",
        "prod-eu",
        "--namespace",
        "default",
        "rollout",
        "restart",
        "statefulset/db",
    )
    assert verdict.ok


RUNBOOK = {
    "restart": receiver(name="restart", command={"argv": ["restart"]}),
    "check": receiver(name="check", command={"argv": ["check"]}),
    "page": receiver(name="page", command={"argv": ["page"]}),
}


def runbook_of(*steps: dict[str, str]) -> Receiver:
    return receiver(name="fix", runbook={"steps": list(steps)})


@pytest.mark.parametrize(
    ("exit_codes", "ran", "ok"),
    [
        ({"restart": 0, "check": 0}, ["restart", "check"], True),
        ({"restart": 1}, ["restart", "page"], False),  # check skipped, page on failure
        ({"restart": 0, "check": 1}, ["restart", "check", "page"], False),
    ],
)
def test_a_runbook_runs_its_steps_in_order_by_their_when(exit_codes, ran, ok) -> None:
    fix = runbook_of(
        {"receiver": "restart"}, {"receiver": "check"}, {"receiver": "page", "when": "failed"}
    )
    receivers = {**RUNBOOK, "fix": fix}

    def answer(step: Step) -> Answer:
        assert isinstance(step, Program)
        return Answer(exit_codes.get(step.argv[0], 0))

    action = make_action(type="heal")
    verdict, steps = drive(plan(fix, delivering(action, [], receivers, 0.0)), answer)
    assert [s.argv[0] for s in steps if isinstance(s, Program)] == ran
    assert [name for name, _ in verdict.steps] == ran
    assert verdict.ok is ok
