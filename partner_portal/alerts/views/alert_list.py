"""The consolidated alert list: the page, its counts, live updates, exports and charts.

Each view validates the query string with `AlertFilterForm`, calls one read of
`partner_portal.alerts.reads` (which applies the analyst's scope) and renders; nothing
here queries the database directly. The page and its live updates print the same rows
(`list_html.alert_rows_html`), so a fresh row looks like any other.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from partner_portal.alerts import saved_views
from partner_portal.alerts.console_filters import BAD_PAGE_LINK, my_assignee
from partner_portal.alerts.filters import (
    KNOWN_CATEGORY_OPTIONS,
    KNOWN_DETECTION_SOURCE_OPTIONS,
    AlertFilterForm,
    ChartWindowForm,
    LiveForm,
)
from partner_portal.alerts.forms import STATUS_CHOICES
from partner_portal.alerts.list_html import alert_rows_html
from partner_portal.alerts.queue_links import page_links, sort_links
from partner_portal.alerts.reads import alert_list as list_reads
from partner_portal.alerts.reads import charts, exports
from partner_portal.alerts.reads.keyset import InvalidCursor
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.exports import export_response

analysts_only = require_roles(Role.ANALYST)

POLL_SECONDS = 5
# The filters behind the bar's "More" (the bar holds search, severity, status, customer
# and "Assigned to me"); the sort order is there too, but the column headers show it, so
# sorting alone leaves "More" closed.
MORE_FILTERS = (
    "classification", "category", "detection_source", "product", "technique", "unassigned",
    "suppressed",
    "assigned_to", "period", "since", "until",
)  # fmt: skip


def _filter_form(request: HttpRequest) -> AlertFilterForm:
    return AlertFilterForm(request.GET, user=request.user)


def _bad_filter(form: AlertFilterForm) -> JsonResponse:
    return JsonResponse({"errors": form.errors.get_json_data()}, status=400)


@analysts_only
@require_GET
def alert_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = _filter_form(request)
    page = None
    status = 200
    if form.is_valid():
        try:
            page = list_reads.alert_page(
                user=request.user,
                query=form.to_query(),
                after=form.cleaned_data.get("after") or "",
                before=form.cleaned_data.get("before") or "",
            )
        except InvalidCursor:
            form.add_error(None, BAD_PAGE_LINK)
    if page is None:
        status = 400
    # Reversed once: the page links to itself a dozen times.
    list_url = reverse("alerts:list")
    links = None
    if page is not None:
        links = page_links(
            form,
            list_url=list_url,
            shown=len(page.alerts),
            size=list_reads.PAGE_SIZE,
            next_cursor=page.next_cursor,
            previous_cursor=page.previous_cursor,
            matched=page.matched,
            more=page.more,
        )
    context = {
        "form": form,
        "page": page,
        "list_url": list_url,
        "links": links,
        "sort_links": sort_links(form, list_url=list_url),
        "saved_views": saved_views.view_links(user=request.user),
        "me": my_assignee(request.user),
        # "More" opens when one of the filters behind it holds a value.
        "more_open": any(request.GET.get(name, "").strip() for name in MORE_FILTERS),
        "rows_html": alert_rows_html(page.alerts, list_url=list_url) if page else "",
        "filter_qs": form.filter_querystring(),
        "poll_seconds": POLL_SECONDS,
        "known_category_options": KNOWN_CATEGORY_OPTIONS,
        "known_detection_source_options": KNOWN_DETECTION_SOURCE_OPTIONS,
        "bulk_statuses": STATUS_CHOICES,
    }
    return render(request, "alerts/list.html", context, status=status)


@analysts_only
@require_GET
@never_cache
def alert_counts(request: HttpRequest) -> HttpResponse:
    """Counts for the current filter, as a fragment the list page loads after itself
    (counting a large filter costs more than reading one page of it)."""
    form = _filter_form(request)
    if not form.is_valid():
        return _bad_filter(form)
    counts = list_reads.alert_counts(user=request.user, query=form.to_query())
    list_url = reverse("alerts:list")

    def linked(name: str, pairs: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
        return [(v, n, f"{list_url}?{form.narrowed_querystring(name, v)}") for v, n in pairs]

    context = {
        "counts": counts,
        "form": form,
        "by_severity": linked("severity", counts.by_severity),
        "by_status": linked("status", counts.by_status),
    }
    return render(request, "alerts/list_counts.html", context)


@analysts_only
@require_GET
@never_cache
def alert_live(request: HttpRequest) -> HttpResponse:
    """Alerts stored since the page's mark that match its filter, for the poller."""
    form = _filter_form(request)
    live = LiveForm(request.GET)
    if not form.is_valid():
        return _bad_filter(form)
    if not live.is_valid():
        return JsonResponse({"errors": live.errors.get_json_data()}, status=400)
    update = list_reads.alerts_since(
        user=request.user, query=form.to_query(), since_id=live.cleaned_data["since_id"]
    )
    rows = alert_rows_html(update.alerts, list_url=reverse("alerts:list"), fresh=True)
    return JsonResponse(
        {
            "count": update.count,
            "since_id": update.since_id,
            "shown": len(update.alerts),
            "rows_html": rows,
        }
    )


# --- exports ---------------------------------------------------------------------------------
def _export(request: HttpRequest, kind: str) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid():
        return _bad_filter(form)
    rows = exports.alert_export_rows(
        user=request.user,
        query=form.to_query(),
        page_url=request.build_absolute_uri(reverse("alerts:list")),
    )
    return export_response(rows, names=exports.EXPORT_NAMES, kind=kind, basename="alerts")


@analysts_only
@require_GET
def alert_export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


@analysts_only
@require_GET
def alert_export_json(request: HttpRequest) -> HttpResponse:
    return _export(request, "json")


# --- charts ----------------------------------------------------------------------------------
@analysts_only
@require_GET
def alert_charts(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    # Validated here only to tell the analyst what is wrong with the filter (and which
    # customers were left out); the figures themselves come from `alert_chart_data`.
    form.is_valid()
    window = ChartWindowForm(request.GET)
    context = {
        "form": form,
        "window_form": window,
        "window": window.cleaned_data["window"] if window.is_valid() else "7d",
        "filter_qs": form.filter_querystring(),
    }
    return render(request, "alerts/charts.html", context)


@analysts_only
@require_GET
@never_cache
def alert_chart_data(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    window = ChartWindowForm(request.GET)
    if not form.is_valid():
        return _bad_filter(form)
    if not window.is_valid():
        return JsonResponse({"errors": window.errors.get_json_data()}, status=400)
    data = charts.alert_chart_data(
        user=request.user,
        query=form.to_query(),
        window=window.cleaned_data["window"],
        list_url=reverse("alerts:list"),
        base_query=form.filter_querystring(),
    )
    return JsonResponse(data)
