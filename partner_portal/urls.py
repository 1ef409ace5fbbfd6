"""The portal's URL map. Every view named here declares who may open it (core.access)."""

from django.contrib import admin
from django.urls import include, path

from partner_portal.core import second_factor_views
from partner_portal.core import views as core_views

admin.site.site_header = "Partner Portal administration"
admin.site.site_title = "Partner Portal"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", core_views.PortalLoginView.as_view(), name="login"),
    path("accounts/logout/", core_views.PortalLogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        core_views.PortalPasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        core_views.PortalPasswordSetView.as_view(),
        name="password_set",
    ),
    path("accounts/settings/", core_views.preferences, name="preferences"),
    path("accounts/two-factor/", second_factor_views.second_factor_setup, name="second_factor"),
    path(
        "accounts/two-factor/verify/",
        second_factor_views.second_factor_verify,
        name="second_factor_verify",
    ),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls", namespace="tenants")),
    path("", include("partner_portal.alerts.urls", namespace="alerts")),
    path("", include("partner_portal.correlation.urls", namespace="correlation")),
    path("", include("partner_portal.hunting.urls", namespace="hunting")),
    path("", include("partner_portal.notifications.urls", namespace="notifications")),
]

handler400 = "partner_portal.core.views.bad_request"
handler403 = "partner_portal.core.views.permission_denied"
handler404 = "partner_portal.core.views.page_not_found"
handler500 = "partner_portal.core.views.server_error"
