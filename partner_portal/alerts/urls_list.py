"""Alert list pages (list, counts, charts, live updates, exports, saved views)."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.alerts.views import alert_list as views
from partner_portal.alerts.views import saved_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/", views.alert_list, name="list"),
    path("alerts/counts/", views.alert_counts, name="counts"),
    path("alerts/live/", views.alert_live, name="live"),
    path("alerts/export.csv", views.alert_export_csv, name="export_csv"),
    path("alerts/export.json", views.alert_export_json, name="export_json"),
    path("alerts/charts/", views.alert_charts, name="charts"),
    path("alerts/charts/data/", views.alert_chart_data, name="chart_data"),
    path("alerts/views/", saved_views.saved_view_create, name="saved_view_create"),
    path("alerts/views/<int:pk>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
]
