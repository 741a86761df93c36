"""Every scenario through the production cores (no Kafka): exactly the expected actions
of the shipped rulebook, and none for `healthy`."""

from __future__ import annotations

import pytest

from processors.rules.compiler import MatcherKind
from streams.offline import OfflineRun, run_offline
from streams.scenarios import generate
from tests.processors.rulebook_factory import shipped_rulebook

START_MS = 1_795_899_240_000  # a whole minute
M = 60_000

# (rule, group, type, status, minute at whose window end it happens)
EXPECTED = {
    "healthy": [],
    "cpu-saturation": [  # checkout's autoscaler (rules/autoscalers.yaml) wants 3 hosts
        ("checkout_autoscale", {}, "scale", "firing", 4),
        ("host_cpu_saturated", {"host": "web-1"}, "alert", "firing", 7),
        ("host_cpu_saturated", {"host": "web-1"}, "scale", "firing", 7),
        ("host_cpu_saturated", {"host": "web-1"}, "alert", "resolved", 11),
    ],
    "memory-leak": [
        ("host_memory_pressure", {"host": "web-2"}, "alert", "firing", 10),
        ("host_memory_pressure", {"host": "web-2"}, "alert", "resolved", 13),
    ],
    "disk-fill": [
        ("host_disk_full", {"host": "db-1"}, "alert", "firing", 5),
        ("host_disk_full", {"host": "db-1"}, "alert", "resolved", 9),
    ],
    "error-burst": [
        ("error_burst", {"service": "checkout"}, "incident", "firing", 5),
        ("error_burst", {"service": "checkout"}, "alert", "firing", 5),
        ("error_burst", {"service": "checkout"}, "alert", "resolved", 7),
    ],
    "service-down": [  # checkout's SLO burns too, and its budget is spent at once
        ("checkout_availability_page", {}, "alert", "firing", 4),
        ("checkout_availability_ticket", {}, "alert", "firing", 4),
        ("service_down", {"service": "checkout"}, "heal", "firing", 6),
        ("service_down", {"service": "checkout"}, "alert", "firing", 6),
        # decided later (its window waits 3m for slo signals), for the minute ending at 5m
        ("checkout_deploy_freeze", {}, "alert", "firing", 5),
        ("checkout_deploy_freeze", {}, "heal", "firing", 5),
        ("service_down", {"service": "checkout"}, "alert", "resolved", 9),
    ],
}


def offline_at(scenario: str, start_ms: int, matcher: MatcherKind = "durable_rules") -> OfflineRun:
    emits = generate(scenario, start_ms=start_ms)
    return run_offline(shipped_rulebook(matcher), [(e.role, e.value) for e in emits])


def offline(scenario: str) -> OfflineRun:
    return offline_at(scenario, START_MS)


@pytest.mark.parametrize("matcher", ["durable_rules", "compiled"])
@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_gives_exactly_the_expected_actions(scenario: str, matcher: MatcherKind) -> None:
    run = offline_at(scenario, START_MS, matcher)
    got = [(a.rule_id, a.group, a.type, a.status, (_ms(a.ts) - START_MS) // M) for a in run.actions]
    assert got == EXPECTED[scenario]
    assert run.rejected == [] and run.late == 0


def test_heal_restarts_the_down_service_and_summaries_read_well() -> None:
    run = offline("service-down")
    heal = next(a for a in run.actions if a.type == "heal" and a.rule_id == "service_down")
    assert heal.params == {"command": "restart", "service": "checkout"}
    assert heal.summary == "checkout is down: all health checks failing for 3 minutes"
    incident = next(a for a in offline("error-burst").actions if a.type == "incident")
    assert incident.params == {"title": "Error burst in checkout"}
    assert incident.summary.endswith("errors in a minute from checkout")


def _ms(ts: str) -> int:
    from processors.timestamps import parse_ts_ms

    return parse_ts_ms(ts)
