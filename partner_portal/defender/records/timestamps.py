"""Microsoft's timestamps, read into aware UTC datetimes and written for OData filters.

The Defender APIs send ISO 8601 in UTC with a ``Z`` and up to seven fraction digits
(.NET ticks): ``2021-01-26T20:33:57.7220239Z``. :func:`parse_timestamp` reads that
shape directly with ``datetime.fromisoformat`` (a sync reads several per alert, so the
common case must be cheap) and anything else (an offset, no zone at all, a space for the
``T``, more fraction digits) with a strict pattern; what neither accepts raises
:class:`~partner_portal.defender.errors.MalformedResponse`. Fractions beyond
microseconds are cut, not rounded. :func:`format_timestamp` writes the ``Z`` form that
``$filter`` expects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ..errors import MalformedResponse

__all__ = ["format_timestamp", "parse_timestamp", "utc_of_usual_shape"]

# Up to 7 fraction digits (.NET ticks); "Z" or an offset; no zone is read as UTC
# because Microsoft's APIs only ever speak UTC.
_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_from_iso = datetime.fromisoformat


def utc_of_usual_shape(value: object) -> datetime | None:
    """A timestamp of the shape Microsoft always sends (``...T...Z``), converted exactly
    as :func:`parse_timestamp` converts it; None for anything else, which then needs the
    full treatment there (None itself included)."""
    if type(value) is not str or len(value) < 20:
        return None
    if value[10] != "T" or value[-1] != "Z" or value[4] != "-":
        return None
    try:
        parsed = _from_iso(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def parse_timestamp(value: object, *, field_name: str = "timestamp") -> datetime | None:
    """Parse Microsoft's ISO 8601 timestamps into aware UTC datetimes; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(None, "MalformedTimestamp", f"{field_name} is not a string")
    # Fast path for the shape Microsoft always sends ("...T...Z", up to 7 fraction
    # digits), which Python 3.11's fromisoformat reads directly; a sync parses several
    # per alert, so this matters. Anything else goes through the strict pattern.
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[4] == "-":
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    match = _TS_RE.match(value.strip())
    if not match:
        raise MalformedResponse(None, "MalformedTimestamp", f"{field_name} is not ISO 8601")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError:
        raise MalformedResponse(
            None, "MalformedTimestamp", f"{field_name} is not a valid date"
        ) from None
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime the way OData filters expect (UTC, ``Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("aware datetime required")
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
