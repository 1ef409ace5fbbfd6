"""Incidents: the queue, its counts, live updates and exports, and one incident.

Each queue view validates the query string with `IncidentFilterForm`, calls one read of
`reads.incident_queue` (or `reads.exports`), which applies the analyst's scope, and
renders. The page and its live updates print the same rows (`list_html`). An incident
merged into another is not in the queue; its own page still opens and says where it went.
One incident's page carries its write-back form (`incident_writeback.py`).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from partner_portal.alerts.console_filters import BAD_PAGE_LINK
from partner_portal.alerts.incident_filters import IncidentFilterForm, IncidentLiveForm
from partner_portal.alerts.incident_forms import IncidentBulkForm
from partner_portal.alerts.list_html import incident_rows_html
from partner_portal.alerts.queue_links import page_links, sort_links
from partner_portal.alerts.reads import exports
from partner_portal.alerts.reads import incident_queue as queue_reads
from partner_portal.alerts.reads import incidents as incident_reads
from partner_portal.alerts.reads.keyset import InvalidCursor
from partner_portal.alerts.views.alert_list import POLL_SECONDS
from partner_portal.alerts.views.incident_writeback import render_incident
from partner_portal.core.access import Role, require_roles
from partner_portal.core.exports import export_response

analysts_only = require_roles(Role.ANALYST)


def _filter_form(request: HttpRequest) -> IncidentFilterForm:
    return IncidentFilterForm(request.GET, user=request.user)


def _bad(form: IncidentFilterForm | IncidentLiveForm) -> JsonResponse:
    return JsonResponse({"errors": form.errors.get_json_data()}, status=400)


@analysts_only
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    page = None
    if form.is_valid():
        try:
            page = queue_reads.incident_page(
                user=request.user,
                query=form.to_query(),
                after=form.cleaned_data.get("after") or "",
                before=form.cleaned_data.get("before") or "",
            )
        except InvalidCursor:
            form.add_error(None, BAD_PAGE_LINK)
    list_url = reverse("alerts:incidents")
    links = None
    if page is not None:
        links = page_links(
            form,
            list_url=list_url,
            shown=len(page.incidents),
            size=queue_reads.PAGE_SIZE,
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
        "rows_html": incident_rows_html(page.incidents, list_url=list_url) if page else "",
        "filter_qs": form.filter_querystring(),
        "poll_seconds": POLL_SECONDS,
        # The selection's change (alerts:incident_bulk), its fields named bulk_*.
        "bulk_form": IncidentBulkForm(auto_id="bulk_%s"),
    }
    return render(request, "alerts/incidents.html", context, status=200 if page else 400)


@analysts_only
@require_GET
@never_cache
def incident_counts(request: HttpRequest) -> HttpResponse:
    """Counts by severity and status for the queue's filter, each linking to its rows.

    "By status" counts the statuses the filter shows (the open ones by default), so they
    add up to the total; the statuses it leaves out follow as "Not shown", each with how
    many its link would show."""
    form = _filter_form(request)
    if not form.is_valid():
        return _bad(form)
    query = form.to_query()
    counts = queue_reads.incident_counts(user=request.user, query=query)
    list_url = reverse("alerts:incidents")

    def linked(name: str, pairs: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
        return [(v, n, f"{list_url}?{form.narrowed_querystring(name, v)}") for v, n in pairs]

    statuses = linked("status", counts.by_status)
    shown = [s for s in statuses if not query.statuses or s[0] in query.statuses]
    context = {
        "total": counts.total,
        "by_severity": linked("severity", counts.by_severity),
        "by_status": shown,
        "not_shown": [s for s in statuses if s not in shown],
    }
    return render(request, "alerts/incident_counts.html", context)


@analysts_only
@require_GET
@never_cache
def incident_live(request: HttpRequest) -> HttpResponse:
    """Incidents written since the page's mark: those that match, and those gone."""
    form = _filter_form(request)
    live = IncidentLiveForm(request.GET)
    if not form.is_valid():
        return _bad(form)
    if not live.is_valid():
        return _bad(live)
    changes = queue_reads.incidents_changed(
        user=request.user, query=form.to_query(), mark=live.cleaned_data["mark"]
    )
    rows = incident_rows_html(changes.incidents, list_url=reverse("alerts:incidents"), fresh=True)
    return JsonResponse(
        {
            "count": changes.count,
            "mark": changes.mark,
            "shown": len(changes.incidents),
            "gone": changes.gone,
            "rows_html": rows,
        }
    )


def _export(request: HttpRequest, kind: str) -> HttpResponse:
    form = _filter_form(request)
    if not form.is_valid():
        return _bad(form)
    rows = exports.incident_export_rows(
        user=request.user,
        query=form.to_query(),
        page_url=request.build_absolute_uri(reverse("alerts:incidents")),
    )
    return export_response(
        rows, names=exports.INCIDENT_EXPORT_NAMES, kind=kind, basename="incidents"
    )


@analysts_only
@require_GET
def incident_export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, "csv")


@analysts_only
@require_GET
def incident_export_json(request: HttpRequest) -> HttpResponse:
    return _export(request, "json")


@analysts_only
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = incident_reads.incident_detail(user=request.user, pk=pk)
    if detail is None:
        raise Http404("No such incident.")
    target = detail.incident.redirect_incident_id
    if target is not None:
        if detail.merged_into is None:
            where = format_html("incident {}", target)
        else:
            url = reverse("alerts:incident", args=[detail.merged_into])
            where = format_html('<a href="{}">incident {}</a>', url, target)
        messages.info(
            request,
            format_html("Merged into {} in Defender; it has left the incident queue.", where),
        )
    return render_incident(request, detail)
