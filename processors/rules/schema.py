"""The JSON Schema of rule files, generated from the models: ``rules/schema.json``.

    .venv/bin/python -m processors.rules.schema > rules/schema.json
    .venv/bin/python -m processors.rules.schema --write      # the same, from the repo root

Editors check and complete rule files with it: VS Code's YAML extension (and any
editor using yaml-language-server) reads a first line
``# yaml-language-server: $schema=schema.json``. The schema knows the shape of a file
(fields, types, enums, durations, name patterns); ``opsrules check`` knows the rest
(expressions, fields per source, macros, duplicates across files).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from processors.rules.model import RuleFile

SCHEMA_FILE = Path("rules") / "schema.json"
REGENERATE = ".venv/bin/python -m processors.rules.schema --write"


def rule_file_schema() -> dict[str, Any]:
    """The schema of one rule file (JSON Schema 2020-12)."""
    schema = RuleFile.model_json_schema(by_alias=True)
    for section in ("macros", "lists"):
        _names_by_pattern(schema["properties"][section])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "opsrules rule file",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _names_by_pattern(mapping: dict[str, Any]) -> None:
    """pydantic gives ``patternProperties``, which lets any other name through; a name
    must match the pattern, so say it with ``propertyNames``."""
    [(pattern, values)] = mapping.pop("patternProperties").items()
    mapping["propertyNames"] = {
        **mapping.get("propertyNames", {}),
        "pattern": pattern,
        "patternErrorMessage": "a name is snake_case: a-z, 0-9 and _, starting with a letter",
    }
    mapping["additionalProperties"] = values


def schema_text() -> str:
    """The schema as ``rules/schema.json`` holds it."""
    return json.dumps(rule_file_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m processors.rules.schema",
        description="Print the JSON Schema of rule files (generated from the pydantic models).",
    )
    parser.add_argument(
        "--write", action="store_true", help=f"write it to {SCHEMA_FILE} instead of stdout"
    )
    args = parser.parse_args(argv)
    text = schema_text()
    if args.write:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
