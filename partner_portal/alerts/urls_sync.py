"""The customer page's live sync progress (JSON) and its history import."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.alerts.views.sync_progress import import_history, sync_progress

urlpatterns: list[URLPattern | URLResolver] = [
    path("sync/customers/<int:pk>/progress/", sync_progress, name="sync_progress"),
    path("sync/customers/<int:pk>/import-history/", import_history, name="import_history"),
]
