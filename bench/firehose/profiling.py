"""cProfile's top functions in a firehose bench run: as rows (the JSON) and as tables."""

from __future__ import annotations

import cProfile
import pstats
import re
from pathlib import Path
from typing import Any

from bench.tables import table

REPO = Path(__file__).resolve().parents[2]
PROFILE_TOP = 15


def _where(filename: str) -> str:
    """A profiled function's file, relative to the repository or the library root."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)$", filename)
    if stdlib:
        return stdlib.group(1)
    try:
        return str(Path(filename).resolve().relative_to(REPO))
    except ValueError:
        return filename


def profiletable(
    profile: cProfile.Profile, sort: str, top: int = PROFILE_TOP
) -> list[dict[str, Any]]:
    """The ``top`` functions by ``sort`` ("cumulative" or "tottime")."""
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (primitive, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = name if filename == "~" else f"{_where(filename)}:{line}({name})"
        rows.append(
            {
                "function": where,
                "calls": calls,
                "primitive_calls": primitive,
                "tottime_s": round(own, 4),
                "cumtime_s": round(cumulative, 4),
            }
        )
    key = "cumtime_s" if sort == "cumulative" else "tottime_s"
    rows.sort(key=lambda row: row[key], reverse=True)
    return rows[:top]


def profile_text(title: str, rows: list[dict[str, Any]]) -> str:
    text = table(
        ("function", "calls", "own s", "cum s"),
        [(r["function"], r["calls"], r["tottime_s"], r["cumtime_s"]) for r in rows],
    )
    return f"{title}\n{text}"
