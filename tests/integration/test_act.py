"""``opsrules act`` on a real broker, against loopback HTTP servers and programs started
by the tests: each receiver kind's request as its receiver documents it, retries, a
hostile template value as one argument, results on the results topic, and no second
delivery after a restart."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from processors.records import Action
from streams.codec import cloudevent_headers
from streams.settings import OpsrulesSettings
from streams.topics import action_topic, ensure_topics
from streams.worker_process import start_command, stop_worker
from tests.conftest import isolated_settings
from tests.kafka_io import Received, consume, run
from tests.processors.executors.factories import make_action

pytestmark = pytest.mark.integration

HOSTILE = '"; rm -rf / #'


@dataclass
class Hook:
    """A loopback HTTP server that records every request and answers each path with the
    statuses queued for it (200 once they run out)."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay_s: float = 0.0  # how long each answer takes
    delays: dict[str, float] = field(default_factory=dict)  # … at these paths instead

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def wait_for(self, path: str, count: int, timeout_s: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.at(path))} of {count} at {path}"
            time.sleep(0.1)
        return self.at(path)


@pytest.fixture
def hook() -> Iterator[Hook]:
    recorder: Hook

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with recorder.lock:  # recorded as it arrives, answered after delay_s
                recorder.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                queued = recorder.statuses.get(self.path)
                status = queued.pop(0) if queued else 200
            time.sleep(recorder.delays.get(self.path, recorder.delay_s))
            answer = b'{"error": "try later"}' if status >= 400 else b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Hook(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()


def receivers_file(tmp_path: Path, hook: Hook, argv_log: Path) -> Path:
    script = (
        f"import json, sys; open({str(argv_log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')"
    )
    text = f"""
receivers:
  - name: hook
    webhook: {{url: "{hook.url}/hook", headers_env: {{Authorization: HOOK_TOKEN}}}}
    retry: {{attempts: 4, backoff: 100ms, max_backoff: 200ms}}
  - name: am
    alertmanager: {{url: "{hook.url}/am"}}
  - name: pd
    pagerduty: {{routing_key_env: PD_KEY, url: "{hook.url}/pd"}}
  - name: chat
    slack: {{webhook_url_env: SLACK_URL}}
  - name: run
    command:
      argv: [{json.dumps(sys.executable)}, "-c", {json.dumps(script)}, "{{{{ params.target }}}}"]
      timeout: 20s
route:
  receiver: hook
  routes:
    - match: {{type: heal}}
      receiver: run
    - match: {{type: incident}}
      receiver: pd
      continue: true
    - match: {{type: incident}}
      receiver: chat
    - match: {{type: alert}}
      receiver: am
      continue: true
    - match: {{type: alert}}
      receiver: hook
"""
    path = tmp_path / "receivers.yaml"
    path.write_text(text)
    return path


async def send_actions(settings: OpsrulesSettings, actions: list[Action]) -> None:
    """As the decision tier writes them: keyed by fingerprint, CloudEvents headers."""
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all")
    await producer.start()
    try:
        for action in actions:
            headers = cloudevent_headers(
                event_id=action.id,
                event_type=f"action.{action.type}.{action.status}",
                source="opsrules/test",
                time_ms=int(time.time() * 1000),
            )
            await producer.send(
                action_topic(settings, action.type),
                orjson.dumps(action.model_dump(mode="json")),
                key=action.fingerprint.encode(),
                headers=headers,
            )
        await producer.flush()
    finally:
        await producer.stop()


def results(settings: OpsrulesSettings, expect: int) -> list[Received]:
    topic = settings.topic(settings.topic_actions_results)
    found: list[Received] = run(consume(settings, topic, expect=expect, settle_s=1.0))
    return found


@dataclass
class Act:
    settings: OpsrulesSettings
    receivers: Path
    log: Path
    env: dict[str, str]

    def start(self, *args: str) -> Any:
        return start_command(
            self.settings,
            "act",
            "--receivers",
            str(self.receivers),
            *args,
            log=self.log,
            env=self.env,
        )


@pytest.fixture
def act(kafka_bootstrap: str, tmp_path: Path, hook: Hook) -> Act:
    settings = isolated_settings(kafka_bootstrap, commit_interval_ms=200)
    run(ensure_topics(settings))
    env = {"HOOK_TOKEN": "Bearer t0ken", "PD_KEY": "R0UTING", "SLACK_URL": f"{hook.url}/slack"}
    return Act(
        settings, receivers_file(tmp_path, hook, tmp_path / "argv.log"), tmp_path / "act.log", env
    )


def test_every_receiver_kind_gets_its_request_and_every_delivery_a_result(
    act: Act, hook: Hook, tmp_path: Path
) -> None:
    alert = make_action(id="a-alert", fingerprint="f-alert")
    heal = make_action(id="a-heal", type="heal", fingerprint="f-heal", params={"target": HOSTILE})
    incident = make_action(id="a-incident", type="incident", fingerprint="f-incident")
    scale = make_action(id="a-scale", type="scale", fingerprint="f-scale", params={"delta": 1})
    run(send_actions(act.settings, [alert, heal, incident, scale]))
    process = act.start()
    try:
        found = results(act.settings, expect=6)
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]

    by_receiver = {(r.key, r.json()["receiver"]): r for r in found}
    assert sorted(by_receiver) == [
        ("a-alert", "am"),
        ("a-alert", "hook"),
        ("a-heal", "run"),
        ("a-incident", "chat"),
        ("a-incident", "pd"),
        ("a-scale", "hook"),
    ]
    for (action_id, receiver), record in by_receiver.items():
        result = record.json()
        assert result["status"] == "succeeded", result
        assert (result["action_id"], result["attempts"], result["error"]) == (action_id, 1, "")
        assert record.headers["ce_type"] == "dev.opsrules.action.result.succeeded"
        assert record.headers["ce_id"] == f"{action_id}/{receiver}"

    # the webhook: the record as it was on its topic, its id as the idempotency key
    [scale_hook] = [r for r in hook.at("/hook") if r["headers"]["Idempotency-Key"] == "a-scale"]
    assert scale_hook["body"] == orjson.dumps(scale.model_dump(mode="json"))
    assert scale_hook["headers"]["Authorization"] == "Bearer t0ken"
    assert scale_hook["headers"]["ce-type"] == "dev.opsrules.action.scale.firing"
    [am] = hook.at("/am/api/v2/alerts")
    assert orjson.loads(am["body"])[0]["labels"]["alertname"] == "host_cpu_saturated"
    [pd] = hook.at("/pd")
    assert orjson.loads(pd["body"])["routing_key"] == "R0UTING"
    assert orjson.loads(pd["body"])["dedup_key"] == "f-incident"
    [chat] = hook.at("/slack")
    assert orjson.loads(chat["body"])["text"].startswith(":rotating_light: [CRITICAL]")
    # the command: the hostile value is one argument, run by no shell
    assert [json.loads(line) for line in (tmp_path / "argv.log").read_text().splitlines()] == [
        [HOSTILE]
    ]

    # A restart reads nothing again (all committed) and delivers nothing more.
    before = len(hook.requests)
    process = act.start("--timeout", "8")
    assert process.wait(timeout=60) == 0, act.log.read_text()[-3000:]
    assert len(hook.requests) == before


