"""Business time: how much of a stretch of time counts under an SLA's calendar, and
when a given amount of counted time has passed.

A calendar is either round the clock (24x7: every second counts) or business hours:
some weekdays, from a start hour to an end hour of the customer's local time, minus
holidays (local dates). Each working day's window is built in the customer's zone and
turned into UTC before any arithmetic, so a day on which clocks go forward counts one
hour less and a day on which they go back one hour more, as a person at that customer
would count it. (Python subtracts two times of the same zone by their wall clocks, which
is exactly the mistake this avoids.)

Nothing here knows Django: the functions take aware datetimes and return UTC ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: How far `add` looks ahead for working time before it gives up (a calendar whose
#: holidays cover every working day for ten years counts nothing).
HORIZON_DAYS = 3660


@dataclass(frozen=True)
class Calendar:
    """When SLA time counts. No weekdays: round the clock; else those weekdays (0 is
    Monday) from `start_hour` to `end_hour` local time (24 is midnight at the day's
    end), except `holidays`."""

    weekdays: frozenset[int] = frozenset()
    start_hour: int = 0
    end_hour: int = 24
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def round_the_clock(self) -> bool:
        return not self.weekdays

    def describe(self) -> str:
        if self.round_the_clock:
            return "24x7"
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        days = ", ".join(names[d] for d in sorted(self.weekdays))
        holidays = f", {len(self.holidays)} holiday(s)" if self.holidays else ""
        return f"{days} {self.start_hour:02d}:00-{self.end_hour:02d}:00{holidays}"


ALWAYS = Calendar()


def _windows(
    calendar: Calendar, zone: ZoneInfo, start: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The working windows (UTC) from the local day of `start` on, in order."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    for _ in range(HORIZON_DAYS + 2):
        if day.weekday() in calendar.weekdays and day not in calendar.holidays:
            opens = datetime.combine(day, time(calendar.start_hour), tzinfo=zone)
            if calendar.end_hour >= 24:
                closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            else:
                closes = datetime.combine(day, time(calendar.end_hour), tzinfo=zone)
            opens_utc, closes_utc = opens.astimezone(UTC), closes.astimezone(UTC)
            if closes_utc > opens_utc:
                yield opens_utc, closes_utc
        day += timedelta(days=1)


def elapsed(start: datetime, end: datetime, *, calendar: Calendar, zone: ZoneInfo) -> timedelta:
    """The counted time between `start` and `end` (zero when `end` is not later)."""
    if end <= start:
        return timedelta(0)
    if calendar.round_the_clock:
        return end.astimezone(UTC) - start.astimezone(UTC)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    for opens, closes in _windows(calendar, zone, start):
        if opens >= end:
            break
        overlap = min(closes, end) - max(opens, start)
        if overlap > timedelta(0):
            total += overlap
    return total


def add(start: datetime, amount: timedelta, *, calendar: Calendar, zone: ZoneInfo) -> datetime:
    """The moment at which `amount` of counted time has passed since `start` (UTC).

    Time that ends exactly at a window's close ends there, not at the next opening.
    A calendar with no working time within the horizon gives `datetime.max` (UTC)."""
    start = start.astimezone(UTC)
    if calendar.round_the_clock:
        return start + amount
    left = amount
    for opens, closes in _windows(calendar, zone, start):
        if closes <= start:
            continue
        begin = max(opens, start)
        if left <= closes - begin:
            return begin + left
        left -= closes - begin
    return datetime.max.replace(tzinfo=UTC)
