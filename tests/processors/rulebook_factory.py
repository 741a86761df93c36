"""Build compiled rulebooks from YAML text, for tests."""

from __future__ import annotations

from pathlib import Path

from processors.rules.compiler import CompiledRulebook, MatcherKind, compile_rulebook
from processors.rules.loader import load_rules

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


def rulebook_from_yaml(
    tmp_path: Path, text: str, matcher: MatcherKind = "durable_rules"
) -> CompiledRulebook:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    loaded = load_rules([path])
    assert loaded.ok, [str(e) for e in loaded.errors]
    return compile_rulebook(loaded.rules, matcher=matcher, policies=loaded.policies)


def shipped_rulebook(matcher: MatcherKind = "durable_rules") -> CompiledRulebook:
    loaded = load_rules([REPO_RULES])
    assert loaded.ok, [str(e) for e in loaded.errors]
    return compile_rulebook(loaded.rules, matcher=matcher, policies=loaded.policies)