def test_a_failing_receiver_is_retried_and_a_refusal_is_reported_at_once(
    act: Act, hook: Hook
) -> None:
    hook.statuses["/hook"] = [503, 502]  # then 200
    hook.statuses["/am/api/v2/alerts"] = [400]
    run(send_actions(act.settings, [make_action(id="a-1", fingerprint="f-1")]))
    process = act.start()
    try:
        found = {r.json()["receiver"]: r.json() for r in results(act.settings, expect=2)}
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]
    assert (found["hook"]["status"], found["hook"]["attempts"]) == ("succeeded", 3)
    assert len(hook.at("/hook")) == 3
    assert {r["headers"]["Idempotency-Key"] for r in hook.at("/hook")} == {"a-1"}
    assert (found["am"]["status"], found["am"]["attempts"]) == ("failed", 1)
    assert found["am"]["error"] == 'HTTP 400: {"error": "try later"}'


def test_dry_run_prints_the_requests_with_secrets_hidden_and_sends_nothing(
    act: Act, hook: Hook
) -> None:
    run(send_actions(act.settings, [make_action(id="a-dry", type="incident", fingerprint="f")]))
    process = act.start("--dry-run", "--timeout", "10")
    assert process.wait(timeout=60) == 0
    printed = [
        orjson.loads(line) for line in act.log.read_text().splitlines() if line.startswith("{")
    ]
    assert sorted(p["receiver"] for p in printed) == ["chat", "pd"]
    [pd] = [p for p in printed if p["receiver"] == "pd"]
    assert pd["body"]["routing_key"] == "<secret>"
    [chat] = [p for p in printed if p["receiver"] == "chat"]
    assert chat["url"] == "<secret>"
    assert hook.requests == []
    assert results(act.settings, expect=0) == []


