"""The receivers file of ``opsrules act``: where actions go, Alertmanager's shape.

    receivers:
      - name: ops-webhook
        webhook: {url: "http://127.0.0.1:8080/hook", timeout: 5s}
      - name: restart
        command: {argv: ["systemctl", "restart", "{{ params.target }}"], timeout: 60s}
    route:
      receiver: ops-webhook          # the default
      routes:
        - match: {type: heal}
          receiver: restart

Each receiver has a unique name and exactly one kind (``webhook``, ``alertmanager``,
``pagerduty``, ``slack``, ``command``, ``kubernetes``, ``runbook``) and may override the
delivery policy (``retry``). Secrets are named, never written: ``routing_key_env``,
``webhook_url_env``, ``headers_env`` hold the names of environment variables read when
``act`` starts. The routing tree is Alertmanager's (processors/executors/routing.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from processors.rules.durations import DurationMs, PositiveDurationMs
from processors.rules.model_base import StrictModel, one_of_kinds

RECEIVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ReceiverName = Annotated[str, Field(pattern=RECEIVER_NAME, max_length=128)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=256)]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+", max_length=2048)]


class RetryConfig(StrictModel):
    """Attempts with exponential backoff and full jitter: attempt ``n`` (from 1) waits a
    random time up to ``min(max_backoff, backoff * 2**(n-1))`` after a failure."""

    attempts: int = Field(5, ge=1, le=100, description="Attempts in all, the first included.")
    backoff_ms: PositiveDurationMs = Field(1000, alias="backoff")
    max_backoff_ms: PositiveDurationMs = Field(60_000, alias="max_backoff")


class WebhookConfig(StrictModel):
    """POST the action record as it is on its topic, ``Idempotency-Key: <action id>``,
    its CloudEvents attributes as ``ce-*`` headers."""

    url: HttpUrl
    timeout_ms: PositiveDurationMs = Field(10_000, alias="timeout")
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, EnvName] = Field(
        default_factory=dict, description="Headers whose values come from these variables."
    )


class AlertmanagerConfig(StrictModel):
    """``POST <url>/api/v2/alerts``: the alert, firing (``endsAt`` ahead) or resolved."""

    url: HttpUrl
    timeout_ms: PositiveDurationMs = Field(10_000, alias="timeout")
    # Alertmanager resolves an alert not re-sent within resolve_timeout (5m): a firing
    # alert is sent with endsAt this far ahead of its action's time.
    ends_after_ms: PositiveDurationMs = Field(3_600_000, alias="ends_after")
    generator_url: str = ""


class PagerDutyConfig(StrictModel):
    """Events API v2: trigger on firing, resolve on resolved, ``dedup_key`` the alert's
    fingerprint."""

    routing_key_env: EnvName
    url: HttpUrl = "https://events.pagerduty.com/v2/enqueue"
    timeout_ms: PositiveDurationMs = Field(10_000, alias="timeout")
    client: str = "opsrules"


class SlackConfig(StrictModel):
    """An incoming-webhook message (``text`` and blocks)."""

    webhook_url_env: EnvName
    timeout_ms: PositiveDurationMs = Field(10_000, alias="timeout")
    channel: str | None = None


class CommandConfig(StrictModel):
    """A program run with ``argv`` (never a shell): each element is one argument after
    its templates are rendered, whatever they hold."""

    argv: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=256)
    timeout_ms: PositiveDurationMs = Field(60_000, alias="timeout")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class KubernetesConfig(StrictModel):
    """``kubectl scale --replicas`` (scale actions) or ``kubectl rollout restart`` (heal
    actions) of ``params.target`` (``deployment/web`` or a bare name: a deployment),
    refused when a HorizontalPodAutoscaler owns the target."""

    namespace: str = Field("default", max_length=253)
    kubectl: list[str] = Field(default_factory=lambda: ["kubectl"], min_length=1)
    context: str | None = None
    timeout_ms: PositiveDurationMs = Field(60_000, alias="timeout")
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(100, ge=1)


class RunbookStep(StrictModel):
    receiver: ReceiverName
    when: Literal["always", "succeeded", "failed"] = Field(
        "succeeded",
        description="Run when the step that ran before it succeeded, failed, or always.",
    )


class RunbookConfig(StrictModel):
    """Steps run in order, each a receiver (not a runbook); a step whose ``when`` does
    not hold is skipped. The runbook succeeds when every step that ran succeeded."""

    steps: list[RunbookStep] = Field(min_length=1, max_length=50)


Kind = Literal["webhook", "alertmanager", "pagerduty", "slack", "command", "kubernetes", "runbook"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class Receiver(StrictModel):
    name: ReceiverName
    webhook: WebhookConfig | None = None
    alertmanager: AlertmanagerConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    slack: SlackConfig | None = None
    command: CommandConfig | None = None
    kubernetes: KubernetesConfig | None = None
    runbook: RunbookConfig | None = None
    retry: RetryConfig = Field(default_factory=RetryConfig)
    send_resolved: bool = Field(True, description="Deliver resolved actions too.")

    @model_validator(mode="after")
    def _one_kind(self) -> Receiver:
        one_of_kinds(self, KINDS, "receiver")
        return self

    @property
    def kind(self) -> Kind:
        return one_of_kinds(self, KINDS, "receiver")

    @property
    def settings(self) -> Any:
        return getattr(self, self.kind)


class Route(StrictModel):
    """A node of the routing tree (Alertmanager's): it matches an action when all of
    ``match`` (equal), ``match_re`` (RE2, anchored) and ``matchers`` hold for its labels;
    the first matching child takes it (and the next ones too while a matching child says
    ``continue``); a node none of whose children match takes it itself."""

    receiver: ReceiverName | None = None
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    matchers: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    routes: list[Route] = Field(default_factory=list)


class ReceiversFile(StrictModel):
    receivers: list[Receiver] = Field(min_length=1)
    route: Route
    # how long act waits for a delivery in flight when it stops (SIGTERM)
    drain_timeout_ms: DurationMs = Field(30_000, alias="drain_timeout")
