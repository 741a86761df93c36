"""sshd's authentication lines as ECS events (processors/formats/sshd.py): each form of
attempt, the fields the shipped security rules read, and the lines that are not read."""

from __future__ import annotations

from typing import Any

import pytest

from processors.formats.sshd import auth_event

TS_MS = 1_714_550_400_123


def event(message: str, program: str = "sshd", pid: str | None = "812") -> dict[str, Any]:
    found = auth_event(TS_MS, program, "web-01", pid, message)
    assert found is not None, message
    return found


def test_a_failed_password_is_a_failed_authentication_from_its_address() -> None:
    message = "Failed password for root from 203.0.113.7 port 51234 ssh2"
    assert event(message) == {
        "ts_ms": TS_MS,
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "ssh_login",
            "outcome": "failure",
        },
        "source": {"address": "203.0.113.7", "ip": "203.0.113.7", "port": 51234},
        "user": {"name": "root"},
        "host": {"name": "web-01"},
        "process": {"name": "sshd", "pid": 812},
        "message": message,
        "labels": {"ssh_method": "password"},
    }


@pytest.mark.parametrize(
    ("message", "outcome", "user", "method", "reason"),
    [
        (
            "Failed password for invalid user admin from 203.0.113.7 port 4 ssh2",
            "failure",
            "admin",
            "password",
            "invalid user",
        ),
        (
            "Failed password for invalid user  from 203.0.113.7 port 4 ssh2",
            "failure",
            "",
            "password",
            "invalid user",
        ),
        (
            "Failed publickey for git from 203.0.113.7 port 4 ssh2: RSA SHA256:x",
            "failure",
            "git",
            "publickey",
            None,
        ),
        (
            "Failed none for invalid user x from 203.0.113.7 port 4 ssh2",
            "failure",
            "x",
            "none",
            "invalid user",
        ),
        (
            "Failed keyboard-interactive/pam for root from 203.0.113.7 port 4 ssh2",
            "failure",
            "root",
            "keyboard-interactive/pam",
            None,
        ),
        (
            "Accepted password for alice from 203.0.113.7 port 4 ssh2",
            "success",
            "alice",
            "password",
            None,
        ),
        (
            "Accepted publickey for alice from 203.0.113.7 port 4 ssh2: ED25519 SHA256:abc",
            "success",
            "alice",
            "publickey",
            None,
        ),
    ],
)
def test_each_form_of_attempt_gives_its_outcome_user_and_method(
    message: str, outcome: str, user: str, method: str, reason: str | None
) -> None:
    found = event(message)
    assert found["event"]["outcome"] == outcome
    assert found["event"].get("reason") == reason
    assert found["user"] == {"name": user}
    assert found["labels"] == {"ssh_method": method}


def test_an_ipv6_source_is_an_ip_and_a_name_is_only_an_address() -> None:
    v6 = event("Failed password for root from 2001:db8::5 port 4 ssh2")
    assert v6["source"] == {"address": "2001:db8::5", "ip": "2001:db8::5", "port": 4}
    named = event("Failed password for root from attacker.example port 4 ssh2")
    assert named["source"] == {"address": "attacker.example", "port": 4}


def test_sshd_session_counts_and_a_missing_pid_or_host_is_left_out() -> None:
    found = auth_event(
        TS_MS, "sshd-session", None, None, "Failed password for root from 203.0.113.7 port 4 ssh2"
    )
    assert found is not None
    assert found["process"] == {"name": "sshd-session"}
    assert "host" not in found


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("sshd", "Invalid user admin from 203.0.113.7 port 51234"),
        ("sshd", "Connection closed by authenticating user root 203.0.113.7 port 51234 [preauth]"),
        ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh"),
        ("sshd", "Disconnected from user alice 198.51.100.2 port 50000"),
        ("su", "Failed password for root from 203.0.113.7 port 51234 ssh2"),
        (None, "Failed password for root from 203.0.113.7 port 51234 ssh2"),
    ],
)
def test_other_lines_are_not_attempts(program: str | None, message: str) -> None:
    assert auth_event(TS_MS, program, "web-01", "1", message) is None
