"""The overview: what needs an analyst's attention now, and its card on the home page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from partner_portal.alerts.overview_panels import render_overview_panels
from partner_portal.alerts.reads import overview as overview_reads
from partner_portal.core.access import AuthenticatedHttpRequest, Role, has_role, require_roles
from partner_portal.core.panels import Panel
from partner_portal.core.visits import visit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

PAGE = "alerts:overview"
HOME_PANEL = "alerts.overview"


@require_roles(Role.ANALYST)
@require_GET
@never_cache
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    now = timezone.now()
    last_visit_at = visit_record(user=request.user, page=PAGE, now=now)
    data = overview_reads.overview(user=request.user, last_visit_at=last_visit_at, now=now)
    return render(
        request,
        "alerts/overview.html",
        {"o": data, "panels": render_overview_panels(request=request)},
    )


def home_panel(user: User | AnonymousUser) -> Panel | None:
    """The home page's card for analysts: the way to the overview."""
    if not has_role(user, Role.ANALYST):
        return None
    return Panel("alerts/_home_overview.html")
