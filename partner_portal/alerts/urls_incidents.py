"""The incident queue (list, counts, live updates, exports) and one incident."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.alerts.views import incidents as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/counts/", views.incident_counts, name="incident_counts"),
    path("incidents/live/", views.incident_live, name="incident_live"),
    path("incidents/export.csv", views.incident_export_csv, name="incident_export_csv"),
    path("incidents/export.json", views.incident_export_json, name="incident_export_json"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
]
