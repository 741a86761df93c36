"""`opsrules demo` end to end: the cpu-saturation scenario shows an alert and a scale
action (and the resolved alert), as JSON lines on stdout, opsrules act delivers each to
the demo's webhook, and it exits 0; each operations policy's scenario shows exactly the
actions of its offline run."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.conftest import isolated_settings
from tests.streams.test_offline_scenarios import EXPECTED

pytestmark = pytest.mark.integration


def test_demo_shows_the_cpu_saturation_actions(kafka_bootstrap: str) -> None:
    settings = isolated_settings(kafka_bootstrap)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRULES_")}
    env.update(settings.as_env())
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--json", "--speed", "0", "--timeout", "90"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    actions = [orjson.loads(line) for line in done.stdout.splitlines()]
    # Actions of different types arrive on different topics: their order may vary.
    assert sorted((a["rule_id"], a["type"], a["status"]) for a in actions) == [
        ("checkout_autoscale", "scale", "firing"),  # checkout's two hosts, one hot
        ("host_cpu_saturated", "alert", "firing"),
        ("host_cpu_saturated", "alert", "resolved"),
        ("host_cpu_saturated", "scale", "firing"),
    ]
    assert all(
        a["group"] == {"host": "web-1"} for a in actions if a["rule_id"] != "checkout_autoscale"
    )
    assert "done: 4 actions for cpu-saturation, 4 delivered by act" in done.stderr
    assert "act delivered the scale firing of host_cpu_saturated to demo-webhook" in done.stderr
    assert "worker stopped cleanly (exit 0)" in done.stderr
    assert "act stopped cleanly (exit 0)" in done.stderr


@pytest.mark.parametrize("scenario", ["slo-burn", "scale-up", "missed-backup", "bad-canary"])
def test_demo_shows_each_policys_scenario(kafka_bootstrap: str, scenario: str) -> None:
    settings = isolated_settings(kafka_bootstrap)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSRULES_")}
    env.update(settings.as_env())
    command = ["demo", "--json", "--speed", "0", "--scenario", scenario, "--timeout", "120"]
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    actions = [orjson.loads(line) for line in done.stdout.splitlines()]
    expected = sorted((rule, kind, status) for rule, _, kind, status, _ in EXPECTED[scenario])
    assert sorted((a["rule_id"], a["type"], a["status"]) for a in actions) == expected
