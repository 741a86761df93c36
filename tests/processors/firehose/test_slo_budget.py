"""SLO burn rates and the remaining error budget against hand-computed tables (the
Google SRE workbook's multi-window, multi-burn-rate alerts)."""

from __future__ import annotations

import pytest

from processors.firehose.slo_budget import HOUR_MS, MINUTE_MS, SloSeries
from processors.rules.slos import PAGE, TICKET, alert_condition

T0 = 1_796_688_000_000  # a whole hour (epoch minute 29,944,800)


def feed(series: SloSeries, minutes: list[tuple[int, int]], start: int = 0) -> dict[int, dict]:
    """(total, bad) per minute from minute ``start``, each minute closed once the next
    one begins; the values by minute (from 0)."""
    out = {}
    for n, (total, bad) in enumerate(minutes, start):
        at = T0 + n * MINUTE_MS
        series.add(at + 30_000, total, bad)
        for index, values in series.close_until(at + MINUTE_MS):
            out[index - T0 // MINUTE_MS] = values
    return out


def test_burn_rates_of_the_workbooks_windows() -> None:
    # objective 99%: 1% of events may be bad; 100 events a minute
    series = SloSeries(0.99, 30 * 86_400_000)
    # minutes 0-54: 1 bad (burn 1); 55-59: 20 bad (burn 20)
    values = feed(series, [(100, 1)] * 55 + [(100, 20)] * 5)
    last = values[59]
    assert last["burn_5m"] == 20.0  # 100 bad of 500
    assert last["burn_30m"] == pytest.approx((25 * 1 + 5 * 20) / 3000 / 0.01)  # 4.166667
    assert last["burn_1h"] == pytest.approx((55 * 1 + 5 * 20) / 6000 / 0.01)  # 2.583333
    # the longer windows hold the 60 minutes seen so far
    assert last["burn_6h"] == last["burn_1d"] == last["burn_3d"] == last["burn_1h"]
    assert (last["total"], last["bad"]) == (100, 20)
    assert values[54]["burn_5m"] == 1.0


@pytest.mark.parametrize(
    ("good", "bad_per_100", "minutes", "page", "ticket"),
    [
        # burn 15 for an hour: over 14.4 on 1h and 5m
        (0, 15, 60, True, True),
        # burn 14 for an hour after 5 good hours: 1h is under 14.4, and 6h holds
        # 14 × 60 / 360 = 2.33, under 6; the ticket's 3d and 6h (2.33 each) are over 1
        (300, 14, 60, False, True),
        # the same hour right after a start: 6h holds only it, 14 > 6 on 6h and 30m
        (0, 14, 60, True, True),
        (0, 7, 360, True, True),  # burn 7 on 6h and 30m: over 6
        (0, 2, 1440, False, True),  # burn 2: under 3 on 1d; over 1 on 3d and 6h
        (0, 1, 1440, False, False),  # burn 1 is not above 1
    ],
)
def test_page_and_ticket_conditions(
    good: int, bad_per_100: int, minutes: int, page: bool, ticket: bool
) -> None:
    series = SloSeries(0.99, 30 * 86_400_000)
    values = feed(series, [(100, 0)] * good + [(100, bad_per_100)] * minutes)
    last = values[good + minutes - 1]
    burn = {k.removeprefix("burn_"): v for k, v in last.items() if k.startswith("burn_")}

    def holds(pairs: tuple[tuple[float, str, str], ...]) -> bool:
        return any(burn[long] > t and burn[short] > t for t, long, short in pairs)

    assert (holds(PAGE), holds(TICKET)) == (page, ticket)


def test_the_short_window_recovering_ends_the_page() -> None:
    series = SloSeries(0.99, 30 * 86_400_000)
    values = feed(series, [(100, 30)] * 60 + [(100, 0)] * 5)
    at_peak, after = values[59], values[64]
    assert at_peak["burn_1h"] == at_peak["burn_5m"] == 30.0
    assert after["burn_5m"] == 0.0  # 5 good minutes: the page's short window is clear
    assert after["burn_1h"] == pytest.approx(55 * 30 / 6000 / 0.01)  # 27.5, still high


def test_the_remaining_budget_over_the_slo_window_in_hours() -> None:
    # a 2-hour SLO window to keep the table small; 99.5%: 0.5% may be bad
    series = SloSeries(0.995, 2 * HOUR_MS)
    hour0 = [(100, 0)] * 50 + [(100, 1)] * 5 + [(100, 0)] * 5  # 6000 events, 5 bad
    hour1 = [(100, 1)] * 10 + [(100, 0)] * 50  # 10 bad
    hour2 = [(100, 0)] * 60
    values = feed(series, hour0 + hour1 + hour2)
    assert values[59]["budget_remaining"] == pytest.approx(1 - (5 / 6000) / 0.005)  # 0.833
    assert values[119]["budget_remaining"] == pytest.approx(1 - (15 / 12000) / 0.005)  # 0.75
    # hour 0 left the window when hour 2 began: hours 1 and 2 remain
    assert values[179]["budget_remaining"] == pytest.approx(1 - (10 / 12000) / 0.005)
    assert SloSeries(0.99, HOUR_MS).close_until(T0) == []  # nothing counted, nothing closed


def test_empty_minutes_close_too_and_late_events_are_not_counted() -> None:
    series = SloSeries(0.9, 86_400_000)
    series.add(T0, 10, 5)
    closed = series.close_until(T0 + 3 * MINUTE_MS)  # minutes 0, 1 (empty), 2 (empty)
    assert [index - T0 // MINUTE_MS for index, _ in closed] == [0, 1, 2]
    assert closed[2][1]["burn_5m"] == pytest.approx(0.5 / 0.1)  # 5 of 10 in the window
    assert series.add(T0 + 2 * MINUTE_MS, 1, 1) is False  # minute 2 is closed
    assert series.late == 1
    assert not series.idle
    series.close_until(T0 + (3 * 1440 + 5) * MINUTE_MS)  # three days later, all gone
    assert series.idle


def test_the_generated_conditions() -> None:
    assert alert_condition(PAGE) == (
        "(burn_1h > 14.4 and burn_5m > 14.4) or (burn_6h > 6 and burn_30m > 6)"
    )
    assert alert_condition(TICKET) == (
        "(burn_1d > 3 and burn_2h > 3) or (burn_3d > 1 and burn_6h > 1)"
    )


def test_an_objective_is_a_ratio() -> None:
    with pytest.raises(ValueError, match="objective"):
        SloSeries(99.0, 86_400_000)


def test_a_leap_of_the_clock_past_the_slo_window_starts_afresh_without_closing_each_minute() -> (
    None
):
    series = SloSeries(0.99, HOUR_MS)  # an SLO window of one hour: 3 days remembered
    series.add(T0, 10, 10)
    a_year = 365 * 24 * HOUR_MS
    assert series.close_until(T0 + a_year) == []  # not half a million minutes
    assert series.idle
    series.add(T0 + a_year, 4, 1)  # counting goes on from there
    [(index, values)] = series.close_until(T0 + a_year + MINUTE_MS)
    assert index == (T0 + a_year) // MINUTE_MS
    assert values["burn_3d"] == pytest.approx(0.25 / 0.01)  # minute 0's 10 bad are gone
    # a leap shorter than what is remembered closes every minute
    assert len(series.close_until(T0 + a_year + 11 * MINUTE_MS)) == 10
