"""Alert detail, write-back, incident write-back, tenant health, the overview and analyst
scopes."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.alerts.views import alert_detail, health, incident_writeback, overview, scopes

urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/<int:pk>/", alert_detail.alert_detail, name="detail"),
    path("alerts/<int:pk>/update/", alert_detail.alert_update, name="update"),
    path("alerts/<int:pk>/evidence/", alert_detail.alert_evidence_state, name="evidence_state"),
    path("alerts/bulk/", alert_detail.alert_bulk, name="bulk"),
    path("incidents/<int:pk>/update/", incident_writeback.incident_update, name="incident_update"),
    path("incidents/bulk/", incident_writeback.incident_bulk, name="incident_bulk"),
    path("health/", health.tenant_health, name="health"),
    path("overview/", overview.overview, name="overview"),
    path("scopes/", scopes.scope_list, name="scopes"),
    path("scopes/<int:pk>/revoke/", scopes.scope_revoke, name="scope_revoke"),
]
