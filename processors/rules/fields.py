"""What rules may name on each source: derived from the record models
(``processors/records.py``), never copied."""

from __future__ import annotations

from typing import get_args, get_origin

from pydantic import BaseModel

from processors.records import (
    ANOMALY_GROUP_FIELDS,
    ANOMALY_VALUE_FIELDS,
    ECS_BASE_FIELDS,
    ECS_FIELD_SETS,
    SOURCE_MODELS,
)


def _record_fields(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str]]:
    """A record model's fields, and those holding free-form maps (any path under them
    is a field: ``labels.cpu``)."""
    names = frozenset(model.model_fields)
    maps = frozenset(
        name
        for name, info in model.model_fields.items()
        if dict in (get_origin(info.annotation), *map(get_origin, get_args(info.annotation)))
    )
    return names, maps


def _source_fields() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """What rules on each source may name, derived from the record models: (fields,
    prefixes of free-form maps). ECS leaves every field set free-form; a signal read back
    is seen with its group and values flattened (an anomaly signal's names)."""
    out = {source: _record_fields(model) for source, model in SOURCE_MODELS.items()}
    names, maps = out["security"]
    out["security"] = (names | set(ECS_BASE_FIELDS), maps | set(ECS_FIELD_SETS))
    names, maps = out["signal"]
    flattened = {*ANOMALY_GROUP_FIELDS, *ANOMALY_VALUE_FIELDS}
    out["signal"] = (names | flattened, maps)
    return out


SOURCE_FIELDS = _source_fields()


def default_window_value(source: str) -> str:
    return "value" if source == "metric" else "1"
