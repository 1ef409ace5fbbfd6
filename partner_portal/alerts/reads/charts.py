"""The chart page's figures: the list's current filter over the last day, week or month.

For a window (`CHART_WINDOWS`) the filtered alerts (`alert_list.filtered_alerts`, so the
user's scope and filter) are counted per hour or day and severity, every bucket present
even when empty; next to that, the customers with the most open high-severity alerts,
the most frequent categories and the most frequent MITRE techniques (unnested from each
alert's JSON list by the database, labelled with their ATT&CK names). The answer is plain
JSON for Chart.js.

Every bar carries a link to the alert list showing exactly the alerts
it counts: the list's own filter (`base_query`), with the bar's time span, severity,
customer, category or technique put in its place. Times in those links are written in the reader's
zone, as the list's time inputs read them, and the window starts on a whole minute so
that the link's "From" is the window's own start.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.http import QueryDict
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads.alert_list import (
    OPEN_STATUSES,
    SEVERITIES,
    AlertQuery,
    filtered_alerts,
)
from partner_portal.alerts.reads.keyset import format_time
from partner_portal.defender import AlertSeverity
from partner_portal.defender.mitre import technique_label

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

CHART_WINDOWS: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
TOP_N = 10


def _buckets(start: datetime, end: datetime, unit: str) -> list[datetime]:
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    if unit == "hour":
        moment = start.replace(minute=0, second=0, microsecond=0)
    else:
        moment = start.replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = []
    while moment <= end:
        buckets.append(moment)
        moment += step
    return buckets


def _top_techniques(alerts: QuerySet[Alert], limit: int) -> list[tuple[str, int]]:
    """Most frequent MITRE techniques: the JSON lists are unnested by the database."""
    # `sql` is the ORM's own compiled query with placeholders; no user text is pasted in.
    try:
        sql, params = alerts.values("mitre_techniques").order_by().query.sql_with_params()
    except EmptyResultSet:
        # The filter can match nothing (e.g. only customers outside the scope).
        return []
    if connection.vendor == "postgresql":
        unnest = "jsonb_array_elements_text(s.mitre_techniques::jsonb)"
        statement = (
            f"SELECT t.value, COUNT(*) FROM ({sql}) s CROSS JOIN LATERAL {unnest} AS t(value) "  # noqa: S608
            "GROUP BY t.value ORDER BY COUNT(*) DESC, t.value LIMIT %s"
        )
    else:
        statement = (
            f"SELECT t.value, COUNT(*) FROM ({sql}) s, json_each(s.mitre_techniques) t "  # noqa: S608
            "GROUP BY t.value ORDER BY COUNT(*) DESC, t.value LIMIT %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, limit])
        return [(str(value), int(n)) for value, n in cursor.fetchall()]


# Keys of the list's query that a bar's link replaces or that mean nothing to it.
_REPLACED = ("period", "since", "until", "after", "before", "start", "window", "sort")


def _as_input(moment: datetime) -> str:
    """A moment as the list's time inputs read it: minutes, in the reader's zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


class _Links:
    """Links to the list filtered to what one bar counts."""

    def __init__(self, *, list_url: str, base_query: str, start: datetime) -> None:
        self.list_url = list_url
        self.base = QueryDict(base_query, mutable=True)
        for key in _REPLACED:
            self.base.pop(key, None)
        self.start = start

    def to(self, *, since: datetime | None = None, until: datetime | None = None,
           **values: list[str]) -> str:  # fmt: skip
        params = self.base.copy()
        params["period"] = "custom"
        params["since"] = _as_input(max(since or self.start, self.start))
        if until is not None:
            params["until"] = _as_input(until)
        for key, chosen in values.items():
            params.setlist(key, chosen)
        return f"{self.list_url}?{params.urlencode()}"


def alert_chart_data(
    *,
    user: User | AnonymousUser,
    query: AlertQuery,
    window: str,
    now: datetime | None = None,
    list_url: str = "/alerts/",
    base_query: str = "",
) -> dict[str, Any]:
    """The console's charts for the last `window` (24h, 7d, 30d) of the filtered alerts;
    `base_query` is the list's filter as a query string, for the bars' links."""
    span, unit = CHART_WINDOWS[window]
    end = now or datetime.now(UTC)
    start = (end - span).replace(second=0, microsecond=0)
    links = _Links(list_url=list_url, base_query=base_query, start=start)
    windowed = filtered_alerts(user=user, query=replace(query, since=start, until=None))
    trunc = TruncHour if unit == "hour" else TruncDay
    per_bucket = (
        windowed.annotate(bucket=trunc("created_at", tzinfo=UTC))
        .values_list("bucket", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    buckets = _buckets(start, end, unit)
    index = {moment: i for i, moment in enumerate(buckets)}
    series = {severity: [0] * len(buckets) for severity in SEVERITIES}
    for bucket, severity, n in per_bucket:
        position = index.get(bucket.astimezone(UTC))
        if position is not None and severity in series:
            series[severity][position] += n
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    bucket_links = {
        severity: [
            links.to(since=moment, until=moment + step, severity=[severity]) for moment in buckets
        ]
        for severity in SEVERITIES
    }
    open_statuses = [s for s in OPEN_STATUSES if not query.statuses or s in query.statuses]
    open_high = (
        windowed.filter(severity=AlertSeverity.HIGH.value, status__in=OPEN_STATUSES)
        .values_list("customer__display_name", "customer_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "customer__display_name")[:TOP_N]
    )
    categories = (
        windowed.exclude(category="")
        .values_list("category")
        .annotate(n=Count("pk"))
        .order_by("-n", "category")[:TOP_N]
    )
    return {
        "window": window,
        "unit": unit,
        "start": format_time(start),
        "end": format_time(end),
        "over_time": {
            "labels": [format_time(moment) for moment in buckets],
            "series": series,
            "links": bucket_links,
        },
        "open_high_by_customer": [
            [name, n, links.to(customer=[str(pk)], severity=["High"], status=open_statuses)]
            for name, pk, n in open_high
        ],
        "top_categories": [[name, n, links.to(category=[name])] for name, n in categories],
        "top_techniques": [
            [technique_label(technique), n, links.to(technique=[technique])]
            for technique, n in _top_techniques(windowed, TOP_N)
        ],
    }
