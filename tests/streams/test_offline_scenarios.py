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
        ("checkout_deploy_freeze", {}, "alert", "firing", 4),  # the 4m signal's budget
        ("checkout_deploy_freeze", {}, "heal", "firing", 4),
        ("service_down", {"service": "checkout"}, "heal", "firing", 6),
        ("service_down", {"service": "checkout"}, "alert", "firing", 6),
        ("service_down", {"service": "checkout"}, "alert", "resolved", 9),
    ],
    # 12 checks a minute, 2 failing in [3m, 9m); burn = bad / total / 0.01, and every
    # window holds every minute so far (start-up windows), but the 5m one from 6m on:
    #   4m: 2 / 48 = 4.17: ticket (1d and 2h > 3); page pairs (14.4, 6) do not hold;
    #   5m: 4 / 60 = 6.67: page (6h and 30m > 6; 1h 6.67 < 14.4);
    #   the freeze matches the 4m signal: budget 1 - 4.17 = -3.17, under 10%.
    # Both stay firing: the 6h window's burn is 12 / 180 = 6.67 from 15m on (no events
    # after the last minute), and service_down never sees a minute of only failures.
    "slo-burn": [
        ("checkout_availability_ticket", {}, "alert", "firing", 4),
        ("checkout_deploy_freeze", {}, "alert", "firing", 4),
        ("checkout_deploy_freeze", {}, "heal", "firing", 4),
        ("checkout_availability_page", {}, "alert", "firing", 5),
    ],
    # HPA on 2 hosts, target 0.6 (tolerance 0.1): desired ceil(2 × mean / 0.6).
    #   [2m, 3m): mean 0.56, ratio 0.93: within the tolerance, 2;
    #   [3m, 4m): mean 0.69, ratio 1.16: 3, sent at 4m; [4m, 5m): 0.82, 1.37: 3 again;
    #   [5m, 8m): 0.94–0.95, ratio 1.57–1.59: 4, sent at 6m; then background (0.32–0.37):
    #   2, the current count. Means > 0.9 in 3 windows: host_cpu_saturated needs 5.
    "scale-up": [
        ("checkout_autoscale", {}, "scale", "firing", 4),
        ("checkout_autoscale", {}, "scale", "firing", 6),
    ],
    # b2 (succeeded at -128m) is 314,572 B < 1 MiB: too small at once. The last success,
    # b3, is at -68m: the next is due by -68m + 1h + 10m = 2m, none comes (b4 hangs):
    # missed, alert and heal, at 2m. b4 started at -20m: stuck at -20m + 30m = 10m (the
    # rerun's success at 14m ends it too late). The heal's check is due at 62m.
    # the deploy at 1m opens the analysis from 1m; [1m, 2m) and [2m, 3m): the canary's
    # 5xx ratio is 7 of 20 (or 6 of 20) against the baseline's 0: beyond max_ratio 2 and
    # the 0.02 floor, failed twice: max_failures 2, rolled back at the second's end, 3m
    "bad-canary": [
        ("checkout_canary_rollback", {"entity": "checkout"}, "alert", "firing", 3),
        ("checkout_canary_rollback", {"entity": "checkout"}, "heal", "firing", 3),
    ],
    "missed-backup": [
        ("orders_backup_too_small", {"entity": "orders-db"}, "alert", "firing", -128),
        ("orders_backup_missed", {"entity": "orders-db"}, "alert", "firing", 2),
        ("orders_backup_missed", {"entity": "orders-db"}, "heal", "firing", 2),
        ("orders_backup_stuck", {"entity": "orders-db"}, "alert", "firing", 10),
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
