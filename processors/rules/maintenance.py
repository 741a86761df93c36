"""Recurring maintenance windows: a cron expression of start times, a duration, a time
zone. An alert in an open window sends nothing (reason ``maintenance``).

The cron expression has the five classic fields (minute, hour, day of month, month, day
of week; names like ``mon-fri`` and ``jan``, ranges, lists, steps) and is read on the
**wall clock of the window's time zone**: ``0 2 * * *`` in ``Europe/Berlin`` opens at
02:00 Berlin time in winter and in summer. Start times are computed by croniter on naive
wall-clock times and placed in the zone with :mod:`zoneinfo` ourselves (croniter's own
time zone handling repeats or skips starts around DST changes): a start in the hour the
clocks skip opens when the clocks have jumped (02:30 → 03:30 summer time), a start in
the hour that repeats opens at its first occurrence.

A window is open at ``t`` when the latest start at or before ``t`` is less than
``duration`` before it. Time is the event time passed in.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter  # type: ignore[import-untyped]

from processors.errors import OpsrulesError

# (name, lowest, highest, names) per field, in order.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    (
        "month",
        1,
        12,
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_ITEM = re.compile(r"^(?:(\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?$")


class CronError(OpsrulesError, ValueError):
    """A cron expression that does not parse; ``column`` (1-based) points into it."""

    def __init__(self, message: str, column: int) -> None:
        self.column = column
        super().__init__(message)


def check_cron(text: str) -> None:
    """Raise :class:`CronError` naming the field and the column of the first problem."""
    fields = [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", text)]
    if len(fields) != 5:
        column = fields[5][1] if len(fields) > 5 else len(text) + 1
        raise CronError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"not {len(fields)} (e.g. '0 2 * * *': at 02:00 every day)",
            column if fields else 1,
        )
    for (field, column), (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        offset = 0
        for item in field.split(","):
            _check_item(item.lower(), column + offset, name, low, high, names)
            offset += len(item) + 1
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (ValueError, KeyError) as exc:  # e.g. '0 2 30 feb *': never
        raise CronError(f"the expression never matches a date ({exc})", 1) from None


def _check_item(
    item: str, column: int, name: str, low: int, high: int, names: tuple[str, ...]
) -> None:
    found = _ITEM.match(item)
    if found is None:
        raise CronError(f"{name}: {item!r} is not *, a value, a range a-b or a step */n", column)
    _, first, last, step = found.groups()
    values = []
    for part, start in ((first, found.start(2)), (last, found.start(3))):
        if part is None:
            continue
        if part.isdigit():
            number = int(part)
        elif part in names:
            number = names.index(part) + (1 if name == "month" else 0)
        else:
            hint = f" (names: {', '.join(names)})" if names else ""
            raise CronError(f"{name}: {part!r} is not a number{hint}", column + start)
        if not low <= number <= high:
            raise CronError(f"{name}: {number} is out of range {low}-{high}", column + start)
        values.append(number)
    if len(values) == 2 and values[0] > values[1]:
        raise CronError(f"{name}: range {item} runs backwards", column + found.start(2))
    if step is not None and int(step) == 0:
        raise CronError(f"{name}: a step of 0", column + found.start(4))


def check_time_zone(name: str) -> None:
    """Raise ValueError for a name that is not an IANA time zone."""
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else " (e.g. 'Europe/Berlin', 'UTC')"
        raise ValueError(f"unknown time zone '{name}'{hint}") from None


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class OpenWindow:
    name: str
    start_ms: int
    end_ms: int


def _local_to_ms(local: datetime, zone: ZoneInfo) -> int:
    """A naive wall-clock time in ``zone`` as epoch ms; fold=0 (see the module doc)."""
    return round(local.replace(tzinfo=zone).timestamp() * 1000)


# How far a UTC offset change can move a wall-clock time (2h covers every zone's DST).
_SHIFT = timedelta(hours=2)


def latest_start_ms(cron: str, time_zone: str, t_ms: int) -> int | None:
    """The latest start of ``cron`` in ``time_zone`` at or before ``t_ms``.

    Asked once per minute of ``t_ms`` (the decision tier asks at every due action; one
    croniter walk was 10% of the decision core's time): the latest start at or before
    the minute's last millisecond is the answer for every ``t_ms`` in that minute at or
    after it, and a start inside the minute after ``t_ms`` (only a zone whose offset is
    not whole minutes makes one) is looked up exactly.
    """
    minute_end_ms = t_ms - t_ms % 60_000 + 59_999
    best = _latest_start_in_minute(cron, time_zone, minute_end_ms)
    if best is None or best <= t_ms:
        return best
    return _latest_start_ms(cron, time_zone, t_ms)


@functools.lru_cache(maxsize=4096)
def _latest_start_in_minute(cron: str, time_zone: str, minute_end_ms: int) -> int | None:
    return _latest_start_ms(cron, time_zone, minute_end_ms)


def _latest_start_ms(cron: str, time_zone: str, t_ms: int) -> int | None:
    """:func:`latest_start_ms`, walked with croniter.

    Wall-clock starts map to instants almost in order; only an offset change can put a
    later wall-clock start before an earlier one, by at most :data:`_SHIFT`. So starts are
    read back from ``_SHIFT`` ahead of ``t``'s wall-clock time until one lies ``_SHIFT``
    behind it, and the latest instant at or before ``t_ms`` wins.
    """
    zone = _zone(time_zone)
    local = datetime.fromtimestamp(t_ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)
    starts = croniter(cron, local + _SHIFT)
    best: int | None = None
    for _ in range(1_000):  # bounds the every-minute expression (~240 starts)
        try:
            start = starts.get_prev(datetime)
        except ValueError:  # croniter gives up after years without a start
            break
        start_ms = _local_to_ms(start, zone)
        if start_ms <= t_ms:
            best = start_ms if best is None else max(best, start_ms)
        if best is not None and start <= local - _SHIFT:
            break
    return best


def open_window(
    name: str, cron: str, time_zone: str, duration_ms: int, t_ms: int
) -> OpenWindow | None:
    """The window if it is open at ``t_ms``."""
    start_ms = latest_start_ms(cron, time_zone, t_ms)
    if start_ms is None or t_ms >= start_ms + duration_ms:
        return None
    return OpenWindow(name, start_ms, start_ms + duration_ms)
