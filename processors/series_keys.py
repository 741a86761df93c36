"""Series keys: a rule's ``group_by`` values as one string, the Kafka key of its signals.

The values are joined by ``|``; ``%``, ``|`` and unprintable characters inside a value
are percent-escaped, so the key splits back into exactly the values. ``*`` is the key of
a rule without ``group_by``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote


def series_key(values: list[str]) -> str:
    """The group values joined by ``|`` (``%`` and ``|`` inside values are escaped);
    ``*`` for a rule without group_by. Also the Kafka key of the series' signals."""
    if not values:
        return "*"
    if len(values) == 1:
        value = values[0]
        return _quote(value) if "%" in value or "|" in value or not value.isprintable() else value
    return "|".join(_quote(v) if "%" in v or "|" in v or not v.isprintable() else v for v in values)


def _quote(value: str) -> str:
    return quote(value, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{}~")


def group_values(names: Sequence[str], key: str) -> dict[str, str]:
    """The ``group_by`` values of ``key`` by name (the inverse of :func:`series_key`)."""
    if not names:
        return {}
    return dict(zip(names, (unquote(v) for v in key.split("|")), strict=True))
