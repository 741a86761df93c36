"""A Kubernetes receiver, through ``kubectl`` (argv, never a shell): a ``scale`` action
sets a workload's replicas, a ``heal`` action restarts it (``rollout restart``).

The workload is ``params.target``, else the action's target: ``deployment/web``,
``statefulset/db`` or a bare name (a deployment). Scaling:

1. ``kubectl get hpa -o json``: refused when a HorizontalPodAutoscaler's
   ``scaleTargetRef`` names the workload (it would undo the change at its next sync);
2. ``kubectl get <workload> -o jsonpath={.spec.replicas}``: the current count;
3. ``kubectl scale <workload> --replicas=N --current-replicas=<current>``: N is
   ``params.replicas``, else current + ``params.delta`` (default 1), kept within
   ``min_replicas`` and ``max_replicas``; ``--current-replicas`` makes it a no-op when
   someone scaled meanwhile (kubectl then fails, and the result says so).

A resolved action does nothing (scaling back is a rule of its own). Each step is a
:class:`~processors.executors.requests.Program`; :func:`plan` yields them and reads
their answers, so the sequence is tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import orjson

from processors.executors.receivers import KubernetesConfig
from processors.executors.requests import Answer, Program, Verdict, program_verdict
from processors.records import Action

KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "replicaset": "ReplicaSet",
    "replicasets": "ReplicaSet",
    "rs": "ReplicaSet",
}

Plan = Generator[Program, Answer, Verdict]


def workload(action: Action) -> tuple[str, str] | str:
    """(kind, name) of the action's workload, or why there is none."""
    target = action.params.get("target", action.target)
    if not isinstance(target, str) or not target:
        return "no target: give the action params.target (deployment/web, or a name)"
    kind, _, name = target.rpartition("/")
    if not kind:
        return ("Deployment", name)
    if kind.lower() not in KINDS:
        return f"cannot scale {kind!r}: a deployment, statefulset or replicaset"
    return (KINDS[kind.lower()], name)


def _kubectl(config: KubernetesConfig, *args: str) -> Program:
    argv = [*config.kubectl]
    if config.context:
        argv += ["--context", config.context]
    argv += ["--namespace", config.namespace, *args]
    return Program(tuple(argv), config.timeout_ms)


def hpa_owner(answer: bytes, kind: str, name: str) -> str | None:
    """The HorizontalPodAutoscaler (of ``kubectl get hpa -o json``) that scales the
    workload, if any."""
    items = orjson.loads(answer).get("items") or []
    for item in items:
        ref: dict[str, Any] = (item.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == kind and ref.get("name") == name:
            return str((item.get("metadata") or {}).get("name", "?"))
    return None


def desired_replicas(action: Action, current: int, config: KubernetesConfig) -> int | str:
    params = action.params
    if "replicas" in params:
        wanted = params["replicas"]
    else:
        delta = params.get("delta", 1)
        if isinstance(delta, bool) or not isinstance(delta, int):
            return f"params.delta must be a whole number, not {delta!r}"
        wanted = current + delta
    if isinstance(wanted, bool) or not isinstance(wanted, int):
        return f"params.replicas must be a whole number, not {wanted!r}"
    return max(config.min_replicas, min(config.max_replicas, wanted))


def plan(action: Action, config: KubernetesConfig) -> Plan:
    if action.status == "resolved":
        return Verdict(True, "resolved: nothing to do")
    found = workload(action)
    if isinstance(found, str):
        return Verdict(False, found, retry=False)
    kind, name = found
    ref = f"{kind.lower()}/{name}"
    if action.type == "heal":
        answer = yield _kubectl(config, "rollout", "restart", ref)
        return program_verdict(answer)
    if action.type != "scale":
        return Verdict(
            False, f"a kubernetes receiver acts on heal and scale, not {action.type}", False
        )
    answer = yield _kubectl(config, "get", "hpa", "-o", "json")
    if answer.code != 0:
        return program_verdict(answer)
    try:
        owner = hpa_owner(answer.body, kind, name)
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return Verdict(False, f"kubectl get hpa gave no list: {answer.body[:200]!r}", False)
    if owner is not None:
        return Verdict(False, f"refused: HorizontalPodAutoscaler {owner} scales {ref}", False)
    answer = yield _kubectl(config, "get", ref, "-o", "jsonpath={.spec.replicas}")
    if answer.code != 0:
        return program_verdict(answer)
    try:
        current = int(answer.body.strip() or b"0")
    except ValueError:
        return Verdict(False, f"kubectl gave no replica count: {answer.body[:200]!r}", False)
    wanted = desired_replicas(action, current, config)
    if isinstance(wanted, str):
        return Verdict(False, wanted, retry=False)
    if wanted == current:
        return Verdict(True, f"{ref} already has {current} replicas")
    answer = yield _kubectl(
        config, "scale", ref, f"--replicas={wanted}", f"--current-replicas={current}"
    )
    verdict = program_verdict(answer)
    return Verdict(True, f"{ref}: {current} -> {wanted} replicas") if verdict.ok else verdict
