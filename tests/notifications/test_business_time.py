"""Business time: only working hours of the customer's own clock count, weekends and
holidays do not, and the days clocks change count the hours a person there lived."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from partner_portal.notifications.business_time import ALWAYS, Calendar, add, elapsed

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = Calendar(weekdays=frozenset(range(5)), start_hour=9, end_hour=17)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def test_round_the_clock_counts_every_second() -> None:
    start = at(UTC, 2026, 3, 28, 22, 0)
    assert elapsed(start, start + timedelta(hours=5), calendar=ALWAYS, zone=PARIS) == timedelta(
        hours=5
    )
    assert add(start, timedelta(hours=5), calendar=ALWAYS, zone=PARIS) == start + timedelta(hours=5)


def test_friday_afternoon_runs_on_into_monday_morning() -> None:
    # Friday 27 November 2026, 16:00 in Paris: one hour left that day, seven on Monday.
    friday = at(PARIS, 2026, 11, 27, 16, 0)
    due = add(friday, timedelta(hours=8), calendar=OFFICE, zone=PARIS)
    assert due == at(PARIS, 2026, 11, 30, 16, 0).astimezone(UTC)
    assert elapsed(friday, due, calendar=OFFICE, zone=PARIS) == timedelta(hours=8)
    saturday = at(PARIS, 2026, 11, 28, 12, 0)
    assert elapsed(friday, saturday, calendar=OFFICE, zone=PARIS) == timedelta(hours=1)


def test_an_alert_at_night_starts_counting_when_the_office_opens() -> None:
    night = at(PARIS, 2026, 11, 24, 3, 30)
    assert add(night, timedelta(minutes=30), calendar=OFFICE, zone=PARIS) == at(
        PARIS, 2026, 11, 24, 9, 30
    ).astimezone(UTC)
    assert elapsed(night, at(PARIS, 2026, 11, 24, 8, 59), calendar=OFFICE, zone=PARIS) == (
        timedelta(0)
    )


def test_the_same_moment_counts_in_the_customers_zone_not_in_utc() -> None:
    # 14:00 UTC is 15:00 in Paris (two hours before closing) and 09:00 in New York.
    moment = at(UTC, 2026, 11, 24, 14, 0)
    assert add(moment, timedelta(hours=3), calendar=OFFICE, zone=PARIS) == at(
        PARIS, 2026, 11, 25, 10, 0
    ).astimezone(UTC)
    assert add(moment, timedelta(hours=3), calendar=OFFICE, zone=NEW_YORK) == at(
        NEW_YORK, 2026, 11, 24, 12, 0
    ).astimezone(UTC)


def test_the_nights_clocks_change_count_the_hours_lived_there() -> None:
    # Paris goes from 02:00 to 03:00 on Sunday 29 March 2026 and back on 25 October.
    night = Calendar(weekdays=frozenset(range(7)), start_hour=0, end_hour=6)
    spring = at(PARIS, 2026, 3, 29, 0, 0)
    assert elapsed(spring, at(PARIS, 2026, 3, 29, 6, 0), calendar=night, zone=PARIS) == (
        timedelta(hours=5)
    )
    autumn = at(PARIS, 2026, 10, 25, 0, 0)
    assert elapsed(autumn, at(PARIS, 2026, 10, 25, 6, 0), calendar=night, zone=PARIS) == (
        timedelta(hours=7)
    )
    # Five counted hours from midnight on the short night end at 06:00, not 05:00.
    assert add(spring, timedelta(hours=5), calendar=night, zone=PARIS) == at(
        PARIS, 2026, 3, 29, 6, 0
    ).astimezone(UTC)
    # Round the clock, a day across the change is 23 real hours of wall-clock day.
    assert elapsed(spring, at(PARIS, 2026, 3, 30, 0, 0), calendar=ALWAYS, zone=PARIS) == (
        timedelta(hours=23)
    )


def test_office_hours_keep_their_local_times_across_a_change() -> None:
    # New York: Friday 6 March 2026 16:00 (EST), clocks go forward on Sunday 8 March;
    # two counted hours end Monday 10:00 EDT, which is 14:00 UTC, not 15:00.
    friday = at(NEW_YORK, 2026, 3, 6, 16, 0)
    due = add(friday, timedelta(hours=2), calendar=OFFICE, zone=NEW_YORK)
    assert due == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_holidays_do_not_count() -> None:
    christmas = Calendar(
        weekdays=frozenset(range(5)), start_hour=9, end_hour=17,
        holidays=frozenset({date(2026, 12, 24), date(2026, 12, 25)}),
    )  # fmt: skip
    wednesday = at(PARIS, 2026, 12, 23, 16, 0)
    assert add(wednesday, timedelta(hours=2), calendar=christmas, zone=PARIS) == at(
        PARIS, 2026, 12, 28, 10, 0
    ).astimezone(UTC)
    assert elapsed(
        wednesday, at(PARIS, 2026, 12, 27, 12, 0), calendar=christmas, zone=PARIS
    ) == timedelta(hours=1)


def test_time_running_out_at_closing_ends_at_closing() -> None:
    monday = at(PARIS, 2026, 11, 23, 9, 0)
    assert add(monday, timedelta(hours=8), calendar=OFFICE, zone=PARIS) == at(
        PARIS, 2026, 11, 23, 17, 0
    ).astimezone(UTC)


def test_an_end_before_the_start_counts_nothing() -> None:
    start = at(PARIS, 2026, 11, 24, 10, 0)
    assert elapsed(start, start - timedelta(hours=1), calendar=OFFICE, zone=PARIS) == timedelta(0)


def test_a_one_day_week_waits_a_week_for_its_day() -> None:
    never = Calendar(weekdays=frozenset({0}), start_hour=9, end_hour=17,
                     holidays=frozenset())  # fmt: skip
    assert add(at(PARIS, 2026, 11, 24, 10, 0), timedelta(hours=1), calendar=never, zone=PARIS) == (
        at(PARIS, 2026, 11, 30, 10, 0).astimezone(UTC)
    )
    assert Calendar(weekdays=frozenset({0}), start_hour=9, end_hour=17).describe() == (
        "Mon 09:00-17:00"
    )
