"""OpenSSH's authentication lines as ECS authentication events, for the rules on the
security topic (rules/examples.yaml's ``failed_login_burst``, ``failed_login_spike``:
``event.category == "authentication" and event.outcome == "failure"``, grouped by
``source.ip`` or ``host.name``).

The lines are sshd's ``auth.c`` log of each attempt, from ``sshd`` (``sshd-session``
since OpenSSH 9.8)::

    Failed password for root from 203.0.113.7 port 51234 ssh2
    Failed password for invalid user admin from 203.0.113.7 port 51234 ssh2
    Accepted publickey for alice from 198.51.100.2 port 50000 ssh2: ED25519 SHA256:…

→ ``event`` ``{kind: event, category: [authentication], type: [start], action:
ssh_login, outcome: failure|success}`` (ECS's allowed values; ``reason: invalid user``
for an unknown user), ``source.ip`` (``source.address`` when sshd logged a name, with
``UseDNS yes``) and ``source.port``, ``user.name``, ``host.name``, ``process.name`` and
``process.pid``, ``message`` the line, ``labels.ssh_method`` (``password``,
``publickey``, ``keyboard-interactive/pam``…). Other sshd lines (``Invalid user …``,
``Connection closed …``, PAM's) are not attempts of their own: not read.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import Any

PROGRAMS = frozenset({"sshd", "sshd-session"})
SUPPORTED = (
    "sshd's 'Failed|Accepted <method> for [invalid user ]<user> from <address> port <port>' lines"
)
_ATTEMPT = re.compile(
    r"(?P<verdict>Failed|Accepted) (?P<method>\S+) for (?P<invalid>invalid user )?"
    r"(?P<user>\S*) from (?P<address>\S+) port (?P<port>\d+)"
)


def auth_event(
    ts_ms: int, program: str | None, host: str | None, pid: str | None, message: str
) -> dict[str, Any] | None:
    """The ECS event of an sshd authentication attempt, or None for any other line."""
    if program not in PROGRAMS:
        return None
    match = _ATTEMPT.match(message)
    if match is None:
        return None
    event: dict[str, Any] = {
        "kind": "event",
        "category": ["authentication"],
        "type": ["start"],
        "action": "ssh_login",
        "outcome": "success" if match["verdict"] == "Accepted" else "failure",
    }
    if match["invalid"]:
        event["reason"] = "invalid user"
    address = match["address"]
    source: dict[str, Any] = {"address": address, "port": int(match["port"])}
    with contextlib.suppress(ValueError):  # a name (UseDNS yes): no ip to group by
        source["ip"] = str(ipaddress.ip_address(address))
    process: dict[str, Any] = {"name": program}
    if pid is not None and pid.isascii() and pid.isdigit():
        process["pid"] = int(pid)
    record: dict[str, Any] = {
        "ts_ms": ts_ms,
        "event": event,
        "source": source,
        "user": {"name": match["user"]},
        "process": process,
        "message": message,
        "labels": {"ssh_method": match["method"]},
    }
    if host is not None:
        record["host"] = {"name": host}
    return record
