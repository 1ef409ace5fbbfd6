"""Mute windows: weekly times when a policy's notifications are held, not dropped.

A window is written one per line as `<days> <start>-<end> [time zone]`, e.g.
`Mon-Fri 18:00-08:00 Europe/Amsterdam` or `Sat,Sun 00:00-24:00`. Days are Mon..Sun, as
ranges or lists; the time zone is an IANA name (UTC when left out). A window whose end is
before its start runs past midnight into the next day. A notification due inside a window
waits for its end: security alerts are held for the morning, never thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BadWindow(ValueError):
    """A mute window that cannot be read; the message says why, for people."""


@dataclass(frozen=True)
class MuteWindow:
    days: tuple[int, ...]  # 0 = Monday
    start: str  # "HH:MM"
    end: str  # "HH:MM", "24:00" for the end of the day
    tz: str = "UTC"

    def as_json(self) -> dict[str, object]:
        return {"days": list(self.days), "start": self.start, "end": self.end, "tz": self.tz}

    def __str__(self) -> str:
        days = ",".join(DAYS[d].title() for d in self.days)
        return f"{days} {self.start}-{self.end} {self.tz}"


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise BadWindow(f"“{text}” is not a time like 18:00.")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise BadWindow(f"“{text}” is not a time of day.")
    return value


def _days(text: str) -> tuple[int, ...]:
    found: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise BadWindow(f"“{part}” is not a day or range of days such as Mon-Fri.")
        a = DAYS.index(first[:3])
        b = DAYS.index(last[:3]) if last else a
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        found.update(span)
    return tuple(sorted(found))


def parse_window(line: str) -> MuteWindow:
    parts = line.split()
    if len(parts) not in (2, 3):
        raise BadWindow(f"“{line[:60]}”: write days, times and an optional zone.")
    start, _, end = parts[1].partition("-")
    if _minutes(start) == _minutes(end or "x:"):
        raise BadWindow(f"“{line[:60]}”: the window starts and ends at the same time.")
    tz = parts[2] if len(parts) == 3 else "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadWindow(f"“{tz[:40]}” is not a time zone such as Europe/Amsterdam.") from None
    return MuteWindow(_days(parts[0]), start, end, tz)


def parse_windows(text: str) -> list[MuteWindow]:
    return [parse_window(line.strip()) for line in text.splitlines() if line.strip()]


def from_json(items: list[dict[str, object]]) -> list[MuteWindow]:
    windows = []
    for item in items:
        days = item.get("days")
        windows.append(
            MuteWindow(
                tuple(int(d) for d in days) if isinstance(days, list) else (),
                str(item.get("start", "00:00")),
                str(item.get("end", "00:00")),
                str(item.get("tz", "UTC")),
            )
        )
    return windows


def _end_if_inside(window: MuteWindow, at: datetime) -> datetime | None:
    """The end of `window` when `at` falls inside it, else None."""
    local = at.astimezone(ZoneInfo(window.tz))
    start, end = _minutes(window.start), _minutes(window.end)
    now = local.hour * 60 + local.minute
    midnight = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    candidates = []
    if start < end:
        if local.weekday() in window.days and start <= now < end:
            candidates.append(midnight + timedelta(minutes=end))
    else:  # runs past midnight
        if local.weekday() in window.days and now >= start:
            candidates.append(midnight + timedelta(days=1, minutes=end))
        if (local.weekday() - 1) % 7 in window.days and now < end:
            candidates.append(midnight + timedelta(minutes=end))
    return max(candidates) if candidates else None


def muted_until(windows: list[MuteWindow], at: datetime) -> datetime | None:
    """When the windows that hold `at` end (windows that touch are followed), or None."""
    until = None
    moment = at
    for _ in range(16):  # a week of back-to-back windows at most
        ends = [end for w in windows if (end := _end_if_inside(w, moment)) is not None]
        if not ends:
            break
        until = moment = max(ends)
    return until
