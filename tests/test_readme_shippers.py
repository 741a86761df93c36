"""The shipper configurations the integration tests run (tests/integration/shippers/)
are the README's, word for word: what a reader copies is what was tried."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
SHIPPERS = REPO / "tests" / "integration" / "shippers"
TESTS_OWN = "# --- the tests' own settings, not in the README ---\n"
BROKER = "127.0.0.1:9092"

# each file's @placeholders@ as the README fills them in
README_VALUES = {
    "collectd.conf": {
        "interval": "10",
        "base_dir": "/var/lib/collectd",
        "pid_file": "/run/collectd.pid",
        "broker": BROKER,
        "topic": "ops.metrics",
    },
    "rsyslog.conf": {"broker": BROKER, "logs_topic": "ops.logs", "security_topic": "ops.security"},
    "syslog-ng.conf": {"broker": BROKER, "logs_topic": "ops.logs"},
    "telegraf.conf": {"broker": BROKER, "topic": "ops.metrics"},
    "filebeat.yml": {"broker": BROKER, "logs_topic": "ops.logs", "security_topic": "ops.security"},
    "otelcol.yaml": {"broker": BROKER, "metrics_topic": "ops.metrics", "logs_topic": "ops.logs"},
}


def test_every_shipper_configuration_is_covered() -> None:
    files = {p.name for p in SHIPPERS.iterdir() if p.is_file()}  # build folders aside
    assert files == set(README_VALUES)


@pytest.mark.parametrize("name", sorted(README_VALUES))
def test_the_readme_shows_the_configuration_the_tests_run(name: str) -> None:
    text = (SHIPPERS / name).read_text().split(TESTS_OWN)[0]
    values = README_VALUES[name]
    assert set(re.findall(r"@([a-z_]+)@", text)) == set(values)
    shown = re.sub(r"@([a-z_]+)@", lambda m: values[m[1]], text)
    assert shown in (REPO / "README.md").read_text(), f"README does not show {name} as tested"
