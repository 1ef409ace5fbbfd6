"""The hunting pages: write a query, send it to your customers, watch answers arrive."""

from __future__ import annotations

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.bounds import parse_whole_number
from partner_portal.core.exports import export_response
from partner_portal.core.http import client_ip
from partner_portal.hunting import reads, services
from partner_portal.hunting.forms import HuntForm, SaveQueryForm
from partner_portal.hunting.models import Hunt
from tenants.scoping import visible_customers

analysts = require_roles(Role.ANALYST)


def _form(request: HttpRequest, data: QueryDict | None = None) -> HuntForm:
    customers = visible_customers(user=request.user).exclude(tenant_id__isnull=True)
    return HuntForm(data, customers=customers.exclude(tenant_id=""))


def _page(request: HttpRequest, form: HuntForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "saved": reads.saved_queries(user=request.user),
        "hunts": reads.recent_hunts(user=request.user),
    }
    return render(request, "hunting/hunts.html", context, status=status)


@analysts
@require_GET
def hunts(request: HttpRequest) -> HttpResponse:
    initial: dict[str, object] = {}
    saved_pk = parse_whole_number(request.GET.get("saved", ""))
    saved = reads.saved_query(user=request.user, pk=saved_pk) if saved_pk else None
    if saved is not None:
        initial = {"query": saved.query, "timespan": saved.timespan}
    form = _form(request)
    form.initial.update(initial)
    return _page(request, form)


@analysts
@require_POST
def hunt_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = _form(request, request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    chosen = form.cleaned_data["customer"]
    try:
        hunt = services.start_hunt(
            user=request.user,
            query=form.cleaned_data["query"],
            timespan=form.cleaned_data["timespan"],
            customer_ids=[c.pk for c in chosen] if chosen else None,
            ip_address=client_ip(request),
        )
    except services.HuntRefused as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    return redirect("hunting:hunt", pk=hunt.pk)


def _hunt(request: HttpRequest, pk: int) -> Hunt:
    hunt = reads.hunt_for(user=request.user, pk=pk)
    if hunt is None:
        raise Http404("No such hunt of yours.")
    return hunt


@analysts
@require_GET
def hunt(request: HttpRequest, pk: int) -> HttpResponse:
    found = _hunt(request, pk)
    targets = list(reads.targets(user=request.user, hunt=found))
    context = {
        "hunt": found,
        "total": len(targets),
        "save_form": SaveQueryForm(initial={"query": found.query, "timespan": found.timespan}),
    }
    return render(request, "hunting/hunt.html", context)


@analysts
@require_GET
def hunt_results(request: HttpRequest, pk: int) -> JsonResponse:
    found = _hunt(request, pk)
    after = parse_whole_number(request.GET.get("after", "")) or 0
    targets = reads.targets(user=request.user, hunt=found)
    finished = reads.finished_after(user=request.user, hunt=found, after=after)
    total = targets.count()
    done = targets.filter(finished_seq__isnull=False).count()
    return JsonResponse(
        {"finished": finished, "done": done, "total": total, "complete": done >= total}
    )


@analysts
@require_GET
def hunt_export(request: HttpRequest, pk: int) -> HttpResponse:
    found = _hunt(request, pk)
    header, rows = reads.export_rows(user=request.user, hunt=found)
    return export_response(rows, names=header, kind="csv", basename=f"hunt-{found.pk}")


@analysts
@require_POST
def query_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SaveQueryForm(request.POST)
    if form.is_valid():
        try:
            saved = services.save_query(user=request.user, **form.cleaned_data)
        except services.HuntRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Saved the query “{saved.name}”.")
    else:
        messages.error(request, "A saved query needs a name, a query and a time span.")
    return redirect("hunting:hunts")


@analysts
@require_POST
def query_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    if not services.delete_query(user=request.user, pk=pk):
        raise Http404("No such saved query of yours.")
    messages.success(request, "Deleted the saved query.")
    return redirect("hunting:hunts")
