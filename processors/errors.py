"""The one exception tree of opsrules.

Every error the project raises on purpose derives from :class:`OpsrulesError` and
carries the fields an operator needs; third-party errors are translated at the edge.
The CLI prints ``str(error)`` and exits non-zero, so messages say what to do next.

    OpsrulesError
    ├── SettingsError         invalid OPSRULES_* environment (streams.settings)
    ├── RulesError            rule files that do not load (every error, file:line:col)
    ├── ExpressionError       a broken expression, at its column (also a ValueError;
    │                         processors.rules.expressions)
    ├── CronError             a maintenance window's cron expression (also a ValueError;
    │                         processors.rules.maintenance)
    ├── MatcherError          a label matcher (also a ValueError;
    │                         processors.rules.label_matchers)
    ├── DurableRulesError     durable_rules refused what we built: a bug of ours (also a
    │                         RuntimeError; processors.rules.durable_rules_matcher)
    ├── NotationError         a rule test's expanding notation (streams.ruletest.notation)
    ├── KafkaLocalError       provisioning or running the local broker
    │   └── MissingToolError  Java 17+ or Maven missing
    └── KafkaUnavailableError a broker did not answer

It lives at the ground floor (``processors/``) so that the pure cores' errors belong to
the tree; the shells' errors are defined here too, next to their siblings.
"""

from __future__ import annotations


class OpsrulesError(Exception):
    """Root of every error opsrules raises on purpose."""


class SettingsError(OpsrulesError):
    """One or more ``OPSRULES_*`` variables are invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid settings:\n{lines}")


class RulesError(OpsrulesError):
    """Rule files with errors; ``errors`` are ``path:line:col: rule <id>: message``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(
            f"{len(errors)} error(s) in the rule files:\n{lines}\n"
            "Fix them and run `opsrules check` to confirm."
        )


class KafkaLocalError(OpsrulesError):
    """The local broker could not be provisioned, started or stopped."""


class MissingToolError(KafkaLocalError):
    """A tool the local broker needs (Java 17+, Maven) is missing."""

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        super().__init__(
            f"{tool} is required to run a local Kafka broker: {detail}\n"
            "Install it (Debian: apt-get install openjdk-17-jre-headless maven), or run "
            "Kafka in Docker instead: docker compose up -d kafka, then set "
            "OPSRULES_BOOTSTRAP_SERVERS=127.0.0.1:9092."
        )


class KafkaUnavailableError(OpsrulesError):
    """No broker answered at the bootstrap address."""

    def __init__(self, bootstrap_servers: str, detail: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        super().__init__(
            f"no Kafka broker answered at {bootstrap_servers}: {detail}\n"
            "Start one with `opsrules kafka up` (or `docker compose up -d kafka`), or set "
            "OPSRULES_BOOTSTRAP_SERVERS to your cluster."
        )
