"""Microsoft's timestamps, read into aware UTC datetimes and written for OData filters.

Every API this product reads (Defender for Endpoint, Defender XDR, Graph's
``DateTimeOffset``) sends ISO 8601 in UTC with a ``Z`` and up to seven fraction digits
(.NET ticks): ``2021-01-26T20:33:57.7220239Z``. This module is the one reader of them,
for the MDE alert's readings and the Graph readers alike:

* :func:`usual_utc` reads that shape directly with ``datetime.fromisoformat`` (which
  reads it in Python 3.11, cutting the seventh digit) and answers None for anything
  else; a sync reads several timestamps an object, so the common case must be cheap.
  Timestamps recur (an alert's evidence shares its creation time, a page's alerts their
  times), and datetimes are immutable, so one made once is handed out again
  (:data:`known_time`, bounded: emptied when full);
* :func:`read_time` reads anything else with a strict pattern (an offset, no zone at all,
  a space or ``t`` for the ``T``, up to twelve fraction digits) and converts it to UTC;
  what it cannot read raises :class:`~.fields.FieldError`, in words (``is not an ISO
  8601 timestamp ('soon')``). Fractions beyond microseconds are cut, not rounded; no
  zone reads as UTC, because Microsoft's APIs only ever speak UTC;
* :func:`parse_timestamp` is the public reading of one value (None stays None), raising
  :class:`~.errors.MalformedResponse`; :func:`format_timestamp` writes the ``Z`` form
  that ``$filter`` expects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from .errors import MalformedResponse
from .fields import FieldError, wrong

__all__ = ["format_timestamp", "known_time", "parse_timestamp", "read_time", "usual_utc"]

_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)
_from_iso = datetime.fromisoformat

_TIMES: dict[str, datetime] = {}
_TIMES_MAX = 4096
#: The datetime already made for a timestamp text of the usual shape, if any.
known_time = _TIMES.get


def usual_utc(value: object) -> datetime | None:
    """A timestamp of the shape Microsoft always sends (``...T...Z``) as an aware UTC
    datetime; None for anything else (None itself included), which :func:`read_time`
    then judges."""
    if (
        type(value) is not str
        or len(value) < 20
        or value[-1] != "Z"
        or value[10] != "T"
        or value[4] != "-"
        or value[7] != "-"
        or value[19] not in ".Z"
    ):
        return None
    try:
        stamp = _from_iso(value)
    except ValueError:
        return None
    if stamp.tzinfo is not UTC:
        stamp = stamp.astimezone(UTC)
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[value] = stamp
    return stamp


def read_time(key: str, value: object) -> datetime:
    """One timestamp (not None) as an aware UTC datetime; :class:`FieldError` naming
    ``key`` if it is none."""
    stamp = usual_utc(value)
    if stamp is not None:
        return stamp
    if type(value) is not str:
        raise wrong(key, value, "a timestamp")
    match = _TS.fullmatch(value.strip())
    if match is None:
        raise FieldError(key, f"is not an ISO 8601 timestamp ({value[:40]!r})")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = UTC
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(offset if zone[0] == "+" else -offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError:
        raise FieldError(key, f"is not a real date and time ({value[:40]!r})") from None
    return stamp.astimezone(UTC)


def parse_timestamp(value: object, *, field_name: str = "timestamp") -> datetime | None:
    """Parse Microsoft's ISO 8601 timestamps into aware UTC datetimes; None stays None."""
    if value is None:
        return None
    try:
        return read_time(field_name, value)
    except FieldError as exc:
        raise MalformedResponse(None, "MalformedTimestamp", f"{exc.path} {exc.problem}") from None


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime the way OData filters expect (UTC, ``Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("aware datetime required")
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
