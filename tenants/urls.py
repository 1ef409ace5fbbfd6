"""Customer onboarding pages (staff) and the consent pages a customer's admin opens."""

from django.urls import path

from tenants import people_views, staff_signin_views, views

app_name = "tenants"

urlpatterns = [
    path("accounts/microsoft/", staff_signin_views.staff_signin_start, name="staff_signin"),
    path(
        "accounts/microsoft/callback/",
        staff_signin_views.staff_signin_callback,
        name="staff_signin_callback",
    ),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_register, name="customer_register"),
    path(
        "customers/reconsent-email/",
        views.customers_reconsent_email,
        name="customers_reconsent_email",
    ),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/new-link/", views.customer_new_link, name="customer_new_link"),
    path("customers/<int:pk>/email-link/", views.customer_email_link, name="customer_email_link"),
    path("customers/<int:pk>/verify/", views.customer_verify, name="customer_verify"),
    path("customers/<int:pk>/offboard/", views.customer_offboard, name="customer_offboard"),
    path("customers/<int:pk>/delete/", views.customer_delete, name="customer_delete"),
    path("audit/", views.audit_log, name="audit_log"),
    path("people/", people_views.people_list, name="people"),
    path("people/new/", people_views.person_create, name="person_create"),
    path("people/<int:pk>/", people_views.person_detail, name="person_detail"),
    path("people/<int:pk>/deactivate/", people_views.person_deactivate, name="person_deactivate"),
    path("people/<int:pk>/reactivate/", people_views.person_reactivate, name="person_reactivate"),
    path(
        "people/<int:pk>/password-link/",
        people_views.person_password_link,
        name="person_password_link",
    ),
    path(
        "people/<int:pk>/two-factor-reset/",
        people_views.person_second_factor_reset,
        name="person_second_factor_reset",
    ),
    path("people/<int:pk>/scopes/", people_views.person_scope_grant, name="person_scope_grant"),
    path(
        "people/<int:pk>/scopes/<int:scope_pk>/revoke/",
        people_views.person_scope_revoke,
        name="person_scope_revoke",
    ),
    path("consent/callback/", views.consent_callback, name="consent_callback"),
    path("consent/<str:public_id>/", views.consent_landing, name="consent_landing"),
    path("consent/<str:public_id>/start/", views.consent_start, name="consent_start"),
]
