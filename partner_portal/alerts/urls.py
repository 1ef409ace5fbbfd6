"""URLs of the analysts' console (namespace "alerts")."""

from django.urls import URLPattern, URLResolver, include, path

app_name = "alerts"

urlpatterns: list[URLPattern | URLResolver] = [
    # The consolidated alert list, its counts, charts, live updates and exports.
    path("", include("partner_portal.alerts.urls_list")),
    # One alert, write-back, incidents, tenant health and analyst scopes.
    path("", include("partner_portal.alerts.urls_detail")),
    path("", include("partner_portal.alerts.urls_sync")),
]
