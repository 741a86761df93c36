"""Time on the wire: record times parsed from epoch seconds, milliseconds or
nanoseconds (told apart by magnitude) or RFC 3339 strings into integer epoch
milliseconds, checked to lie between 1970 and the end of 9999, and written as RFC 3339
in UTC. Ground floor: imports nothing but pydantic and the standard library.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator

# Epoch magnitudes: 1e11 s is the year 5138, 1e14 ms the year 5138 too.
_MAX_SECONDS = 1e11
_MAX_MILLIS = 1e14
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_ts_ms(value: object) -> int:
    """Epoch s / ms / ns (by magnitude) or RFC 3339 → integer epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int past 1.8e308
            number = math.inf
        if not math.isfinite(number) or number < 0:
            raise ValueError("a timestamp must be a finite, non-negative epoch number")
        if number < _MAX_SECONDS:
            return round(number * 1000)
        if number < _MAX_MILLIS:
            return round(number)
        return int(value) // 1_000_000 if isinstance(value, int) else round(number / 1e6)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is neither epoch time nor RFC 3339") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone (add Z or an offset)")
        # Exact: a float of epoch seconds is a millisecond off in some years.
        return round(Fraction((parsed - _EPOCH) // timedelta(microseconds=1), 1000))
    raise ValueError("a timestamp must be a number or an RFC 3339 string")


# 9999-12-31T23:59:59.999Z: the last moment format_ts writes as RFC 3339, and a record
# must read back. A record time outside [0, MAX_TS_MS] is refused.
MAX_TS_MS = 253_402_300_799_999
TS_OUT_OF_RANGE = "timestamp out of range"


def check_ts_ms(ts_ms: int) -> int:
    """``ts_ms`` if it is between the epoch and the end of year 9999, else ValueError
    (which the codec reports as ``timestamp_out_of_range``)."""
    if not 0 <= ts_ms <= MAX_TS_MS:
        raise ValueError(f"{TS_OUT_OF_RANGE}: {ts_ms} ms is not between 1970 and 9999")
    return ts_ms


EpochMs = Annotated[int, AfterValidator(check_ts_ms)]


def format_ts(ts_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2026-11-28T21:00:00.000Z``. Total: a
    time outside what ``datetime`` holds (before year 1, after 9999) is written as
    ``epoch+<ms>ms``, so explaining an absurd timestamp never fails."""
    try:
        moment = _EPOCH + timedelta(milliseconds=ts_ms)  # exact, unlike a float of seconds
    except OverflowError:
        return f"epoch{ts_ms:+d}ms"
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