def test_a_slow_receiver_does_not_hold_up_the_others(act: Act, hook: Hook, tmp_path: Path) -> None:
    hook.delays["/slow"] = 2.0
    act.receivers.write_text(
        f"""
receivers:
  - name: slow
    webhook: {{url: "{hook.url}/slow", timeout: 10s}}
  - name: fast
    webhook: {{url: "{hook.url}/fast"}}
route:
  receiver: fast
  routes:
    - match: {{type: alert}}
      receiver: slow
      continue: true
    - match: {{type: alert}}
      receiver: fast
"""
    )
    actions = [make_action(id=f"a-{n}", fingerprint=f"f-{n}") for n in range(20)]
    run(send_actions(act.settings, actions))
    process = act.start()
    try:
        hook.wait_for("/fast", 20, timeout_s=30)
        # 4 workers on the slow receiver, 2 s each: 20 take 10 s; the fast ones are done
        assert len(hook.at("/slow")) <= 8
        hook.wait_for("/slow", 20, timeout_s=60)
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]


FAKE_KUBECTL = """
import json, sys
args = sys.argv[1:]
open(sys.argv[0] + ".log", "a").write(json.dumps(args) + "\\n")
if "hpa" in args:
    print(json.dumps({"items": []}))
elif "get" in args:
    print(3)
"""


def test_kubernetes_scales_through_kubectl_argv(act: Act, hook: Hook, tmp_path: Path) -> None:
    kubectl = tmp_path / "kubectl.py"
    kubectl.write_text(FAKE_KUBECTL)
    act.receivers.write_text(
        f"""
receivers:
  - name: k8s
    kubernetes: {{namespace: prod, kubectl: [{json.dumps(sys.executable)}, "{kubectl}"]}}
route:
  receiver: k8s
"""
    )
    scale = make_action(id="a-scale", type="scale", params={"target": "deployment/web", "delta": 2})
    run(send_actions(act.settings, [scale]))
    process = act.start()
    try:
        [result] = [r.json() for r in results(act.settings, expect=1)]
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]
    assert (result["status"], result["message"]) == ("succeeded", "deployment/web: 3 -> 5 replicas")
    calls = [json.loads(line) for line in (tmp_path / "kubectl.py.log").read_text().splitlines()]
    assert calls == [
        ["--namespace", "prod", "get", "hpa", "-o", "json"],
        ["--namespace", "prod", "get", "deployment/web", "-o", "jsonpath={.spec.replicas}"],
        ["--namespace", "prod", "scale", "deployment/web", "--replicas=5", "--current-replicas=3"],
    ]


def test_fetching_pauses_while_too_many_deliveries_are_unfinished_and_resumes(
    kafka_bootstrap: str, hook: Hook, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_bootstrap, commit_interval_ms=200, act_max_in_flight=3)
    run(ensure_topics(settings))
    hook.delay_s = 0.05
    receivers = receivers_file(tmp_path, hook, tmp_path / "argv.log")
    act = Act(settings, receivers, tmp_path / "act.log", {"HOOK_TOKEN": "t"})
    actions = [make_action(id=f"s-{n}", type="scale", fingerprint=f"f-{n}") for n in range(30)]
    run(send_actions(settings, actions))
    process = act.start()
    try:
        found = results(settings, expect=30)
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]
    assert sorted(r.key for r in found) == sorted(a.id for a in actions)
    assert {r.json()["status"] for r in found} == {"succeeded"}, found[0].json()
    assert len(hook.at("/hook")) == 30  # 4 workers, but at most 3 actions fetched ahead


def test_a_runbook_runs_its_steps_and_reports_each(act: Act, hook: Hook, tmp_path: Path) -> None:
    act.receivers.write_text(
        f"""
receivers:
  - name: restart
    command: {{argv: ["false"]}}
  - name: check
    webhook: {{url: "{hook.url}/check"}}
  - name: page
    webhook: {{url: "{hook.url}/page"}}
  - name: fix
    runbook:
      steps:
        - receiver: restart
        - receiver: check
        - receiver: page
          when: failed
route:
  receiver: fix
"""
    )
    run(send_actions(act.settings, [make_action(id="a-fix", type="heal", fingerprint="f")]))
    process = act.start()
    try:
        [result] = [r.json() for r in results(act.settings, expect=1)]
    finally:
        assert stop_worker(process) == 0, act.log.read_text()[-3000:]
    assert (result["receiver"], result["status"]) == ("fix", "failed")
    assert result["steps"] == [
        {"receiver": "restart", "status": "failed", "error": "exit code 1"},
        {"receiver": "page", "status": "succeeded", "error": ""},
    ]
    assert hook.at("/check") == []  # it runs after a step that succeeded
    [page] = hook.at("/page")
    assert page["headers"]["Idempotency-Key"] == "a-fix"
