"""The customer page's live sync progress (JSON)."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.alerts.views.sync_progress import sync_progress

urlpatterns: list[URLPattern | URLResolver] = [
    path("sync/customers/<int:pk>/progress/", sync_progress, name="sync_progress"),
]
