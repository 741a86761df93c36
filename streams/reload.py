"""Hot reload: the worker watches its rules folder and swaps in a valid change.

Every ``OPSRULES_RULES_RELOAD_INTERVAL_S`` the rule files' contents are hashed; on a
change they are loaded and compiled. An invalid change is refused: every ``opsrules
check`` message goes to the log and the running rules stay. A valid one is swapped
into the decision tier first (so that no signal of a new rule meets a tier that does
not know it), then into the firehose, each between two of its batches. Alerts of
rules whose definition changed (their version, a content hash) or that were removed
start fresh; state of unchanged rules carries over (see each tier's ``reload``).

Each worker watches its own copy of the folder, so several workers converge on the
same rules once the files are the same everywhere; while they differ, each partition
is decided by the rules of the worker that owns it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from mode import Service

from processors.errors import RulesError
from processors.rules.compiler import CompiledRulebook
from processors.rules.loader import rule_files
from streams.metrics import Metrics

log = logging.getLogger(__name__)


class Reloadable(Protocol):
    async def reload(self, rulebook: CompiledRulebook, changed: set[str]) -> None: ...


def rules_digest(rules_dir: Path) -> str:
    """A hash of the names and contents of the rule files the loader would read."""
    digest = hashlib.sha256()
    for path in rule_files([rules_dir]):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError as exc:  # vanished between listing and reading: next look
            digest.update(repr(exc).encode())
    return digest.hexdigest()


def changed_rules(old: CompiledRulebook, new: CompiledRulebook) -> set[str]:
    """Ids of the rules of ``old`` that ``new`` defines differently or not at all."""
    return {
        rule_id
        for rule_id, rule in old.rules.items()
        if rule_id not in new.rules or new.rules[rule_id].version != rule.version
    }


class RulesWatcher(Service):
    """Looks at the rules folder every ``interval_s`` and reloads a valid change."""

    def __init__(
        self,
        rules_dir: Path,
        rulebook: CompiledRulebook,
        load: Callable[[], CompiledRulebook],
        tiers: Iterable[Reloadable],
        metrics: Metrics,
        *,
        interval_s: float,
        **kwargs: Any,
    ) -> None:
        self.rules_dir = rules_dir
        self.rulebook = rulebook
        self.load = load
        self.tiers = list(tiers)  # in reload order
        self.metrics = metrics
        self.interval_s = interval_s
        self.digest = rules_digest(rules_dir)
        super().__init__(**kwargs)

    async def on_started(self) -> None:
        self.add_future(self._watch())

    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(self.interval_s)
            if not self.should_stop:
                await self.check()

    async def check(self) -> bool:
        """Reload if the files changed; True when a new rulebook was swapped in."""
        digest = rules_digest(self.rules_dir)
        if digest == self.digest:
            return False
        self.digest = digest  # a refused change is reported once, not every look
        try:
            rulebook = self.load()
        except RulesError as exc:
            self.metrics.inc("opsrules_rules_reloads_total", result="refused")
            log.error(
                "rules in %s changed but are not valid; the running rules stay. "
                "Fix these and save again (opsrules check %s):",
                self.rules_dir,
                self.rules_dir,
            )
            for problem in exc.errors:
                log.error("  %s", problem)
            return False
        except Exception:  # a loader bug on some input: the running rules stay all the same
            self.metrics.inc("opsrules_rules_reloads_total", result="refused")
            log.exception(
                "loading the changed rules in %s failed; the running rules stay", self.rules_dir
            )
            return False
        changed = changed_rules(self.rulebook, rulebook)
        added = set(rulebook.rules) - set(self.rulebook.rules)
        for tier in self.tiers:
            await tier.reload(rulebook, changed)
        self.rulebook = rulebook
        self.metrics.inc("opsrules_rules_reloads_total", result="applied")
        log.info(
            "rules reloaded from %s: %d rules; added %s; changed or removed %s",
            self.rules_dir,
            len(rulebook.rules),
            sorted(added) or "none",
            sorted(changed) or "none",
        )
        return True
