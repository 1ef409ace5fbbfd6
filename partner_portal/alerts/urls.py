"""URLs of the analysts' console (namespace "alerts")."""

from django.urls import URLPattern, URLResolver, include, path

app_name = "alerts"

urlpatterns: list[URLPattern | URLResolver] = [
    # The consolidated alert list, its counts, charts, live updates and exports.
    path("", include("partner_portal.alerts.urls_list")),
    # One alert, write-back, tenant health and analyst scopes.
    path("", include("partner_portal.alerts.urls_detail")),
    # The incident queue, its counts, live updates and exports, and one incident.
    path("", include("partner_portal.alerts.urls_incidents")),
    path("", include("partner_portal.alerts.urls_sync")),
]
