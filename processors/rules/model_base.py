"""What every pydantic model of a rule file shares: the strict base (``extra="forbid"``:
a typo is an error; frozen; schema titles from the names rule authors write) and the
words more than one section uses (names; sources, severities and action types are the
records' words, in :mod:`processors.records`).

The models themselves are by concept: rule types' settings in
:mod:`processors.rules.rule_types`, actions in :mod:`processors.rules.actions`, flap
detection, maintenance windows and inhibit rules in
:mod:`processors.rules.noise_control`, the rule and the file in
:mod:`processors.rules.model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

RULE_ID = r"^[a-z][a-z0-9_]*$"
NAME = RULE_ID  # macros and lists: snake_case, no dots (dots make field paths)

Name = Annotated[str, Field(pattern=NAME, max_length=128)]


def _title(name: str, info: Any) -> str:
    """Schema titles from the names rule authors write (``keep_firing_for``, not
    ``keep_firing_for_ms``)."""
    alias = getattr(info, "alias", None) or name
    return str(alias).replace("_", " ").capitalize()


class StrictModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, field_title_generator=_title
    )


K = TypeVar("K", bound=str)


def one_of_kinds(model: BaseModel, kinds: Sequence[K], what: str) -> K:
    """The kind of a ``what`` (a receiver, a probe) whose kinds are its optional keys
    (``webhook:``, ``http:``…): the one of ``kinds`` it sets. ValueError, for its
    validator, when it sets none or several."""
    given = [kind for kind in kinds if getattr(model, kind) is not None]
    if len(given) != 1:
        has = f"; it has {', '.join(given)}" if given else ""
        raise ValueError(f"a {what} has exactly one of {', '.join(kinds)}{has}")
    return given[0]
