"""Configuration files beside the rules (``opsrules act``'s receivers, ``opsrules probe``'s
targets), read and validated as rule files are: YAML bounded against hostile input
(yaml_files.py), the top level a mapping, and every schema error at its line and
column with did-you-mean for an unknown key.

Such a file holds a list of named items under one key (``receivers:``, ``probes:``); an
error inside item ``n`` names the item (its ``name``) and shows its path within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap

from processors.rules.rule_errors import Kind, RuleError, RuleSource, did_you_mean, locate
from processors.rules.yaml_files import read_yaml

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigShape:
    """What a kind of file looks like: its ``model``, the key of its list of named
    ``items`` (and the error kind of those), what its top level holds (for the message
    when it is not a mapping), and the keys allowed in each mapping by the key it is
    written under (``"file"`` for the top level)."""

    model: type[BaseModel]
    items: str
    item_kind: Kind
    top_level: str
    keys: dict[str, list[str]]


@dataclass
class ConfigRead(Generic[M]):
    """The file's tree (for positions of later checks) and model, or its errors."""

    source: RuleSource | None = None
    model: M | None = None
    errors: list[RuleError] = field(default_factory=list)


def read_config(path: Path | str, shape: ConfigShape, model: type[M]) -> ConfigRead[M]:
    name = str(path)
    result: ConfigRead[M] = ConfigRead()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        result.errors.append(RuleError(name, 1, 1, None, f"cannot read: {exc.strerror}"))
        return result
    except UnicodeDecodeError as exc:
        result.errors.append(RuleError(name, 1, 1, None, f"not UTF-8 text (byte {exc.start})"))
        return result
    data = read_yaml(name, text)
    if isinstance(data, RuleError):
        result.errors.append(data)
        return result
    source = RuleSource(name, text, data)
    if not isinstance(data, CommentedMap):
        result.errors.append(source.error((1, 1), None, f"a {shape.top_level}"))
        return result
    result.source = source
    try:
        result.model = model.model_validate(data)
    except ValidationError as exc:
        result.errors.extend(_schema_error(source, shape, e) for e in exc.errors(include_url=False))
    return result


def _schema_error(source: RuleSource, shape: ConfigShape, error: Any) -> RuleError:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
    pos, _ = locate(source.data, loc)
    key = str(loc[-1]) if loc else ""
    if error["type"] == "extra_forbidden":
        parents = [p for p in loc[:-1] if isinstance(p, str)]
        allowed = shape.keys.get(parents[-1] if parents else "file", [])
        hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
        message = f"unknown field '{key}'{hint}"
    elif error["type"] == "missing":
        message = f"missing required field '{key}'"
    else:
        in_item = len(loc) >= 2 and loc[0] == shape.items
        where = ".".join(str(p) for p in (loc[2:] if in_item else loc))
        text = str(error["msg"]).removeprefix("Value error, ")
        message = f"{where}: {text}" if where else text
    return source.error(pos, item_name(source.data, shape.items, loc), message, shape.item_kind)


def item_name(data: Any, items: str, loc: Sequence[int | str]) -> str | None:
    """The ``name`` of the item at ``loc`` (``(items, n, …)``), if it has one."""
    if len(loc) >= 2 and loc[0] == items and isinstance(loc[1], int):
        try:
            name = data[items][loc[1]].get("name")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None
    return None
